//! The audit log (SPEC §10): every mutating call — who (token name and
//! role), what, on what, when, from where, and how it ended (denials
//! included) — in the `audit_log` table, served newest first by
//! `GET /api/v1/audit` (admin). A successful action on a release is also
//! noted in that release's history, so its timeline says who acted from
//! where.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ferry_release::{EventKind, NewEvent};
use ferry_store::{AuditFilter, NewAuditEntry};
use serde::Deserialize;

use crate::auth::{Denied, Role};
use crate::error::{ApiError, ApiQuery};
use crate::extract::Authenticated;
use crate::state::Shared;

/// One mutating call being audited; finished by [`Audit::deny`] or
/// [`Audit::finish`].
pub struct Audit<'a> {
    st: &'a Shared,
    caller: &'a Authenticated,
    entry: NewAuditEntry,
}

impl<'a> Audit<'a> {
    pub fn new(
        st: &'a Shared,
        caller: &'a Authenticated,
        action: &str,
        target: impl Into<String>,
    ) -> Audit<'a> {
        Audit {
            st,
            caller,
            entry: NewAuditEntry {
                actor: caller.name.clone(),
                action: action.to_owned(),
                target: target.into(),
                remote: caller.remote.clone(),
                ..NewAuditEntry::default()
            },
        }
    }

    pub fn product(mut self, product: impl Into<String>) -> Self {
        self.entry.product = Some(product.into());
        self
    }

    pub fn release(mut self, id: impl Into<String>) -> Self {
        self.entry.release_id = Some(id.into());
        self
    }

    /// The release this call acts on, when known.
    pub fn release_id(&self) -> Option<String> {
        self.entry.release_id.clone()
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.entry.detail = Some(detail.into());
        self
    }

    /// The answer when release `id` does not exist: only promoters learn
    /// that (others get the 403 of the role check); both are recorded.
    pub async fn release_missing(self, id: &str) -> ApiError {
        let role = self.caller.principal.require(Role::Promoter);
        let audit = match self.check(role).await {
            Ok(a) => a,
            Err(denied) => return denied,
        };
        let missing = ApiError::not_found(format!("release `{id}` not found"));
        let _ = audit
            .finish::<()>(Err(missing.clone()), StatusCode::OK, |_| None)
            .await;
        missing
    }

    /// Checks `allowed`; a denial is recorded and becomes a 403.
    pub async fn check(self, allowed: Result<(), Denied>) -> Result<Self, ApiError> {
        match allowed {
            Ok(()) => Ok(self),
            Err(d) => {
                let mut entry = self.entry;
                entry.outcome = StatusCode::FORBIDDEN.as_u16();
                entry.detail = Some(d.0.clone());
                append(self.st, &entry).await;
                Err(ApiError::new(StatusCode::FORBIDDEN, d.0))
            }
        }
    }

    /// Records how the action ended. `release_of` names the release a
    /// success created or acted on (for a promotion: the new one), whose
    /// history then gets an audit note.
    pub async fn finish<T>(
        self,
        result: Result<T, ApiError>,
        success: StatusCode,
        release_of: impl FnOnce(&T) -> Option<String>,
    ) -> Result<T, ApiError> {
        let mut entry = self.entry;
        match &result {
            Ok(value) => {
                entry.outcome = success.as_u16();
                if let Some(id) = release_of(value) {
                    entry.release_id = Some(id);
                }
            }
            Err(e) => {
                entry.outcome = e.status.as_u16();
                entry.detail = Some(e.message.clone());
            }
        }
        append(self.st, &entry).await;
        if result.is_ok()
            && let Some(id) = &entry.release_id
        {
            note_in_history(self.st, self.caller, &entry, id).await;
        }
        result
    }
}

/// Appends to the audit log. A failure to record is logged, not turned
/// into a failure of an action that has already happened.
async fn append(st: &Shared, entry: &NewAuditEntry) {
    if let Err(e) = st.store.audit_append(entry).await {
        tracing::error!(action = %entry.action, target = %entry.target, error = %e, "cannot write the audit log");
    }
}

async fn note_in_history(st: &Shared, caller: &Authenticated, entry: &NewAuditEntry, id: &str) {
    let message = format!(
        "{} by {} ({}) from {}",
        entry.action,
        caller.name,
        caller.principal.role,
        entry.remote.as_deref().unwrap_or("an unknown address")
    );
    let event = NewEvent::new(EventKind::Audit, entry.action.to_ascii_uppercase()).message(message);
    match st.store.append_events(id, vec![event]).await {
        Ok(events) => st.engine.publish(events),
        Err(e) => {
            tracing::error!(release = %id, error = %e, "cannot note an action in the release history")
        }
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    release: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// The audit log (admin): every mutating call, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "admin",
    security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of audit entries", body = ferry_store::AuditPage),
        (status = 400, description = "A bad parameter", body = crate::refusals::ErrorBody),
        (status = 401, description = "No token, or one ferry does not know", body = crate::refusals::ErrorBody),
        (status = 403, description = "Not an admin token", body = crate::refusals::ErrorBody),
    ))]
pub async fn list(
    caller: Authenticated,
    State(st): State<Shared>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<ferry_store::AuditPage>, ApiError> {
    caller.require(Role::Admin)?;
    let limit = match q.limit {
        None => ferry_store::DEFAULT_PAGE,
        Some(n) if (1..=ferry_store::MAX_PAGE).contains(&n) => n,
        Some(n) => {
            return Err(ApiError::bad_request(format!(
                "limit: {n} is out of range 1..={}",
                ferry_store::MAX_PAGE
            )));
        }
    };
    let page = st
        .store
        .audit(&AuditFilter {
            actor: q.actor,
            action: q.action,
            release_id: q.release,
            limit,
            cursor: q.cursor,
        })
        .await?;
    Ok(Json(page))
}
