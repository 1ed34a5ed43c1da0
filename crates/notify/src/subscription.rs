//! A subscription (`[[notifications]]`): where notifications go, in which
//! shape, and which events it wants.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The shape a subscription's receiver takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A Slack incoming webhook (`text` with Block Kit `blocks`).
    Slack,
    /// A Microsoft Teams workflow ("Post to a channel when a webhook
    /// request is received"): a message with one Adaptive Card.
    Teams,
    /// Any HTTP receiver: ferry's JSON, signed with HMAC-SHA256.
    Webhook,
    /// CloudEvents 1.0, structured mode (`application/cloudevents+json`).
    CloudEvents,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Slack => "slack",
            Kind::Teams => "teams",
            Kind::Webhook => "webhook",
            Kind::CloudEvents => "cloudevents",
        }
    }
}

/// What happened, as subscriptions name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventType {
    /// A release or an environment started running.
    Started,
    /// Waiting (a pull request, a workflow's suspend step, a window), with
    /// the reason.
    Suspended,
    /// Waiting for approvals.
    ApprovalNeeded,
    /// Failed, with the first lines of the failing step's log.
    Failed,
    Succeeded,
    /// A rollback release restored an earlier snapshot.
    RolledBack,
    /// Replaced by a newer release of the product.
    Superseded,
    /// Stopped by a person, the flow timeout or the queue.
    Terminated,
}

impl EventType {
    pub const ALL: [EventType; 8] = [
        EventType::Started,
        EventType::Suspended,
        EventType::ApprovalNeeded,
        EventType::Failed,
        EventType::Succeeded,
        EventType::RolledBack,
        EventType::Superseded,
        EventType::Terminated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Started => "started",
            EventType::Suspended => "suspended",
            EventType::ApprovalNeeded => "approval-needed",
            EventType::Failed => "failed",
            EventType::Succeeded => "succeeded",
            EventType::RolledBack => "rolled-back",
            EventType::Superseded => "superseded",
            EventType::Terminated => "terminated",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an event is about the whole release or one environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Subject {
    Release,
    Environment,
}

impl Subject {
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Release => "release",
            Subject::Environment => "environment",
        }
    }
}

/// Which events a subscription wants; an empty list takes everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub events: Vec<EventType>,
    /// Product names; `*` alone, or at the end of a name, matches any rest.
    pub products: Vec<String>,
    /// Environment names, as products. An event about the whole release
    /// passes when the list is empty or holds `*`.
    pub environments: Vec<String>,
    /// Whether release events, environment events or both are wanted.
    pub subjects: Vec<Subject>,
}

fn matches(patterns: &[String], name: &str) -> bool {
    patterns.is_empty()
        || patterns.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => p == name,
        })
}

impl Filter {
    pub fn accepts(
        &self,
        event: EventType,
        subject: Subject,
        product: &str,
        environment: Option<&str>,
    ) -> bool {
        (self.events.is_empty() || self.events.contains(&event))
            && (self.subjects.is_empty() || self.subjects.contains(&subject))
            && matches(&self.products, product)
            && match environment {
                Some(e) => matches(&self.environments, e),
                None => self.environments.is_empty() || self.environments.iter().any(|p| p == "*"),
            }
    }
}

/// A secret of a subscription: its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

/// One `[[notifications]]` entry, resolved: secrets read.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// Unique among the subscriptions; deliveries name it.
    pub name: String,
    pub kind: Kind,
    /// Where to POST. Slack's and Teams' URLs carry their secret, so the
    /// whole URL is one.
    pub url: Secret,
    /// The HMAC-SHA256 key of `webhook` (and optionally `cloudevents`).
    pub signing_key: Option<Secret>,
    pub filter: Filter,
    /// Tries before the dead letter.
    pub max_attempts: u32,
    /// One try's time limit.
    pub timeout: Duration,
}

/// Tries before a delivery is given up, by default.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;
/// One try's time limit, by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_by_event_product_environment_and_subject() {
        let f = Filter {
            events: vec![EventType::Failed],
            products: vec!["shop-*".into()],
            environments: vec!["prod".into()],
            subjects: vec![],
        };
        assert!(f.accepts(
            EventType::Failed,
            Subject::Environment,
            "shop-web",
            Some("prod")
        ));
        assert!(!f.accepts(
            EventType::Succeeded,
            Subject::Environment,
            "shop-web",
            Some("prod")
        ));
        assert!(!f.accepts(
            EventType::Failed,
            Subject::Environment,
            "blog",
            Some("prod")
        ));
        assert!(!f.accepts(
            EventType::Failed,
            Subject::Environment,
            "shop-web",
            Some("qa")
        ));
        // A release event has no environment: a list naming some refuses it.
        assert!(!f.accepts(EventType::Failed, Subject::Release, "shop-web", None));
        let all = Filter::default();
        assert!(all.accepts(EventType::Started, Subject::Release, "x", None));
        let releases = Filter {
            subjects: vec![Subject::Release],
            ..Filter::default()
        };
        assert!(!releases.accepts(EventType::Started, Subject::Environment, "x", Some("qa")));
        for e in EventType::ALL {
            assert_eq!(EventType::parse(e.as_str()), Some(e));
        }
    }

    #[test]
    fn secrets_are_not_printed() {
        let s = Subscription {
            name: "ops".into(),
            kind: Kind::Slack,
            url: Secret::new("https://hooks.slack.com/services/T0/B0/very-secret"),
            signing_key: Some(Secret::new("key-value")),
            filter: Filter::default(),
            max_attempts: 3,
            timeout: DEFAULT_TIMEOUT,
        };
        let printed = format!("{s:?}");
        assert!(!printed.contains("very-secret") && !printed.contains("key-value"));
    }
}
