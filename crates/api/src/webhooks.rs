//! `POST /api/v1/webhooks/{github|gitlab|gitea|bitbucket}` (SPEC §8, §9).
//!
//! A delivery is authenticated by the forge's signature or token before
//! anything in it is read (401 otherwise), parsed (400 when malformed),
//! and recorded by its delivery id in the store: a replayed delivery is
//! answered 200 and changes nothing, on every replica. Push events start
//! the trigger poll of their repository at once (the poller is the
//! fallback); pull-request events wake the promotions waiting on them.
//! Nothing here needs an API token: the forge cannot send one.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use ferry_forge::{ForgeKind, WebhookError, WebhookEvent, repo_key};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::Shared;

pub async fn receive(
    State(st): State<Shared>,
    Path(forge): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let kind = ForgeKind::parse(&forge).ok_or_else(|| {
        ApiError::not_found(format!(
            "no webhook endpoint for `{forge}`: github, gitlab, gitea or bitbucket"
        ))
    })?;
    let delivery = st
        .forges
        .authenticate(kind, &headers, &body)
        .map_err(|e| match e {
            WebhookError::Unauthenticated(m) => {
                tracing::warn!(forge = %kind, reason = %m, "webhook refused");
                ApiError::new(StatusCode::UNAUTHORIZED, format!("unauthenticated: {m}"))
            }
            WebhookError::Malformed(m) => {
                ApiError::bad_request(format!("malformed {kind} delivery: {m}"))
            }
        })?;
    if !st
        .store
        .record_delivery(kind.as_str(), &delivery.id)
        .await?
    {
        return Ok((
            StatusCode::OK,
            Json(json!({"delivery": delivery.id, "status": "duplicate"})),
        ));
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
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "delivery": delivery.id,
            "status": "accepted",
            "triggersPolled": polling,
            "configurationChecked": config_pushed,
            "pullRequestWaitsWoken": woken,
            "ignored": ignored,
        })),
    ))
}
