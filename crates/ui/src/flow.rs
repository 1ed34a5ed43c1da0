//! The flow page: a PromotionFlow of the live configuration as a graph,
//! with each step's dependencies and inline policy.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use ferry_model::flowgraph::FlowGraph;

use crate::layout::{Layout, UiError, Viewer, page, seg};
use crate::svg;
use ferry_api::Shared;
use ferry_api::error::ApiError;

pub struct StepRow {
    pub environment: String,
    pub depends_on: String,
    pub pre_action: String,
    pub action: String,
    pub post_action: String,
}

#[derive(Template)]
#[template(path = "ui/flow.html")]
struct FlowPage {
    layout: Layout,
    product: String,
    product_href: String,
    name: String,
    trigger: String,
    graph: String,
    steps: Vec<StepRow>,
    problems: Vec<String>,
}

pub async fn show(
    viewer: Viewer,
    State(st): State<Shared>,
    Path((product, name)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let loaded = st.engine.config();
    let Some(flow) = loaded.config.flow(&name) else {
        return Err(ApiError::not_found(format!("flow `{name}` does not exist")).into());
    };
    let (graph, steps, problems) = match FlowGraph::build(flow) {
        Ok(g) => {
            let mut nodes = vec![svg::Node {
                name: g.trigger_environment.clone(),
                depends_on: vec![],
                status: None,
                trigger: true,
                detail: svg::Detail::default(),
            }];
            nodes.extend(g.steps.iter().map(|s| svg::Node {
                name: s.environment.clone(),
                depends_on: s.depends_on.clone(),
                status: None,
                trigger: false,
                detail: svg::Detail::default(),
            }));
            let steps = g
                .steps
                .iter()
                .map(|s| {
                    let p = s.policy.clone().unwrap_or_default();
                    StepRow {
                        environment: s.environment.clone(),
                        depends_on: s.depends_on.join(", "),
                        pre_action: p.pre_action.unwrap_or_default(),
                        action: p.action.map(|a| a.to_string()).unwrap_or_default(),
                        post_action: p.post_action.unwrap_or_default(),
                    }
                })
                .collect();
            (
                svg::render(&nodes, &format!("Flow {name}"), "#step-"),
                steps,
                Vec::new(),
            )
        }
        Err(problems) => (
            String::new(),
            Vec::new(),
            problems
                .iter()
                .map(|p| format!("{}: {}", p.field, p.message))
                .collect(),
        ),
    };
    Ok(page(&FlowPage {
        layout: Layout::new(format!("Flow {name}"), &viewer, "products"),
        product_href: format!("/products/{}", seg(&product)),
        trigger: flow.spec.body.trigger_environment.clone(),
        product,
        name,
        graph,
        steps,
        problems,
    }))
}
