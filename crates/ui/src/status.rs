//! How a status is shown: a CSS class for the colour, a glyph and the
//! exact SPEC §4.3 word. Every status is rendered with all three, so
//! nothing is told by colour alone (colour-blind readers, screen readers,
//! print).

use ferry_release::{EnvironmentStatus, ReleaseStatus, StepStatus};

/// A status ready to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown {
    /// The exact status string of the API (`SUCCESSFUL`, `FAILED`, …).
    pub text: &'static str,
    /// A glyph with a distinct shape per outcome.
    pub icon: &'static str,
    /// `st-ok`, `st-fail`, … (colour lives in the stylesheet).
    pub class: &'static str,
}

const OK: (&str, &str) = ("\u{2714}", "st-ok");
const FAIL: (&str, &str) = ("\u{2716}", "st-fail");
const RUN: (&str, &str) = ("\u{25B6}", "st-run");
const WAIT: (&str, &str) = ("\u{23F8}", "st-wait");
const PEND: (&str, &str) = ("\u{25CB}", "st-pend");
const STOP: (&str, &str) = ("\u{25A0}", "st-stop");
const SKIP: (&str, &str) = ("\u{2192}", "st-pend");

fn shown(text: &'static str, (icon, class): (&'static str, &'static str)) -> Shown {
    Shown { text, icon, class }
}

pub fn release(s: ReleaseStatus) -> Shown {
    let look = match s {
        ReleaseStatus::Queued => PEND,
        ReleaseStatus::Running => RUN,
        ReleaseStatus::Suspended => WAIT,
        ReleaseStatus::Succeeded => OK,
        ReleaseStatus::Failed => FAIL,
        ReleaseStatus::Terminating | ReleaseStatus::Terminated => STOP,
    };
    shown(s.as_str(), look)
}

pub fn environment(s: EnvironmentStatus) -> Shown {
    let look = match s {
        EnvironmentStatus::Pending => PEND,
        EnvironmentStatus::Running => RUN,
        EnvironmentStatus::Suspended => WAIT,
        EnvironmentStatus::Successful => OK,
        EnvironmentStatus::Failed => FAIL,
        EnvironmentStatus::Terminated => STOP,
    };
    shown(s.as_str(), look)
}

pub fn step(s: StepStatus) -> Shown {
    let look = match s {
        StepStatus::Pending => PEND,
        StepStatus::Running => RUN,
        StepStatus::Success => OK,
        StepStatus::Failed | StepStatus::Error => FAIL,
        StepStatus::Terminated => STOP,
        StepStatus::Skipped => SKIP,
    };
    shown(s.as_str(), look)
}

/// A status string from elsewhere (events carry plain strings).
pub fn any(text: &str) -> Option<Shown> {
    if let Some(s) = ReleaseStatus::parse(text) {
        return Some(release(s));
    }
    let env = [
        EnvironmentStatus::Pending,
        EnvironmentStatus::Running,
        EnvironmentStatus::Suspended,
        EnvironmentStatus::Successful,
        EnvironmentStatus::Failed,
        EnvironmentStatus::Terminated,
    ];
    if let Some(s) = env.into_iter().find(|s| s.as_str() == text) {
        return Some(environment(s));
    }
    let steps = [StepStatus::Success, StepStatus::Error, StepStatus::Skipped];
    steps.into_iter().find(|s| s.as_str() == text).map(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_differ_in_glyph_not_only_in_colour() {
        let outcomes = [
            environment(EnvironmentStatus::Pending),
            environment(EnvironmentStatus::Running),
            environment(EnvironmentStatus::Suspended),
            environment(EnvironmentStatus::Successful),
            environment(EnvironmentStatus::Failed),
            environment(EnvironmentStatus::Terminated),
        ];
        for (i, a) in outcomes.iter().enumerate() {
            for b in &outcomes[i + 1..] {
                assert_ne!(a.icon, b.icon, "{} and {} share a glyph", a.text, b.text);
                assert_ne!(a.text, b.text);
            }
        }
        assert_eq!(any("SUCCESS").map(|s| s.class), Some("st-ok"));
        assert_eq!(any("nonsense"), None);
    }
}
