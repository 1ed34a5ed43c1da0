//! The release as the API shows it (SPEC §9).
//!
//! The release record skips optional fields when they are empty (its
//! storage format); the API promises every SPEC §9 field, so absent ones
//! are written as `null` here rather than left out.

use ferry_release::Release;
use serde_json::{Map, Value};

use crate::error::ApiError;

fn ensure(obj: &mut Map<String, Value>, keys: &[&str]) {
    for k in keys {
        obj.entry(k.to_string()).or_insert(Value::Null);
    }
}

/// The release JSON with every SPEC §9 field present.
pub fn release_json(release: &Release) -> Result<Value, ApiError> {
    let mut v = serde_json::to_value(release)
        .map_err(|e| ApiError::internal("serialising a release", e))?;
    if let Some(top) = v.as_object_mut() {
        ensure(top, &["finishedAt", "version"]);
        if let Some(envs) = top.get_mut("environments").and_then(Value::as_array_mut) {
            for (env, run) in envs
                .iter_mut()
                .filter_map(Value::as_object_mut)
                .zip(&release.environments)
            {
                // The environment's steps as a whole (SPEC §4.3).
                env.insert(
                    "steps".into(),
                    serde_json::to_value(run.steps())
                        .map_err(|e| ApiError::internal("serialising a release", e))?,
                );
                if let Some(apps) = env.get_mut("applications").and_then(Value::as_array_mut) {
                    for app in apps.iter_mut().filter_map(Value::as_object_mut) {
                        ensure(app, &["promotionCommit", "pullRequest", "sync", "health"]);
                        if let Some(steps) = app.get_mut("steps").and_then(Value::as_array_mut) {
                            for step in steps.iter_mut().filter_map(Value::as_object_mut) {
                                ensure(step, &["startedAt", "finishedAt"]);
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(v)
}
