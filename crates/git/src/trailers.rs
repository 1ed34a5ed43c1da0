//! Commit messages with trailers, and the promotion message format.
//!
//! Why trailers: they make every promotion commit self-describing
//! (`Ferry-Release`, `Ferry-Environment`, `Ferry-Application`), readable by
//! people and by `git interpret-trailers`, and they are how a retried
//! promotion recognises the commit it already pushed (idempotency).

use crate::error::{Error, Result};

pub const RELEASE_TRAILER: &str = "Ferry-Release";
pub const ENVIRONMENT_TRAILER: &str = "Ferry-Environment";
pub const APPLICATION_TRAILER: &str = "Ferry-Application";

/// One `Key: value` trailer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trailer {
    pub key: String,
    pub value: String,
}

impl Trailer {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Trailer {
            key: key.into(),
            value: value.into(),
        }
    }

    fn validate(&self) -> Result<()> {
        let invalid = |reason| Error::InvalidTrailer {
            key: self.key.clone(),
            reason,
        };
        if self.key.is_empty()
            || !self
                .key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(invalid("keys are letters, digits and `-`"));
        }
        if self.value.trim().is_empty() {
            return Err(invalid("empty value"));
        }
        if self.value.contains(['\n', '\r']) {
            return Err(invalid("values are one line"));
        }
        Ok(())
    }
}

/// A commit message: subject, optional body, trailers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitMessage {
    pub subject: String,
    pub body: Option<String>,
    pub trailers: Vec<Trailer>,
}

impl CommitMessage {
    /// The message text git stores: `subject\n\nbody\n\nKey: value\n…`.
    /// Newlines in the subject become spaces (a subject is one line).
    pub fn render(&self) -> Result<String> {
        for t in &self.trailers {
            t.validate()?;
        }
        let mut out = self.subject.replace(['\r', '\n'], " ").trim().to_string();
        out.push('\n');
        if let Some(body) = self
            .body
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty())
        {
            out.push('\n');
            out.push_str(body);
            out.push('\n');
        }
        if !self.trailers.is_empty() {
            out.push('\n');
            for t in &self.trailers {
                out.push_str(&t.key);
                out.push_str(": ");
                out.push_str(t.value.trim());
                out.push('\n');
            }
        }
        Ok(out)
    }
}

/// The promotion commit message of SPEC §10:
/// `promote <product> <version> to <environment> (<application>)` with the
/// three ferry trailers.
pub fn promotion_message(
    product: &str,
    version: &str,
    environment: &str,
    application: &str,
    release_id: &str,
) -> CommitMessage {
    CommitMessage {
        subject: format!("promote {product} {version} to {environment} ({application})"),
        body: None,
        trailers: promotion_trailers(release_id, environment, application),
    }
}

/// The trailers that identify one promotion (release × environment × application).
pub fn promotion_trailers(release_id: &str, environment: &str, application: &str) -> Vec<Trailer> {
    vec![
        Trailer::new(RELEASE_TRAILER, release_id),
        Trailer::new(ENVIRONMENT_TRAILER, environment),
        Trailer::new(APPLICATION_TRAILER, application),
    ]
}

/// The trailers of a message, parsed the way `git interpret-trailers` does
/// (libgit2's implementation of git's rules).
pub fn parse_trailers(message: &str) -> Vec<Trailer> {
    match git2::message_trailers_strs(message) {
        Ok(trailers) => trailers.iter().map(|(k, v)| Trailer::new(k, v)).collect(),
        Err(_) => Vec::new(),
    }
}

/// Whether `message` carries every trailer of `wanted` (keys compared
/// case-insensitively as git does, values exactly).
pub fn has_trailers(message: &str, wanted: &[Trailer]) -> bool {
    let present = parse_trailers(message);
    wanted.iter().all(|w| {
        present
            .iter()
            .any(|p| p.key.eq_ignore_ascii_case(&w.key) && p.value == w.value.trim())
    })
}

/// One promotion a commit message names: release, environment and
/// application of a `Ferry-Release` / `Ferry-Environment` /
/// `Ferry-Application` group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromotionClaim {
    pub release: String,
    pub environment: String,
    pub application: String,
}

