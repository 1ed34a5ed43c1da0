use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::de::{self, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::{ObjectMeta, TemplateBody};
use crate::diagnostic::Origin;

/// A group of applications promoted together (SPEC §1.3).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Product {
    pub metadata: ObjectMeta,
    pub spec: ProductSpec,
    #[serde(skip)]
    pub origin: Origin,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion_template_ref: Option<String>,
    /// Inline template; wins over the ref.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion_template: Option<TemplateBody>,
    /// Ordered: the first flow whose selectors all match a commit is chosen.
    #[serde(default)]
    pub promotion_flows: Vec<ProductFlow>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Concurrency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_notes: Option<ReleaseNotesSpec>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductFlow {
    pub name: String,
    #[serde(default)]
    pub git_trigger_selectors: Vec<TriggerSelector>,
}

/// `{key, operator, values}` over a trigger commit (SPEC §1.3).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct TriggerSelector {
    pub key: SelectorKey,
    pub operator: SelectorOperator,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SelectorKey {
    CommitMessage,
    GitRevision,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum SelectorOperator {
    In,
    NotIn,
}

/// Per-product concurrency (SPEC §4.5). Codefresh's Product
/// (`codefresh.io/v1beta2`) writes the policy alone, `concurrency: queue`;
/// ferry also takes `{policy, queueLimit, minInterval}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Concurrency {
    pub policy: ConcurrencyPolicy,
    pub queue_limit: u32,
    /// Soak time per environment (issue 20, batching): a promotion into
    /// the environment starts no sooner than this after the product's
    /// previous one there finished; with `supersede`, only the newest
    /// release waiting for it goes on. Environment name → Go-style
    /// duration (`30m`, `2h`), checked when read.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub min_interval: BTreeMap<String, String>,
}

impl Concurrency {
    /// The soak time of `environment`, if one is set.
    pub fn min_interval(&self, environment: &str) -> Option<Duration> {
        self.min_interval
            .get(environment)
            .and_then(|d| super::flow::parse_duration(d).ok())
            .filter(|d| !d.is_zero())
    }
}

/// Hand-written because the value is either a string or a mapping; it still
/// asks for a struct (with its field list) so that the model's deserialiser
/// reports unknown keys of the mapping form and records its fields.
impl<'de> Deserialize<'de> for Concurrency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const FIELDS: &[&str] = &["policy", "queueLimit", "minInterval"];
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Concurrency;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "`queue`, `terminate`, `supersede` or a mapping with `policy`, `queueLimit` and `minInterval`",
                )
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Concurrency, E> {
                let de: de::value::StrDeserializer<'_, E> = v.into_deserializer();
                let policy = ConcurrencyPolicy::deserialize(de)?;
                Ok(Concurrency {
                    policy,
                    ..Concurrency::default()
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Concurrency, A::Error> {
                let mut out = Concurrency::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "policy" => out.policy = map.next_value()?,
                        "queueLimit" => out.queue_limit = map.next_value()?,
                        "minInterval" => {
                            let intervals: BTreeMap<String, String> = map.next_value()?;
                            for (env, d) in &intervals {
                                super::flow::parse_duration(d).map_err(|e| {
                                    de::Error::custom(format!("minInterval.{env}: {e}"))
                                })?;
                            }
                            out.min_interval = intervals;
                        }
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(out)
            }
        }
        deserializer.deserialize_struct("Concurrency", FIELDS, V)
    }
}

fn default_queue_limit() -> u32 {
    50
}

impl Default for Concurrency {
    fn default() -> Self {
        Concurrency {
            policy: ConcurrencyPolicy::Queue,
            queue_limit: default_queue_limit(),
            min_interval: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConcurrencyPolicy {
    /// A new release waits until no release of the product is active.
    #[default]
    Queue,
    /// A new release terminates an active one that shares an environment.
    Terminate,
    /// A new release replaces the older ones that wait — queued, or
    /// suspended at a pull request, approval, window or suspend step —
    /// and queues behind one that is working, replacing it once it waits
    /// (issue 20). Nothing is stopped in the middle of a Git write.
    Supersede,
}

/// Release-notes settings (ferry extension, SPEC §7).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseNotesSpec {
    /// Image repository → source repository, for images without OCI labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<ReleaseNotesSource>,
    /// Regular expression for issue keys such as `PROJ-123`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_pattern: Option<String>,
    /// URL of an issue, with `{key}` replaced by the matched key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_url_template: Option<String>,
    /// Commits listed for a product's first release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_release_limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseNotesSource {
    /// Image repository, e.g. `ghcr.io/acme/buslog`.
    pub image: String,
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// How a tag names a revision: `main-{sha}`, `v{version}`, `{version}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_pattern: Option<String>,
}

impl Product {
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    pub fn concurrency(&self) -> Concurrency {
        self.spec.concurrency.clone().unwrap_or_default()
    }
}
