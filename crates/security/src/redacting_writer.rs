//! A writer that masks every registered secret (see
//! [`crate::secrets::register_secret`]) and URL credentials in what passes
//! through it, line by line. Log output goes through it — e.g.
//! `tracing_subscriber::fmt().with_writer(|| RedactingWriter::new(std::io::stderr()))`
//! — so a secret that reaches a log message (a Git error quoting a URL, a
//! workflow's output) is masked before it is written anywhere.

use std::io::{self, Write};

use crate::secrets::redact;

/// Buffers up to a newline, then writes the redacted line; the rest is
/// written on flush and drop. Buffering per line keeps a secret that is
/// split across two `write` calls whole for the redactor.
pub struct RedactingWriter<W: Write> {
    inner: W,
    pending: Vec<u8>,
}

impl<W: Write> RedactingWriter<W> {
    pub fn new(inner: W) -> RedactingWriter<W> {
        RedactingWriter {
            inner,
            pending: Vec::new(),
        }
    }

    fn emit(&mut self, upto: usize) -> io::Result<()> {
        let line: Vec<u8> = self.pending.drain(..upto).collect();
        let text = String::from_utf8_lossy(&line);
        self.inner.write_all(redact(&text).as_bytes())
    }
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(nl) = self.pending.iter().position(|b| *b == b'\n') {
            self.emit(nl + 1)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let n = self.pending.len();
        if n > 0 {
            self.emit(n)?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_split_across_writes_are_masked() {
        crate::secrets::register_secret("wr1ter-s3cret-value");
        let mut out = Vec::new();
        {
            let mut w = RedactingWriter::new(&mut out);
            w.write_all(b"push failed: token wr1ter-s3").unwrap();
            w.write_all(b"cret-value rejected\nclone https://bob:pw@git.example/x.git")
                .unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "push failed: token *** rejected\nclone https://bob:***@git.example/x.git"
        );
    }
}
