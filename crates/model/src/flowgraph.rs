//! A PromotionFlow as a dependency graph of environments (SPEC §1.6, §4.2).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::resource::{Hooks, PolicySettings, PromotionFlow};

/// One environment of a flow and what it waits for.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphNode {
    pub environment: String,
    /// Environments that must succeed first. A step without `dependsOn`
    /// depends on the trigger environment.
    pub depends_on: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicySettings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hooks: Option<Hooks>,
}

/// A validated flow: trigger environment plus steps in dependency order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowGraph {
    pub name: String,
    pub trigger_environment: String,
    /// Target environments in a topological order (ties in step order).
    pub steps: Vec<GraphNode>,
}

/// A structural problem of a flow: the field path and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowProblem {
    pub field: String,
    pub message: String,
}

impl FlowGraph {
    /// Builds the graph, or lists every structural problem: unknown
    /// `dependsOn` targets, environments appearing twice, self-dependencies
    /// and cycles. (Whether the environments exist is checked against the
    /// configuration by validation.)
    pub fn build(flow: &PromotionFlow) -> Result<FlowGraph, Vec<FlowProblem>> {
        let body = &flow.spec.body;
        let base = if flow.spec.legacy_layout {
            "spec.properties"
        } else {
            "spec"
        };
        let trigger = body.trigger_environment.as_str();
        let mut problems = Vec::new();
        let mut index: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, step) in body.steps.iter().enumerate() {
            let env = step.environment.as_str();
            if env == trigger {
                problems.push(FlowProblem {
                    field: format!("{base}.steps[{i}].environment"),
                    message: format!(
                        "`{env}` is the trigger environment; it cannot also be a step"
                    ),
                });
            } else if let Some(first) = index.get(env) {
                problems.push(FlowProblem {
                    field: format!("{base}.steps[{i}].environment"),
                    message: format!("environment `{env}` appears twice (first in steps[{first}])"),
                });
            } else {
                index.insert(env, i);
            }
        }
        let mut nodes: Vec<GraphNode> = Vec::with_capacity(body.steps.len());
        for (i, step) in body.steps.iter().enumerate() {
            let mut deps = Vec::new();
            for (j, d) in step.depends_on.iter().enumerate() {
                let field = format!("{base}.steps[{i}].dependsOn[{j}]");
                if d == &step.environment {
                    problems.push(FlowProblem {
                        field,
                        message: format!("`{d}` depends on itself"),
                    });
                } else if d != trigger && !index.contains_key(d.as_str()) {
                    problems.push(FlowProblem {
                        field,
                        message: format!(
                            "`{d}` is neither the trigger environment (`{trigger}`) nor a step of this flow"
                        ),
                    });
                } else if !deps.contains(d) {
                    deps.push(d.clone());
                }
            }
            if step.depends_on.is_empty() {
                deps.push(trigger.to_owned());
            }
            nodes.push(GraphNode {
                environment: step.environment.clone(),
                depends_on: deps,
                policy: step.policy.clone(),
                hooks: step.hooks.clone(),
            });
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        match topological_order(trigger, &nodes) {
            Ok(order) => Ok(FlowGraph {
                name: flow.name().to_owned(),
                trigger_environment: trigger.to_owned(),
                steps: order.into_iter().map(|i| nodes[i].clone()).collect(),
            }),
            Err(cycle) => {
                let first = cycle.first().map_or(0, |&i| i);
                let names: Vec<&str> = cycle
                    .iter()
                    .chain(cycle.first())
                    .map(|&i| nodes[i].environment.as_str())
                    .collect();
                Err(vec![FlowProblem {
                    field: format!("{base}.steps[{first}].dependsOn"),
                    message: format!("dependency cycle: {}", names.join(" → ")),
                }])
            }
        }
    }

    /// Every environment of the flow, trigger first.
    pub fn environments(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.trigger_environment.as_str())
            .chain(self.steps.iter().map(|s| s.environment.as_str()))
    }

    pub fn step(&self, environment: &str) -> Option<&GraphNode> {
        self.steps.iter().find(|s| s.environment == environment)
    }

    /// The environments downstream of `environment` (transitively).
    pub fn downstream(&self, environment: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut frontier = vec![environment.to_owned()];
        while let Some(env) = frontier.pop() {
            for s in &self.steps {
                if s.depends_on.contains(&env) && out.insert(s.environment.clone()) {
                    frontier.push(s.environment.clone());
                }
            }
        }
        out
    }
}

/// Kahn's algorithm; ties resolved in step order so the result is stable.
/// On a cycle, returns the indexes of one cycle.
fn topological_order(trigger: &str, nodes: &[GraphNode]) -> Result<Vec<usize>, Vec<usize>> {
    let pos: BTreeMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.environment.as_str(), i))
        .collect();
    let mut done: BTreeSet<&str> = BTreeSet::from([trigger]);
    let mut order = Vec::with_capacity(nodes.len());
    let mut placed = vec![false; nodes.len()];
    loop {
        let next = (0..nodes.len()).find(|&i| {
            !placed[i]
                && nodes[i]
                    .depends_on
                    .iter()
                    .all(|d| done.contains(d.as_str()))
        });
        match next {
            Some(i) => {
                placed[i] = true;
                done.insert(nodes[i].environment.as_str());
                order.push(i);
            }
            None => break,
        }
    }
    if order.len() == nodes.len() {
        return Ok(order);
    }
    // Walk unplaced dependencies until a node repeats: that is a cycle.
    let start = (0..nodes.len()).find(|&i| !placed[i]).unwrap_or(0);
    let mut path: Vec<usize> = vec![start];
    let mut current = start;
    loop {
        let next = nodes[current]
            .depends_on
            .iter()
            .filter_map(|d| pos.get(d.as_str()).copied())
            .find(|&j| !placed[j]);
        let Some(j) = next else { return Err(path) };
        if let Some(at) = path.iter().position(|&p| p == j) {
            let mut cycle = path[at..].to_vec();
            cycle.reverse();
            return Err(cycle);
        }
        path.push(j);
        current = j;
    }
}
