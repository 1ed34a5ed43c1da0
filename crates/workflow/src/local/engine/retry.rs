//! `retryStrategy` of any template, as Argo decides retries: the policy
//! (`OnFailure` by default, `Always` when only an `expression` is given),
//! `limit` (no limit when unset: `retryStrategy: {}` retries until success),
//! `expression` over `lastRetry.*`, and `backoff` (`duration` × `factor`^n,
//! at most `cap`, all attempts within `maxDuration`).

use super::*;
use crate::template::IntOrString;

pub(super) struct Plan {
    at: String,
    limit: Option<u32>,
    on_failed: bool,
    on_error: bool,
    backoff: Option<Backoff>,
    expression: Option<String>,
}

struct Backoff {
    duration: Duration,
    factor: f64,
    cap: Option<Duration>,
    max_duration: Option<Duration>,
}

pub(super) enum Decision {
    /// No further attempt; the reason, if there is one worth saying.
    Stop(Option<String>),
    /// Try again after this wait.
    After(Duration),
}

/// The retry plan of a template after substitution; `None` without a
/// `retryStrategy`.
pub(super) fn plan(ctx: &Ctx, tref: &TemplateRef, scope: &Scope) -> Result<Option<Plan>, String> {
    let Some(rs) = &tref.tmpl.retry_strategy else {
        return Ok(None);
    };
    let at = format!("{}.retryStrategy", tref.at);
    let limit = match &rs.limit {
        None => None,
        Some(l) => {
            let t = ctx.subst(scope, &format!("{at}.limit"), &l.0)?;
            Some(
                t.trim()
                    .parse()
                    .map_err(|_| format!("{at}.limit: {t:?} is not a whole number"))?,
            )
        }
    };
    let (on_failed, on_error) = match rs.retry_policy.as_deref() {
        Some("Always") => (true, true),
        Some("OnError") => (false, true),
        // Nothing that happens on this machine is one of Argo's transient
        // (network, API server) errors.
        Some("OnTransientError") => (false, false),
        Some("OnFailure") => (true, false),
        Some(other) => return Err(format!("{at}.retryPolicy: unknown policy {other:?}")),
        None if rs.expression.is_some() => (true, true),
        None => (true, false),
    };
    let dur = |field: &str, v: &Option<IntOrString>| -> Result<Option<Duration>, String> {
        match v {
            None => Ok(None),
            Some(v) => {
                let t = ctx.subst(scope, &format!("{at}.backoff.{field}"), &v.0)?;
                parse_duration(&t)
                    .map(Some)
                    .map_err(|e| format!("{at}.backoff.{field}: {e}"))
            }
        }
    };
    let backoff = match &rs.backoff {
        None => None,
        Some(b) => {
            let factor = match &b.factor {
                None => 1.0,
                Some(f) => {
                    let t = ctx.subst(scope, &format!("{at}.backoff.factor"), &f.0)?;
                    t.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite() && *x >= 0.0)
                        .ok_or_else(|| format!("{at}.backoff.factor: {t:?} is not a number"))?
                }
            };
            Some(Backoff {
                duration: dur("duration", &b.duration)?.unwrap_or(Duration::ZERO),
                factor: if factor > 0.0 { factor } else { 1.0 },
                cap: dur("cap", &b.cap)?,
                max_duration: dur("maxDuration", &b.max_duration)?,
            })
        }
    };
    Ok(Some(Plan {
        at,
        limit,
        on_failed,
        on_error,
        backoff,
        expression: rs.expression.clone(),
    }))
}

/// After failed attempt number `attempt`: another one, or not.
pub(super) fn decide(
    ctx: &Ctx,
    plan: &Plan,
    scope: &Scope,
    attempt: u32,
    last: &NodeResult,
    first: Instant,
    last_duration: Duration,
) -> Decision {
    let mut wait = Duration::ZERO;
    if let Some(b) = &plan.backoff {
        if let Some(max) = b.max_duration
            && first.elapsed() >= max
        {
            return Decision::Stop(Some("max duration limit exceeded".into()));
        }
        let factor = b.factor.powi(attempt.saturating_sub(1).min(64) as i32);
        wait =
            Duration::try_from_secs_f64(b.duration.as_secs_f64() * factor).unwrap_or(Duration::MAX);
        if let Some(cap) = b.cap {
            wait = wait.min(cap);
        }
        if let Some(max) = b.max_duration
            && first.elapsed() + wait > max
        {
            return Decision::Stop(Some("backoff would exceed max duration limit".into()));
        }
    }
    // A command that could not start is a failure (as a pod whose command
    // is missing is on Argo) that `OnError` retries too.
    let retry = (last.status == StepStatus::Failed && plan.on_failed)
        || ((last.status == StepStatus::Error || last.infra_error) && plan.on_error);
    if !retry {
        return Decision::Stop(None);
    }
    if plan.limit.is_some_and(|l| attempt > l) {
        return Decision::Stop(None);
    }
    if let Some(e) = &plan.expression {
        let mut s = scope.clone();
        s.insert(
            "lastRetry.exitCode".into(),
            last.exit_code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "-1".into()),
        );
        s.insert("lastRetry.status".into(), last.phase.as_str().into());
        // Argo's node times have whole seconds.
        s.insert(
            "lastRetry.duration".into(),
            last_duration.as_secs().to_string(),
        );
        s.insert(
            "lastRetry.message".into(),
            last.message.clone().unwrap_or_default(),
        );
        // Argo substitutes `{{…}}` in the expression first.
        let at = format!("{}.expression", plan.at);
        let evaluated = ctx
            .subst(&s, &at, e)
            .and_then(|src| ctx.eval(&s, &at, &src));
        match evaluated {
            Ok(crate::exprlang::Value::Bool(true)) => {}
            Ok(crate::exprlang::Value::Bool(false)) => {
                return Decision::Stop(None);
            }
            Ok(other) => {
                return Decision::Stop(Some(format!(
                    "{}.expression gave {}, not a boolean",
                    plan.at,
                    other.type_name()
                )));
            }
            Err(e) => return Decision::Stop(Some(e)),
        }
    }
    Decision::After(wait)
}

/// The result of the last attempt, saying how many there were.
pub(super) fn final_result(mut r: NodeResult, attempt: u32, why: Option<String>) -> NodeResult {
    let mut msg = r.message.take().unwrap_or_default();
    if attempt > 1 {
        msg = format!("{msg} (after {attempt} attempts)");
    }
    if let Some(why) = why {
        msg = format!("{msg}; {why}");
    }
    r.message = Some(msg);
    r
}
