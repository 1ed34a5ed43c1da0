//! The loaded configuration: every resource, indexed by name.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::diagnostic::Origin;
use crate::resource::{
    Application, Environment, Product, PromotionFlow, PromotionPolicy, PromotionTemplate,
    PromotionWindow, WorkflowTemplate,
};

/// A document of a kind ferry does not read (kept for counts and notes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IgnoredDocument {
    pub api_version: String,
    pub kind: String,
    pub origin: Origin,
}

/// Every resource of a configuration source, in file order (files in path
/// order, documents in file order) — order matters for environment matching.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub applications: Vec<Application>,
    pub environments: Vec<Environment>,
    pub products: Vec<Product>,
    pub flows: Vec<PromotionFlow>,
    pub policies: Vec<PromotionPolicy>,
    pub templates: Vec<PromotionTemplate>,
    /// Promotion windows (issue 20), in file order.
    pub windows: Vec<PromotionWindow>,
    pub workflow_templates: Vec<WorkflowTemplate>,
    pub ignored: Vec<IgnoredDocument>,
    index: Index,
}

#[derive(Debug, Clone, Default)]
struct Index {
    environments: HashMap<String, usize>,
    products: HashMap<String, usize>,
    flows: HashMap<String, usize>,
    policies: HashMap<String, usize>,
    templates: HashMap<String, usize>,
    workflow_templates: HashMap<String, usize>,
}

fn first_by_name<T>(items: &[T], name: impl Fn(&T) -> &str) -> HashMap<String, usize> {
    let mut map = HashMap::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        map.entry(name(item).to_owned()).or_insert(i);
    }
    map
}

impl Config {
    /// Rebuilds the name indexes; call after changing the resource lists.
    /// With duplicate names the first definition wins (the duplicate is an
    /// error reported by validation).
    pub fn reindex(&mut self) {
        self.index = Index {
            environments: first_by_name(&self.environments, Environment::name),
            products: first_by_name(&self.products, Product::name),
            flows: first_by_name(&self.flows, PromotionFlow::name),
            policies: first_by_name(&self.policies, PromotionPolicy::name),
            templates: first_by_name(&self.templates, PromotionTemplate::name),
            workflow_templates: first_by_name(&self.workflow_templates, WorkflowTemplate::name),
        };
    }

    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.index
            .environments
            .get(name)
            .map(|&i| &self.environments[i])
    }

    pub fn product(&self, name: &str) -> Option<&Product> {
        self.index.products.get(name).map(|&i| &self.products[i])
    }

    pub fn flow(&self, name: &str) -> Option<&PromotionFlow> {
        self.index.flows.get(name).map(|&i| &self.flows[i])
    }

    pub fn policy(&self, name: &str) -> Option<&PromotionPolicy> {
        self.index.policies.get(name).map(|&i| &self.policies[i])
    }

    pub fn template(&self, name: &str) -> Option<&PromotionTemplate> {
        self.index.templates.get(name).map(|&i| &self.templates[i])
    }

    pub fn workflow_template(&self, name: &str) -> Option<&WorkflowTemplate> {
        self.index
            .workflow_templates
            .get(name)
            .map(|&i| &self.workflow_templates[i])
    }

    /// Environments in dashboard order: `spec.order` ascending (unset last),
    /// then definition order.
    pub fn environments_in_order(&self) -> Vec<&Environment> {
        let mut envs: Vec<(usize, &Environment)> = self.environments.iter().enumerate().collect();
        envs.sort_by_key(|(i, e)| (e.spec.order.unwrap_or(i64::MAX), *i));
        let mut seen = std::collections::HashSet::new();
        envs.into_iter()
            .map(|(_, e)| e)
            .filter(|e| seen.insert(e.name().to_owned()))
            .collect()
    }

    /// Resource counts per kind, for `ferry validate`.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        BTreeMap::from([
            ("Application", self.applications.len()),
            ("Environment", self.environments.len()),
            ("Product", self.products.len()),
            ("PromotionFlow", self.flows.len()),
            ("PromotionPolicy", self.policies.len()),
            ("PromotionTemplate", self.templates.len()),
            ("WorkflowTemplate", self.workflow_templates.len()),
        ])
    }
}
