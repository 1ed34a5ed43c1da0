//! `POST /api/v1/webhooks/{github|gitlab|gitea|forgejo|bitbucket|azuredevops}`
//! (SPEC §8, §9, §12).
//!
//! A delivery is authenticated by the forge's signature, token or basic
//! auth before anything in it is read, parsed (400 when malformed), and
//! recorded by its delivery id in the store: a replayed delivery changes
//! nothing, on every replica. Push events start the trigger poll of their
//! repository at once (the poller is the fallback); pull-request events
//! wake the promotions waiting on them. Nothing here needs an API token:
//! the forge cannot send one.
//!
//! Answers (SPEC §12): only a delivery that fails verification is 401 —
//! 429 once its client has failed too often (`Security::webhooks`); a
//! verified delivery is never rate limited and never refused for what it
//! is about: one ferry does not act on (a repository outside every
//! `repoPrefix`, as group and organisation webhooks send; an event ferry
//! does not use; a replay) is answered 200 with the reason, one it acts on
//! 202. Forges disable hooks that keep getting 4xx (GitLab after four).
//! Bodies up to the forge's documented maximum are read
//! ([`ForgeKind::max_webhook_body`], 25 MB), not the API's 1 MiB.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferry_forge::{ForgeKind, WebhookError, WebhookEvent, repo_key};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::refusals::ErrorBody;
use crate::state::Shared;

/// What ferry did with a verified delivery.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookResult {
    /// The forge's delivery id.
    delivery: String,
    /// `accepted` (acted on), `ignored` (nothing to do: the reasons are in
    /// `ignored`) or `duplicate` (received before; nothing changes).
    #[schema(value_type = String)]
    status: &'static str,
    /// A push started the trigger poll of its repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    triggers_polled: Option<bool>,
    /// A push to the configuration repository: it is read again.
    #[serde(skip_serializing_if = "Option::is_none")]
    configuration_checked: Option<bool>,
    /// Promotions waiting on the pull request that were woken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pull_request_waits_woken: Option<usize>,
    /// Why (parts of) the delivery were not acted on.
    ignored: Vec<String>,
}

/// Receive a forge webhook (push, pull request).
///
/// Authenticated by the forge: GitHub `X-Hub-Signature-256`,
/// Gitea/Forgejo `X-Gitea-Signature`/`X-Forgejo-Signature` (HMAC-SHA256 of
/// the body), GitLab `X-Gitlab-Token`, Bitbucket `X-Hub-Signature`
/// (sha256), Azure DevOps basic authentication (the password is the
/// secret). A push starts the trigger poll of its repository; a
/// pull-request event wakes the promotion waiting on it. Only a delivery
/// that fails verification is 401 (429 once its client failed too often);
/// a verified delivery ferry does not act on (a repository outside every
/// `repoPrefix`, an event it does not use, a replayed delivery id) is
/// answered 200 with the reasons in `ignored`. Bodies up to the forge's
/// maximum (25 MB) are read.
#[utoipa::path(post, path = "/api/v1/webhooks/{forge}", tag = "webhooks",
    params(("forge" = String, Path, description = "`github`, `gitlab`, `gitea`, `forgejo`, `bitbucket`, `azuredevops` (or `azure`)")),
    request_body(content = Object, description = "The forge's delivery, as it sends it"),
    responses(
        (status = 200, description = "Verified but not acted on (replay, other repository, other event): the reasons are in `ignored`", body = WebhookResult),
        (status = 202, description = "Accepted", body = WebhookResult),
        (status = 400, description = "A malformed delivery (an unreadable body, e.g. a bad chunk)", body = ErrorBody),
        (status = 401, description = "The signature, token or password does not verify", body = ErrorBody),
        (status = 404, description = "No such forge", body = ErrorBody),
        (status = 408, description = "The delivery arrived too slowly (body timeout, minimum rate)", body = ErrorBody),
        (status = 413, description = "Larger than the forge's maximum", body = ErrorBody),
        (status = 429, description = "Too many deliveries from this client failed verification (`Retry-After`)", body = ErrorBody),
        (status = 503, description = "ferry's storage cannot be written now; the forge may deliver again", body = ErrorBody),
    ))]
