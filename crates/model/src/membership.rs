//! Which applications belong to which product and environment, and which
//! PromotionTemplate applies to each (SPEC §1.1, §1.3, §1.4).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;

use crate::config::Config;
use crate::glob;
use crate::resource::{Application, Cluster, Destination, Environment, StringMap, TemplateBody};

/// Product membership annotation (Codefresh's).
pub const PRODUCT_ANNOTATION: &str = "codefresh.io/product";
/// Explicit environment label; wins over destination matching.
pub const ENVIRONMENT_LABEL: &str = "ferry.io/environment";
/// Explicit application key: pairs an application across environments
/// when a product has several applications per environment.
pub const APPLICATION_LABEL: &str = "ferry.io/application";

/// Argo CD's name and address for the cluster it runs in.
const IN_CLUSTER_NAME: &str = "in-cluster";
const IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";

/// Whether an Environment's cluster entry matches an Application's destination.
pub fn cluster_matches(cluster: &Cluster, dest: &Destination) -> bool {
    let cluster_ok = [dest.name.as_deref(), dest.server.as_deref()]
        .into_iter()
        .flatten()
        .any(|d| {
            d == cluster.name
                || (cluster.name == IN_CLUSTER_NAME && d.trim_end_matches('/') == IN_CLUSTER_SERVER)
                || (d == IN_CLUSTER_NAME && cluster.name.trim_end_matches('/') == IN_CLUSTER_SERVER)
        });
    if !cluster_ok {
        return false;
    }
    if cluster.namespaces.is_empty() {
        return true;
    }
    let ns = dest.namespace.as_deref().unwrap_or("");
    cluster
        .namespaces
        .iter()
        .any(|pattern| glob::matches(pattern, ns))
}

/// How an application's environment was decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum EnvironmentMatch {
    /// The `ferry.io/environment` label names it.
    Label(String),
    /// The first Environment whose clusters match the destination.
    Destination(String),
    /// The label names an environment that does not exist.
    UnknownLabel(String),
    /// Nothing matches.
    None,
}

impl EnvironmentMatch {
    pub fn name(&self) -> Option<&str> {
        match self {
            EnvironmentMatch::Label(n) | EnvironmentMatch::Destination(n) => Some(n),
            _ => None,
        }
    }
}

/// The environment of an application (SPEC §1.1): explicit label, else the
/// first Environment (definition order) whose clusters match.
pub fn environment_of(config: &Config, app: &Application) -> EnvironmentMatch {
    if let Some(label) = app.metadata.labels.get(ENVIRONMENT_LABEL) {
        return match config.environment(label) {
            Some(_) => EnvironmentMatch::Label(label.clone()),
            None => EnvironmentMatch::UnknownLabel(label.clone()),
        };
    }
    config
        .environments
        .iter()
        .find(|env: &&Environment| {
            env.spec
                .clusters
                .iter()
                .any(|c| cluster_matches(c, &app.spec.destination))
        })
        .map_or(EnvironmentMatch::None, |env| {
            EnvironmentMatch::Destination(env.name().to_owned())
        })
}

/// The name that pairs an application with its counterparts in other
/// environments: the `ferry.io/application` label, else the Application
/// name without the environment's name as a `-suffix` or `prefix-`
/// (`trio-dev` in `dev` → `trio`), else the name itself.
pub fn application_key(app: &Application, environment: Option<&str>) -> String {
    if let Some(key) = app.metadata.labels.get(APPLICATION_LABEL) {
        return key.clone();
    }
    let name = app.name();
    if let Some(env) = environment {
        if let Some(stem) = name.strip_suffix(env).and_then(|s| s.strip_suffix('-'))
            && !stem.is_empty()
        {
            return stem.to_owned();
        }
        if let Some(stem) = name.strip_prefix(env).and_then(|s| s.strip_prefix('-'))
            && !stem.is_empty()
        {
            return stem.to_owned();
        }
    }
    name.to_owned()
}

