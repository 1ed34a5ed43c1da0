//! How a status is shown: a CSS class for the colour, an icon and the
//! exact SPEC §4.3 word. Every status is rendered with all three, so
//! nothing is told by colour alone (colour-blind readers, screen readers,
//! print).
//!
//! Icons are inline SVG: `<use href="#i-…">` of the symbols in
//! [`SPRITE`], which every page carries once. A font glyph (the first
//! version used ✔ ✖ ⏸) renders as an empty box where the reader's fonts
//! lack it; a path draws the same everywhere.

use ferry_release::{EnvironmentStatus, ReleaseStatus, StepStatus};

/// A status ready to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown {
    /// The exact status string of the API (`SUCCESSFUL`, `FAILED`, …).
    pub text: &'static str,
    /// The id of its icon's `<symbol>` in [`SPRITE`] (a distinct shape
    /// per outcome).
    pub icon: &'static str,
    /// `st-ok`, `st-fail`, … (colour lives in the stylesheet).
    pub class: &'static str,
}

/// The icons, drawn on a 16 × 16 grid in `currentColor` (so each takes
/// its status colour), defined once per page and referenced by id.
pub const SPRITE: &str = concat!(
    r#"<svg class="sprite" aria-hidden="true" xmlns="http://www.w3.org/2000/svg"><defs>"#,
    r#"<symbol id="i-ok" viewBox="0 0 16 16"><path d="M3 8.5l3.2 3.2L13 4.6" fill="none" stroke="currentColor" stroke-width="2.4" stroke-linecap="round" stroke-linejoin="round"/></symbol>"#,
    r#"<symbol id="i-fail" viewBox="0 0 16 16"><path d="M4 4l8 8M12 4l-8 8" fill="none" stroke="currentColor" stroke-width="2.4" stroke-linecap="round"/></symbol>"#,
    r#"<symbol id="i-run" viewBox="0 0 16 16"><path d="M5 3.2v9.6L13 8z" fill="currentColor"/></symbol>"#,
    r#"<symbol id="i-wait" viewBox="0 0 16 16"><path d="M5.5 3.5v9M10.5 3.5v9" fill="none" stroke="currentColor" stroke-width="2.6" stroke-linecap="round"/></symbol>"#,
    r#"<symbol id="i-pend" viewBox="0 0 16 16"><circle cx="8" cy="8" r="4.8" fill="none" stroke="currentColor" stroke-width="2"/></symbol>"#,
    r#"<symbol id="i-stop" viewBox="0 0 16 16"><rect x="4" y="4" width="8" height="8" rx="1" fill="currentColor"/></symbol>"#,
    r#"<symbol id="i-skip" viewBox="0 0 16 16"><path d="M3 8h9M8.8 4.5L12.3 8l-3.5 3.5" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/></symbol>"#,
    r#"<symbol id="i-drift" viewBox="0 0 16 16"><path d="M8 2.5L14 13H2z" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round"/><path d="M8 6.5v3M8 11.3v.1" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/></symbol>"#,
    r#"<symbol id="i-back" viewBox="0 0 16 16"><path d="M6 3.5L2.5 7 6 10.5M3 7h6.5a4 4 0 010 8H7" fill="none" stroke="currentColor" stroke-width="1.9" stroke-linecap="round" stroke-linejoin="round"/></symbol>"#,
    r#"<symbol id="i-out" viewBox="0 0 16 16"><path d="M9 3h4v4M13 3L7.5 8.5M11 9.5V13H3V5h3.5" fill="none" stroke="currentColor" stroke-width="1.7" stroke-linecap="round" stroke-linejoin="round"/></symbol>"#,
    "</defs></svg>"
);

const OK: (&str, &str) = ("i-ok", "st-ok");
const FAIL: (&str, &str) = ("i-fail", "st-fail");
const RUN: (&str, &str) = ("i-run", "st-run");
const WAIT: (&str, &str) = ("i-wait", "st-wait");
const PEND: (&str, &str) = ("i-pend", "st-pend");
const STOP: (&str, &str) = ("i-stop", "st-stop");
const SKIP: (&str, &str) = ("i-skip", "st-pend");

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
        // Passed over for a newer release (issue 20): the skip arrow.
        ReleaseStatus::Superseded => SKIP,
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
        StepStatus::Suspended => WAIT,
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
    fn outcomes_differ_in_icon_not_only_in_colour() {
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
                assert_ne!(a.icon, b.icon, "{} and {} share an icon", a.text, b.text);
                assert_ne!(a.text, b.text);
            }
        }
        assert_eq!(any("SUCCESS").map(|s| s.class), Some("st-ok"));
        assert_eq!(any("nonsense"), None);
    }

    #[test]
    fn every_icon_is_a_symbol_of_the_sprite_and_no_font_glyph() {
        let all = [
            step(StepStatus::Pending),
            step(StepStatus::Running),
            step(StepStatus::Success),
            step(StepStatus::Failed),
            step(StepStatus::Terminated),
            step(StepStatus::Skipped),
            environment(EnvironmentStatus::Suspended),
        ];
        for s in all {
            assert!(
                SPRITE.contains(&format!("<symbol id=\"{}\"", s.icon)),
                "{}",
                s.icon
            );
        }
        assert!(SPRITE.is_ascii(), "paths, not glyphs");
    }
}