pub async fn receive(
    State(st): State<Shared>,
    Path(forge): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let kind = ForgeKind::parse(&forge).ok_or_else(|| {
        ApiError::not_found(format!(
            "no webhook endpoint for `{forge}`: {}",
            ForgeKind::NAMES
        ))
    })?;
    let (parts, body) = req.into_parts();
    let limit = kind.max_webhook_body();
    // Over the forge's maximum 413 (when announced: after reading it), too slow 408,
    // malformed 400: JSON.
    if ferry_security::announced_length(&parts.headers).is_some_and(|n| n > limit as u64) {
        return Ok(ferry_security::body_too_large(&format!("{kind} delivery"), limit, body).await);
    }
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(body) => body,
        Err(e) => {
            return Ok(ferry_security::body_refused(
                &format!("{kind} delivery"),
                limit,
                &e,
            ));
        }
    };
    let headers = &parts.headers;
    let delivery = match st.forges.authenticate(kind, headers, &body) {
        Ok(d) => d,
        Err(WebhookError::Unauthenticated(m)) => {
            tracing::warn!(forge = %kind, reason = %m, "webhook refused");
            // Failed verifications are what the per-client limit counts.
            if let Some(too_many) = st.security.webhook_refused(&parts) {
                return Ok(too_many);
            }
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                format!("unauthenticated: {m}"),
            ));
        }
        Err(WebhookError::Malformed(m)) => {
            return Err(ApiError::bad_request(format!(
                "malformed {kind} delivery: {m}"
            )));
        }
    };
    if !st
        .store
        .record_delivery(kind.as_str(), &delivery.id)
        .await?
    {
        return Ok((
            StatusCode::OK,
            Json(WebhookResult {
                delivery: delivery.id,
                status: "duplicate",
                triggers_polled: None,
                configuration_checked: None,
                pull_request_waits_woken: None,
                ignored: vec!["this delivery was received before; nothing changes".into()],
            }),
        )
            .into_response());
    }
    let mut pushes = Vec::new();
    let mut woken = 0;
    let mut ignored = Vec::new();
    for event in delivery.events {
        match event {
            WebhookEvent::Push(p) => {
                let keys: Vec<String> = p.repo_urls.iter().map(|u| repo_key(u)).collect();
                tracing::info!(forge = %kind, branch = %p.branch, after = %p.after, "push webhook");
                pushes.push(keys);
            }
            WebhookEvent::PullRequest(p) => {
                let keys: Vec<String> = p.repo_urls.iter().map(|u| repo_key(u)).collect();
                woken += st
                    .engine
                    .notify_pull_request(p.number, &|url| keys.contains(&repo_key(url)));
            }
            WebhookEvent::Ignored { reason } => ignored.push(reason),
        }
    }
    // A push to the configuration repository: load it now (SPEC §1: the
    // configuration is re-read on every push or poll).
    let config_pushed = pushes
        .iter()
        .any(|keys| keys.iter().any(|k| st.live.is_from_repo(k)));
    if config_pushed {
        let (live, engine) = (Arc::clone(&st.live), st.engine.clone());
        tokio::spawn(async move {
            if live.check(&engine).await {
                tracing::info!("configuration reloaded after a push webhook");
            }
        });
    }
    let polling = !pushes.is_empty();
    if polling {
        // The poll fetches and may take a while; forges expect a quick answer.
        let engine = st.engine.clone();
        tokio::spawn(async move {
            let matches = move |url: &str| {
                let k = repo_key(url);
                pushes.iter().any(|keys| keys.contains(&k))
            };
            match engine.poll_triggers_for(&matches).await {
                Ok(created) if !created.is_empty() => {
                    tracing::info!(releases = created.len(), "push webhook created releases")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "trigger poll after a push webhook"),
            }
        });
    }
    let acted = polling || woken > 0 || config_pushed;
    let (code, status) = if acted || ignored.is_empty() {
        (StatusCode::ACCEPTED, "accepted")
    } else {
        for reason in &ignored {
            tracing::info!(forge = %kind, delivery = %delivery.id, %reason, "webhook delivery ignored");
        }
        (StatusCode::OK, "ignored")
    };
    Ok((
        code,
        Json(WebhookResult {
            delivery: delivery.id,
            status,
            triggers_polled: Some(polling),
            configuration_checked: Some(config_pushed),
            pull_request_waits_woken: Some(woken),
            ignored,
        }),
    )
        .into_response())
}
