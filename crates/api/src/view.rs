//! The release as the API shows it (SPEC §9).
//!
//! The release record skips optional fields when they are empty (its
//! storage format); the API promises every SPEC §9 field, so absent ones
//! are written as `null` here rather than left out.

use ferry_release::Release;
use serde_json::{Map, Value};
use utoipa::openapi::schema::{ArrayBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};

use crate::error::ApiError;

/// The fields [`release_json`] writes even when they are empty, by schema:
/// required (and `null`) in the document.
const ALWAYS: [(&str, &[&str]); 3] = [
    ("Release", &["finishedAt", "version"]),
    (
        "ApplicationRun",
        &["promotionCommit", "pullRequest", "sync", "health"],
    ),
    ("StepRun", &["startedAt", "finishedAt"]),
];

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
        ensure(top, ALWAYS[0].1);
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
                        ensure(app, ALWAYS[1].1);
                        if let Some(steps) = app.get_mut("steps").and_then(Value::as_array_mut) {
                            for step in steps.iter_mut().filter_map(Value::as_object_mut) {
                                ensure(step, ALWAYS[2].1);
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(v)
}

/// What [`release_json`] adds to the release record, in the OpenAPI
/// document: the fields it always writes are required, and every
/// environment has its `steps` as a whole.
pub struct ApiRelease;

impl utoipa::Modify for ApiRelease {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let Some(components) = doc.components.as_mut() else {
            return;
        };
        for (name, fields) in ALWAYS {
            if let Some(RefOr::T(Schema::Object(o))) = components.schemas.get_mut(name) {
                for f in fields {
                    if !o.required.iter().any(|r| r == f) {
                        o.required.push((*f).to_owned());
                    }
                }
            }
        }
        if let Some(RefOr::T(Schema::Object(o))) = components.schemas.get_mut("EnvironmentRun") {
            let mut steps = ArrayBuilder::new()
                .items(Ref::from_schema_name("EnvironmentStep"))
                .build();
            steps.description = Some(
                "The environment's steps as a whole: the same-named step of every application, \
                 aggregated (any FAILED, else ERROR, TERMINATED, RUNNING, PENDING, else SUCCESS). \
                 Release detail only."
                    .into(),
            );
            o.properties.insert("steps".into(), steps.into());
            o.required.push("steps".into());
        }
    }
}
