//! Deployments into one environment of one product, in order, each with
//! whether it failed and when the environment recovered.
//!
//! A *deployment* is an environment run whose change reached the
//! environment ([`EnvRun::is_deployment`]); it happened at the run's end
//! (`finished_at`: that is when its outcome is known). Deployments are
//! ordered by that instant, then by release number.
//!
//! A deployment *failed* when
//! - its run FAILED after the change reached the environment, or was
//!   terminated by a person or the flow timeout ([`Cause::Failed`],
//!   [`Cause::Terminated`]);
//! - it succeeded only after an earlier attempt had failed there
//!   ([`Cause::Retried`]);
//! - the next deployment into the environment is a rollback
//!   ([`Cause::RolledBack`]) or a hotfix release ([`Cause::Hotfix`]).
//!
//! Its *recovery* is the first successful deployment into the same
//! environment that ends after the failure began — for a retried run that
//! is the run itself. The failure begins at the run's `failed_at` (the end
//! of a FAILED or terminated run, the failed attempt of a retried one) or,
//! for a deployment that succeeded and was rolled back or hotfixed, at the
//! deployment itself.

use serde::Serialize;

use crate::facts::{EnvRun, Millis, RunStatus};

/// Why a deployment counts as failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum Cause {
    Failed,
    Terminated,
    Retried,
    RolledBack,
    Hotfix,
}

impl Cause {
    pub const ALL: [Cause; 5] = [
        Cause::Failed,
        Cause::Terminated,
        Cause::Retried,
        Cause::RolledBack,
        Cause::Hotfix,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Cause::Failed => "failed",
            Cause::Terminated => "terminated",
            Cause::Retried => "failed, then retried",
            Cause::RolledBack => "rolled back",
            Cause::Hotfix => "followed by a hotfix",
        }
    }
}

/// One deployment, classified.
#[derive(Debug, Clone, Copy)]
pub struct Deployment<'a> {
    pub run: &'a EnvRun,
    /// When it happened (the run's end).
    pub at: Millis,
    /// The run ended SUCCESSFUL.
    pub successful: bool,
    /// Why it counts as failed, if it does.
    pub cause: Option<Cause>,
    /// When the failure began (failed deployments only).
    pub failed_from: Option<Millis>,
    /// When the environment recovered: the end of the first successful
    /// deployment after the failure began (failed deployments only).
    pub recovered_at: Option<Millis>,
}

impl Deployment<'_> {
    /// Failed deployment recovery time, when it recovered.
    pub fn recovery(&self) -> Option<Millis> {
        Some(self.recovered_at? - self.failed_from?)
    }
}

/// The deployments among `runs` (all of one product and environment), in
/// order, classified.
pub fn deployments<'a>(runs: &[&'a EnvRun]) -> Vec<Deployment<'a>> {
    let mut deps: Vec<&EnvRun> = runs.iter().copied().filter(|r| r.is_deployment()).collect();
    deps.sort_by(|a, b| {
        (a.finished_at, a.number, &a.release_id).cmp(&(b.finished_at, b.number, &b.release_id))
    });
    deps.dedup_by(|a, b| a.release_id == b.release_id);
    // next_ok[i]: the first successful deployment at or after i.
    let mut next_ok = vec![None; deps.len() + 1];
    for i in (0..deps.len()).rev() {
        next_ok[i] = if deps[i].status == RunStatus::Successful {
            Some(i)
        } else {
            next_ok[i + 1]
        };
    }
    (0..deps.len())
        .map(|i| {
            let run = deps[i];
            let successful = run.status == RunStatus::Successful;
            let own = match run.status {
                RunStatus::Failed => Some(Cause::Failed),
                RunStatus::Terminated => Some(Cause::Terminated),
                RunStatus::Successful => run.failed_at.map(|_| Cause::Retried),
            };
            let next = deps.get(i + 1);
            let followed = match next {
                Some(n) if n.rollback => Some(Cause::RolledBack),
                Some(n) if n.hotfix => Some(Cause::Hotfix),
                _ => None,
            };
            let cause = own.or(followed);
            let failed_from = cause.map(|_| {
                if own.is_some() {
                    run.failed_at.unwrap_or(run.finished_at)
                } else {
                    run.finished_at
                }
            });
            let recovered_at = failed_from.and_then(|from| {
                let mut j = next_ok[i];
                while let Some(k) = j {
                    if deps[k].finished_at > from {
                        return Some(deps[k].finished_at);
                    }
                    j = next_ok[k + 1];
                }
                None
            });
            Deployment {
                run,
                at: run.finished_at,
                successful,
                cause,
                failed_from,
                recovered_at,
            }
        })
        .collect()
}
