//! The release as the API shows it (SPEC §9).
//!
//! The release record skips optional fields when they are empty (its
//! storage format); the API promises every SPEC §9 field, so absent ones
//! are written as `null` here rather than left out.
//!
//! An application's `health` is the health ferry shows
//! ([`ferry_release::ApplicationRun::health_shown`]): what the state
//! provider observed (`observedHealth`, at `observedAt`), except that a
//! failed post-action makes it `Degraded`, with `healthReason` saying why
//! and `failedStep` naming the step — so no answer says Healthy beside a
//! failed health check.

use ferry_release::Release;
use serde_json::{Map, Value};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{Ref, RefOr};

use crate::error::ApiError;

/// The fields [`release_json`] writes even when they are empty, by schema:
/// required (and `null`) in the document.
const ALWAYS: [(&str, &[&str]); 3] = [
    ("Release", &["finishedAt", "version"]),
    (
        "ApplicationRun",
        &[
            "promotionCommit",
            "pullRequest",
            "sync",
            "health",
            "observedAt",
        ],
    ),
    ("StepRun", &["startedAt", "finishedAt"]),
];

fn ensure(obj: &mut Map<String, Value>, keys: &[&str]) {
    for k in keys {
        obj.entry(k.to_string()).or_insert(Value::Null);
    }
}

/// `health` as shown, beside what was observed, and the failed step.
fn health(app: &mut Map<String, Value>, run: &ferry_release::ApplicationRun) {
    let shown = run.health_shown();
    app.insert("observedHealth".into(), Value::from(run.health.clone()));
    app.insert(
        "health".into(),
        Value::from(shown.as_ref().map(|s| s.health.clone())),
    );
    app.insert(
        "healthReason".into(),
        Value::from(shown.and_then(|s| s.reason)),
    );
    app.insert(
        "failedStep".into(),
        run.failed_step().map_or(Value::Null, |s| {
            serde_json::json!({
                "name": s.name,
                "phase": s.phase,
                "status": s.status,
                "message": s.message,
            })
        }),
    );
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
                // What ferry holds a SUSPENDED environment for (issue 20).
                env.insert("waitingReason".into(), Value::from(run.waiting_reason()));
                // The environment's steps as a whole (SPEC §4.3).
                env.insert(
                    "steps".into(),
                    serde_json::to_value(run.steps())
                        .map_err(|e| ApiError::internal("serialising a release", e))?,
                );
                if let Some(apps) = env.get_mut("applications").and_then(Value::as_array_mut) {
                    for (app, app_run) in apps
                        .iter_mut()
                        .filter_map(Value::as_object_mut)
                        .zip(&run.applications)
                    {
                        health(app, app_run);
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
        if let Some(RefOr::T(Schema::Object(o))) = components.schemas.get_mut("ApplicationRun") {
            for (name, property) in health_properties() {
                o.properties.insert(name.into(), property);
                o.required.push(name.into());
            }
        }
        if let Some(RefOr::T(Schema::Object(o))) = components.schemas.get_mut("EnvironmentRun") {
            let mut steps = ArrayBuilder::new()
                .items(Ref::from_schema_name("EnvironmentStep"))
                .build();
            steps.description = Some(
                "The environment's steps as a whole: the same-named step of every application, \
                 aggregated (any FAILED, else ERROR, TERMINATED, RUNNING, SUSPENDED, PENDING, else \
                 SUCCESS). \
                 Release detail only."
                    .into(),
            );
            o.properties.insert("steps".into(), steps.into());
            o.required.push("steps".into());
            let reason = ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                .description(Some(
                    "What ferry holds a SUSPENDED environment for, in words: an approval gate \
                     (`waiting for approval (1 of 2)`), a closed window or a freeze (`frozen \
                     until …`); null when it waits on something else (a pull request, a \
                     suspended workflow) or does not wait.",
                ));
            o.properties.insert("waitingReason".into(), reason.into());
            o.required.push("waitingReason".into());
        }
    }
}

/// The properties [`health`] adds to every application, for the document.
fn health_properties() -> Vec<(&'static str, RefOr<Schema>)> {
    let text = |description: &str| -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .description(Some(description))
            .into()
    };
    let failed = ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .description(Some("The first step that failed (FAILED or ERROR)."))
        .property("name", ObjectBuilder::new().schema_type(Type::String))
        .property("phase", Ref::from_schema_name("StepPhase"))
        .property("status", Ref::from_schema_name("StepStatus"))
        .property(
            "message",
            ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null])),
        )
        .required("name")
        .required("phase")
        .required("status")
        .required("message")
        .into();
    vec![
        (
            "observedHealth",
            text("The health the state provider (Argo CD, or git) reported, at `observedAt`."),
        ),
        (
            "healthReason",
            text("Why `health` differs from `observedHealth`."),
        ),
        ("failedStep", failed),
    ]
}
