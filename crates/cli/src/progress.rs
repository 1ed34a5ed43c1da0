//! Progress of a multi-step command on stderr (SPEC §9: long operations
//! show progress): numbered steps with the time each took,
//!
//! ```text
//! [2/5] starting the server (SQLite, local workflows, git state provider) … 0.3 s
//! ```
//!
//! On a terminal a step's line is written when it starts and completed
//! with its time when it ends, so a slow step is visible while it runs.
//! Anywhere else (CI logs, pipes) every line is whole: the step when it
//! starts, and `[2/5] done in 0.3 s` when it ends, so interleaved log lines
//! never split a step's line.

use std::io::{IsTerminal, Write};
use std::time::Instant;

pub struct Progress {
    total: usize,
    done: usize,
    /// The step running now and when it started.
    current: Option<Instant>,
    terminal: bool,
    out: Box<dyn Write>,
}

impl Progress {
    /// Progress of `total` steps on stderr.
    pub fn new(total: usize) -> Progress {
        let err = std::io::stderr();
        Progress {
            total,
            done: 0,
            current: None,
            terminal: err.is_terminal(),
            out: Box::new(err),
        }
    }

    /// Ends the running step (if any) and starts the next one.
    pub fn step(&mut self, what: &str) {
        self.finish();
        self.done += 1;
        // More steps than announced (a plan that changed) still count up.
        self.total = self.total.max(self.done);
        let line = format!("[{}/{}] {what} …", self.done, self.total);
        let _ = if self.terminal {
            write!(self.out, "{line} ")
        } else {
            writeln!(self.out, "{line}")
        };
        let _ = self.out.flush();
        self.current = Some(Instant::now());
    }

    /// Ends the running step with its elapsed time.
    pub fn finish(&mut self) {
        let Some(started) = self.current.take() else {
            return;
        };
        let took = format!("{:.1} s", started.elapsed().as_secs_f64());
        let _ = if self.terminal {
            writeln!(self.out, "{took}")
        } else {
            writeln!(self.out, "[{}/{}] done in {took}", self.done, self.total)
        };
        let _ = self.out.flush();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn progress(total: usize, terminal: bool) -> (Progress, Captured) {
        let c = Captured::default();
        let p = Progress {
            total,
            done: 0,
            current: None,
            terminal,
            out: Box::new(c.clone()),
        };
        (p, c)
    }

    /// Lines with every `<digits>.<digit> s` replaced by `T s`.
    fn text(c: &Captured) -> String {
        let s = String::from_utf8(c.0.lock().unwrap().clone()).unwrap();
        let mut out = String::new();
        let mut chars = s.chars().peekable();
        while let Some(ch) = chars.next() {
            if ch.is_ascii_digit() {
                let mut num = ch.to_string();
                while let Some(&n) = chars.peek() {
                    if n.is_ascii_digit() || n == '.' {
                        num.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                let rest: String = chars.clone().take(2).collect();
                if num.contains('.') && rest == " s" {
                    out.push('T');
                } else {
                    out.push_str(&num);
                }
            } else {
                out.push(ch);
            }
        }
        out
    }

    #[test]
    fn plain_lines_name_each_step_and_its_time() {
        let (mut p, c) = progress(2, false);
        p.step("creating the repositories");
        p.step("starting the server");
        drop(p);
        assert_eq!(
            text(&c),
            "[1/2] creating the repositories …\n[1/2] done in T s\n\
             [2/2] starting the server …\n[2/2] done in T s\n"
        );
    }

    #[test]
    fn on_a_terminal_the_time_completes_the_steps_line() {
        let (mut p, c) = progress(3, true);
        p.step("one");
        p.step("two");
        p.finish();
        p.finish(); // nothing running: nothing written
        p.step("three");
        p.step("an extra step");
        drop(p);
        assert_eq!(
            text(&c),
            "[1/3] one … T s\n[2/3] two … T s\n[3/3] three … T s\n[4/4] an extra step … T s\n"
        );
    }
}