/// Where an application's promotion template came from (SPEC §1.3/1.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "camelCase")]
pub enum TemplateSource {
    /// The Product's inline `promotionTemplate`.
    Inline,
    /// The Product's `promotionTemplateRef`.
    Ref(String),
    /// The matching template with the lowest priority number.
    Selector(String),
    /// No template applies: every file is promoted, the version is unknown.
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateChoice {
    pub source: TemplateSource,
    pub body: TemplateBody,
}

/// Selects the template of `app` in `product` (inline > ref > selector).
pub fn template_for(
    config: &Config,
    product: Option<&crate::resource::Product>,
    app: &Application,
) -> TemplateChoice {
    if let Some(product) = product {
        if let Some(inline) = &product.spec.promotion_template {
            return TemplateChoice {
                source: TemplateSource::Inline,
                body: inline.clone(),
            };
        }
        if let Some(name) = &product.spec.promotion_template_ref
            && let Some(t) = config.template(name)
        {
            return TemplateChoice {
                source: TemplateSource::Ref(name.clone()),
                body: t.body(),
            };
        }
    }
    config
        .templates
        .iter()
        .filter(|t| {
            t.spec
                .application_source_selector
                .as_ref()
                .is_some_and(|s| s.matches(&app.metadata.labels))
        })
        .min_by(|a, b| {
            a.spec
                .priority
                .cmp(&b.spec.priority)
                .then_with(|| a.name().cmp(b.name()))
        })
        .map_or(
            TemplateChoice {
                source: TemplateSource::None,
                body: TemplateBody::default(),
            },
            |t| TemplateChoice {
                source: TemplateSource::Selector(t.name().to_owned()),
                body: t.body(),
            },
        )
}

/// One application of a product.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Member {
    /// Index into [`Config::applications`].
    #[serde(skip)]
    pub app: usize,
    pub name: String,
    pub environment: EnvironmentMatch,
    pub key: String,
    /// Shared by every member with the same product and labels.
    pub template: Arc<TemplateChoice>,
}

/// A product and its applications.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductMembers {
    pub name: String,
    /// Whether a Product resource defines it (products may exist only
    /// through the annotation on their applications).
    pub defined: bool,
    pub members: Vec<Member>,
}

impl ProductMembers {
    /// The product's applications in one environment, in definition order.
    pub fn in_environment<'a>(&'a self, env: &'a str) -> impl Iterator<Item = &'a Member> + 'a {
        self.members
            .iter()
            .filter(move |m| m.environment.name() == Some(env))
    }
}

/// Every product with its applications.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Membership {
    pub products: BTreeMap<String, ProductMembers>,
}

impl Membership {
    pub fn compute(config: &Config) -> Membership {
        let mut products: BTreeMap<String, ProductMembers> = config
            .products
            .iter()
            .map(|p| {
                (
                    p.name().to_owned(),
                    ProductMembers {
                        name: p.name().to_owned(),
                        defined: true,
                        members: vec![],
                    },
                )
            })
            .collect();
        // Template choice depends on the product and the app's labels only;
        // memoise per (product, label set) for configurations with many apps.
        let mut cache: HashMap<(&str, &StringMap), Arc<TemplateChoice>> = HashMap::new();
        let mut shared: HashMap<(Option<&str>, TemplateSource), Arc<TemplateChoice>> =
            HashMap::new();
        for (i, app) in config.applications.iter().enumerate() {
            let Some(product_name) = app.metadata.annotations.get(PRODUCT_ANNOTATION) else {
                continue;
            };
            let product = config.product(product_name);
            let environment = environment_of(config, app);
            let key = application_key(app, environment.name());
            let template = Arc::clone(
                cache
                    .entry((product_name.as_str(), &app.metadata.labels))
                    .or_insert_with(|| {
                        // One copy per template, not per (product, labels).
                        let choice = template_for(config, product, app);
                        let key = (
                            (choice.source == TemplateSource::Inline)
                                .then_some(product_name.as_str()),
                            choice.source.clone(),
                        );
                        Arc::clone(shared.entry(key).or_insert_with(|| Arc::new(choice)))
                    }),
            );
            products
                .entry(product_name.clone())
                .or_insert_with(|| ProductMembers {
                    name: product_name.clone(),
                    defined: false,
                    members: vec![],
                })
                .members
                .push(Member {
                    app: i,
                    name: app.name().to_owned(),
                    environment,
                    key,
                    template,
                });
        }
        Membership { products }
    }

    pub fn product(&self, name: &str) -> Option<&ProductMembers> {
        self.products.get(name)
    }
}