/// Every promotion `message` names, in order. Not only its trailers: a
/// squash merge of a pull request lists the squashed commits' messages in
/// its body, each with its three lines, so every complete group counts.
pub fn promotion_claims(message: &str) -> Vec<PromotionClaim> {
    let mut out = Vec::new();
    let (mut release, mut environment) = (None::<String>, None::<String>);
    for line in message.lines() {
        let Some((key, value)) = line.trim().split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim().to_owned());
        if value.is_empty() {
            continue;
        }
        if key.eq_ignore_ascii_case(RELEASE_TRAILER) {
            release = Some(value);
            environment = None;
        } else if key.eq_ignore_ascii_case(ENVIRONMENT_TRAILER) {
            environment = Some(value);
        } else if key.eq_ignore_ascii_case(APPLICATION_TRAILER)
            && let (Some(r), Some(e)) = (&release, &environment)
        {
            out.push(PromotionClaim {
                release: r.clone(),
                environment: e.clone(),
                application: value,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promotion_message_renders_and_parses_back() {
        let msg = promotion_message("trio", "54.1", "qa", "trioapp-qa", "01J0RELEASE")
            .render()
            .unwrap();
        assert_eq!(
            msg,
            "promote trio 54.1 to qa (trioapp-qa)\n\n\
             Ferry-Release: 01J0RELEASE\nFerry-Environment: qa\nFerry-Application: trioapp-qa\n"
        );
        assert_eq!(
            parse_trailers(&msg),
            promotion_trailers("01J0RELEASE", "qa", "trioapp-qa")
        );
        assert!(has_trailers(
            &msg,
            &promotion_trailers("01J0RELEASE", "qa", "trioapp-qa")
        ));
        assert!(!has_trailers(
            &msg,
            &promotion_trailers("01J0RELEASE", "prod", "trioapp-qa")
        ));
    }

    #[test]
    fn body_and_foreign_trailers() {
        let msg = CommitMessage {
            subject: "fix: x\ny".into(),
            body: Some("Longer text.\n\nSecond paragraph.".into()),
            trailers: vec![Trailer::new("Signed-off-by", "A <a@x>")],
        }
        .render()
        .unwrap();
        assert_eq!(
            msg,
            "fix: x y\n\nLonger text.\n\nSecond paragraph.\n\nSigned-off-by: A <a@x>\n"
        );
        assert_eq!(
            parse_trailers(&msg),
            vec![Trailer::new("Signed-off-by", "A <a@x>")]
        );
    }

    #[test]
    fn a_message_without_trailers_has_none() {
        assert!(parse_trailers("just a subject\n").is_empty());
        assert!(
            parse_trailers("subject\n\nbody: text that is a paragraph\nnot a trailer at all\n")
                .is_empty()
        );
        assert!(!has_trailers(
            "subject\n",
            &promotion_trailers("r", "e", "a")
        ));
    }

    #[test]
    fn promotion_claims_of_a_commit_and_of_a_squash_merge() {
        let one = promotion_message("shop", "1.2", "qa", "web-qa", "01A")
            .render()
            .unwrap();
        assert_eq!(
            promotion_claims(&one),
            vec![PromotionClaim {
                release: "01A".into(),
                environment: "qa".into(),
                application: "web-qa".into()
            }]
        );
        let squash = "ferry: promote shop 1.2 to prod (#12)\n\n\
            * promote shop 1.2 to prod (api-prod)\n\nFerry-Release: 01B\nFerry-Environment: prod\nFerry-Application: api-prod\n\n\
            * promote shop 1.2 to prod (web-prod)\n\nFerry-Release: 01B\nFerry-Environment: prod\nFerry-Application: web-prod\n";
        let claims = promotion_claims(squash);
        assert_eq!(claims.len(), 2);
        assert_eq!(claims[1].application, "web-prod");
        assert!(promotion_claims("fix: scale checkout to 0\n").is_empty());
        // An incomplete group names nothing.
        assert!(promotion_claims("Ferry-Release: 01C\nFerry-Application: x\n").is_empty());
    }

    #[test]
    fn bad_trailers_are_refused() {
        for t in [
            Trailer::new("Bad Key", "v"),
            Trailer::new("K", "a\nb"),
            Trailer::new("K", " "),
        ] {
            let msg = CommitMessage {
                subject: "s".into(),
                body: None,
                trailers: vec![t],
            };
            assert!(matches!(msg.render(), Err(Error::InvalidTrailer { .. })));
        }
    }
}
