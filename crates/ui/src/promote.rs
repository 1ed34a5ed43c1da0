//! Promote from the UI: choose a flow, or one target environment (with
//! its source and, for that single promotion, the policy settings), or
//! roll a finished release's snapshot out to an environment; review what
//! will happen (for one environment: the exact diff per application);
//! confirm (a CSRF-checked POST); land on the new release's view.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use ferry_engine::PromotionRequest;
use ferry_model::resource::{Action, PolicySettings};
use serde::Deserialize;

use crate::dryrun::{self, EnvDiff};
use crate::layout::{Layout, UiError, Viewer, page, query_value, seg};
use ferry_api::Shared;
use ferry_api::csrf;
use ferry_api::error::ApiError;

/// What the person asks for (query of the review page, body of the POST).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Ask {
    #[serde(default)]
    flow: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    source: String,
    #[serde(default, rename = "preAction")]
    pre_action: String,
    #[serde(default)]
    action: String,
    #[serde(default, rename = "postAction")]
    post_action: String,
    #[serde(default)]
    rollback: String,
    #[serde(default)]
    csrf: String,
}

impl Ask {
    fn is_empty(&self) -> bool {
        self.flow.is_empty() && self.target.is_empty() && self.rollback.is_empty()
    }

    /// The engine's request; bad combinations are named.
    fn request(&self) -> Result<PromotionRequest, ApiError> {
        let opt = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        let action = match self.action.trim() {
            "" => None,
            a => Some(
                serde_json::from_value::<Action>(serde_json::json!(a)).map_err(|_| {
                    ApiError::bad_request(format!("action: `{a}` is not commit, pr or none"))
                })?,
            ),
        };
        let policy = PolicySettings {
            pre_action: opt(&self.pre_action),
            action,
            post_action: opt(&self.post_action),
            approval: None,
            on_failure: None,
        };
        let has_policy =
            policy.pre_action.is_some() || policy.action.is_some() || policy.post_action.is_some();
        let req = PromotionRequest {
            flow: opt(&self.flow),
            target_environment: opt(&self.target),
            source_environment: opt(&self.source),
            policy: has_policy.then_some(policy),
            rollback_to: opt(&self.rollback),
        };
        match (&req.flow, &req.target_environment, &req.rollback_to) {
            (Some(_), None, None) if req.policy.is_none() && req.source_environment.is_none() => {
                Ok(req)
            }
            (None, Some(_), None) => Ok(req),
            (None, Some(_), Some(_))
                if req.policy.is_none() && req.source_environment.is_none() =>
            {
                Ok(req)
            }
            _ => Err(ApiError::bad_request(
                "choose a flow, or a target environment (with an optional source and policy), or a release to roll back with a target environment",
            )),
        }
    }

    fn summary(&self, rollback_number: Option<u64>) -> String {
        if !self.rollback.is_empty() {
            match rollback_number {
                Some(n) => format!("Roll {} back to release #{n}", self.target),
                None => format!("Roll {} back to an earlier release", self.target),
            }
        } else if !self.flow.is_empty() {
            format!("Run flow {}", self.flow)
        } else {
            let from = if self.source.is_empty() {
                "its default source".to_owned()
            } else {
                self.source.clone()
            };
            format!("Promote {} from {from}", self.target)
        }
    }
}

pub struct Field {
    pub name: &'static str,
    pub value: String,
    /// What the page shows for it (`#1` for a rollback's release id).
    pub shown: String,
}

/// An environment of the form's target list.
pub struct Choice {
    pub name: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "ui/promote.html")]
struct PromotePage {
    layout: Layout,
    product: String,
    product_href: String,
    action: String,
    flows: Vec<String>,
    targets: Vec<Choice>,
    environments: Vec<String>,
    /// Why the target is preselected.
    default_note: String,
    /// Set on the review step.
    review: bool,
    summary: String,
    fields: Vec<Field>,
    diffs: Vec<EnvDiff>,
    diff_note: String,
    /// Every application has its diff or an explicit "no change": the
    /// person saw what will be committed, so Confirm is offered.
    confirmable: bool,
    /// Nothing changes anywhere.
    no_change: bool,
    error: String,
}

/// The flow a product's one-environment promotions follow: its first.
fn first_flow<'a>(
    loaded: &'a ferry_model::Loaded,
    product: &str,
) -> Option<&'a ferry_model::resource::FlowBody> {
    let p = loaded.config.product(product)?;
    Some(
        &loaded
            .config
            .flow(&p.spec.promotion_flows.first()?.name)?
            .spec
            .body,
    )
}

/// The environment a one-environment promotion takes its values from
/// when none is given: what the target depends on in the product's first
/// flow (the engine's default).
fn default_source(loaded: &ferry_model::Loaded, product: &str, target: &str) -> Option<String> {
    let body = first_flow(loaded, product)?;
    let step = body.steps.iter().find(|s| s.environment == target)?;
    Some(
        step.depends_on
            .first()
            .cloned()
            .unwrap_or_else(|| body.trigger_environment.clone()),
    )
}

/// The next environment downstream of the product's newest release: the
/// first environment of the product's first flow that depends on the
/// last environment that release finished successfully.
async fn default_target(
    st: &Shared,
    loaded: &ferry_model::Loaded,
    product: &str,
) -> Result<Option<(String, String)>, UiError> {
    let newest = st
        .store
        .list(&ferry_store::ListFilter {
            product: Some(product.to_owned()),
            statuses: vec![],
            limit: 1,
            cursor: None,
        })
        .await?;
    let Some(r) = newest.items.first() else {
        return Ok(None);
    };
    let Some(reached) = r
        .environments
        .iter()
        .rev()
        .find(|e| e.status == ferry_release::EnvironmentStatus::Successful)
    else {
        return Ok(None);
    };
    let Some(body) = first_flow(loaded, product) else {
        return Ok(None);
    };
    let next = body.steps.iter().find(|s| {
        if s.depends_on.is_empty() {
            body.trigger_environment == reached.name
        } else {
            s.depends_on.contains(&reached.name)
        }
    });
    Ok(next.map(|s| {
        (
            s.environment.clone(),
            format!(
                "{} is next after {}, where release #{} got to",
                s.environment, reached.name, r.number
            ),
        )
    }))
}

pub async fn show(
    viewer: Viewer,
    State(st): State<Shared>,
    Path(product): Path<String>,
    Query(ask): Query<Ask>,
) -> Result<Response, UiError> {
    let (loaded, membership) = st.engine.membership();
    let Some(members) = membership.product(&product) else {
        return Err(ApiError::not_found(format!("product `{product}` does not exist")).into());
    };
    let action = format!("/products/{}/promote", seg(&product));
    if !viewer.signed_in() {
        let back = format!("{action}?{}", ask_query(&ask));
        return Ok(Redirect::to(&format!("/signin?next={}", query_value(&back))).into_response());
    }
    let environments: Vec<String> = loaded
        .config
        .environments_in_order()
        .iter()
        .map(|e| e.metadata.name.clone())
        .filter(|e| members.in_environment(e).next().is_some())
        .collect();
    let flows = loaded
        .config
        .product(&product)
        .map(|p| {
            p.spec
                .promotion_flows
                .iter()
                .map(|f| f.name.clone())
                .collect()
        })
        .unwrap_or_default();
    let (default, default_note) = if ask.is_empty() {
        default_target(&st, &loaded, &product).await?.unzip()
    } else {
        (None, None)
    };
    let mut page_data = PromotePage {
        layout: Layout::new(format!("Promote {product}"), &viewer, "products"),
        product_href: format!("/products/{}", seg(&product)),
        product: product.clone(),
        action,
        flows,
        targets: environments
            .iter()
            .map(|e| Choice {
                name: e.clone(),
                selected: default.as_deref() == Some(e.as_str()),
            })
            .collect(),
        environments,
        default_note: default_note.unwrap_or_default(),
        review: false,
        summary: String::new(),
        fields: Vec::new(),
        diffs: Vec::new(),
        diff_note: String::new(),
        confirmable: false,
        no_change: false,
        error: String::new(),
    };
    if ask.is_empty() {
        return Ok(page(&page_data));
    }
    if let Err(e) = ask.request() {
        page_data.error = e.message;
        let mut r = page(&page_data);
        *r.status_mut() = StatusCode::BAD_REQUEST;
        return Ok(r);
    }
    let rollback_of = if ask.rollback.is_empty() {
        None
    } else {
        let earlier = st
            .store
            .get(ask.rollback.trim())
            .await?
            .filter(|r| r.product == product)
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "release `{}` of product `{product}` not found",
                    ask.rollback
                ))
            })?;
        Some(earlier)
    };
    page_data.review = true;
    page_data.summary = ask.summary(rollback_of.as_ref().map(|r| r.number));
    page_data.fields = [
        ("flow", &ask.flow),
        ("target", &ask.target),
        ("source", &ask.source),
        ("preAction", &ask.pre_action),
        ("action", &ask.action),
        ("postAction", &ask.post_action),
        ("rollback", &ask.rollback),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(name, v)| Field {
        name,
        value: v.clone(),
        shown: match (&rollback_of, name) {
            (Some(r), "rollback") => match &r.version {
                Some(version) => format!("#{} ({version})", r.number),
                None => format!("#{}", r.number),
            },
            _ => v.clone(),
        },
    })
    .collect();
    let ws = st.engine.workspace().clone();
    if let Some(earlier) = rollback_of {
        page_data.diffs = dryrun::plan_snapshot(
            loaded.clone(),
            ws,
            product.clone(),
            earlier.snapshot.clone(),
            ask.target.clone(),
        )
        .await;
        page_data.diff_note = format!(
            "Release #{}'s snapshot (taken in {}) written into {}:",
            earlier.number, earlier.snapshot.environment, ask.target
        );
    } else if !ask.flow.is_empty() {
        match loaded.config.flow(&ask.flow) {
            Some(flow) => {
                let body = &flow.spec.body;
                let targets: Vec<String> =
                    body.steps.iter().map(|s| s.environment.clone()).collect();
                page_data.diffs = dryrun::plan(
                    loaded.clone(),
                    ws,
                    product.clone(),
                    body.trigger_environment.clone(),
                    targets,
                )
                .await;
                page_data.diff_note = format!(
                    "The flow carries {}'s values (as they are now) into each environment, in order:",
                    body.trigger_environment
                );
            }
            None => page_data.diff_note = format!("Flow `{}` does not exist.", ask.flow),
        }
    } else {
        let source = if ask.source.is_empty() {
            default_source(&loaded, &product, &ask.target)
        } else {
            Some(ask.source.clone())
        };
        match source {
            Some(from) => {
                page_data.diffs = dryrun::plan(
                    loaded.clone(),
                    ws,
                    product.clone(),
                    from.clone(),
                    vec![ask.target.clone()],
                )
                .await;
                page_data.diff_note = format!("Changes from {from} to {}:", ask.target);
            }
            None => {
                page_data.diff_note =
                    "Pick a source environment to see the diff before promoting.".into()
            }
        }
    }
    page_data.confirmable = !page_data.diffs.is_empty()
        && page_data
            .diffs
            .iter()
            .all(|d| d.complete() && !d.apps.is_empty());
    page_data.no_change = page_data.confirmable && page_data.diffs.iter().all(|d| d.changes() == 0);
    Ok(page(&page_data))
}

fn ask_query(a: &Ask) -> String {
    [
        ("flow", &a.flow),
        ("target", &a.target),
        ("source", &a.source),
        ("preAction", &a.pre_action),
        ("action", &a.action),
        ("postAction", &a.post_action),
        ("rollback", &a.rollback),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| format!("{k}={}", query_value(v)))
    .collect::<Vec<_>>()
    .join("&")
}

pub async fn submit(
    viewer: Viewer,
    State(st): State<Shared>,
    Path(product): Path<String>,
    Form(ask): Form<Ask>,
) -> Result<Response, UiError> {
    let Some(caller) = viewer.caller.clone() else {
        return Ok(Redirect::to("/signin").into_response());
    };
    csrf::check(&viewer.csrf, &ask.csrf)?;
    let request = ask.request()?;
    // The same role check and audit entry as `POST …/promotions`.
    let targets = ferry_api::guard::promotion_targets(&st, &product, &request);
    let audit = ferry_api::audit::Audit::new(&st, &caller, "promote", product.clone())
        .product(product.clone())
        .check(
            caller
                .principal
                .check_promote(&product, targets.iter().map(|(e, p)| (e.as_str(), *p))),
        )
        .await?;
    let result = st
        .engine
        .promote(&product, request, &caller.name)
        .await
        .map_err(ApiError::from);
    let release = audit
        .finish(result, StatusCode::CREATED, |r| Some(r.id.clone()))
        .await?;
    Ok(Redirect::to(&format!(
        "/products/{}/releases/{}",
        seg(&release.product),
        release.number
    ))
    .into_response())
}
