//! The exact diff a one-environment promotion would commit, per
//! application (the same planning as `ferry promote --dry-run`: the
//! source application's snapshot at its target revision, applied to the
//! target application's files at theirs). Git work runs on the blocking
//! pool; nothing is written.

use std::sync::Arc;

use ferry_gitops::{AppSource, Workspace, plan_changes, read_snapshot, unified_diff};
use ferry_model::Config;
use ferry_model::membership::{Member, ProductMembers};

/// One application's planned change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppDiff {
    pub application: String,
    pub source: String,
    pub branch: String,
    /// The unified diff of every changed file; empty: nothing to commit.
    pub diff: String,
    /// Why this application cannot be planned, when it cannot.
    pub problem: String,
}

/// Pairs each target application with its source counterpart: by key,
/// or the only two when each environment has one.
fn pairs<'a>(
    members: &'a ProductMembers,
    from: &'a str,
    to: &'a str,
) -> Vec<(&'a Member, Option<&'a Member>)> {
    let sources: Vec<&Member> = members.in_environment(from).collect();
    let targets: Vec<&Member> = members.in_environment(to).collect();
    if let ([s], [t]) = (sources.as_slice(), targets.as_slice()) {
        return vec![(*t, Some(*s))];
    }
    targets
        .into_iter()
        .map(|t| (t, sources.iter().find(|s| s.key == t.key).copied()))
        .collect()
}

fn plan_one(
    config: &Config,
    ws: &Workspace,
    source: &Member,
    target: &Member,
) -> Result<(String, String), String> {
    let app = |m: &Member| {
        config
            .applications
            .get(m.app)
            .ok_or_else(|| format!("application `{}` is missing from the configuration", m.name))
    };
    let (src_app, tgt_app) = (app(source)?, app(target)?);
    let promoted = |a: &ferry_model::resource::Application| {
        let s = a
            .promoted_source()
            .ok_or_else(|| format!("application `{}` has no source to promote", a.name()))?;
        let path = s
            .path
            .clone()
            .ok_or_else(|| format!("application `{}`: its source has no `path`", a.name()))?;
        Ok::<_, String>((s.repo_url.clone(), path))
    };
    let (src_url, src_path) = promoted(src_app)?;
    let (tgt_url, tgt_path) = promoted(tgt_app)?;
    let e = |e: &dyn std::fmt::Display| ferry_security::redact(&e.to_string());
    let src_mirror = ws.mirror(&src_url).map_err(|x| e(&x))?;
    src_mirror.fetch().map_err(|x| e(&x))?;
    let reader = src_mirror
        .at(src_app.target_revision())
        .map_err(|x| e(&x))?;
    let read = read_snapshot(
        &reader,
        AppSource {
            application: src_app.name(),
            repo_url: &src_url,
            path: &src_path,
        },
        &source.template.body,
    )
    .map_err(|x| e(&x))?;
    let tgt_mirror = if tgt_url == src_url {
        src_mirror
    } else {
        let m = ws.mirror(&tgt_url).map_err(|x| e(&x))?;
        m.fetch().map_err(|x| e(&x))?;
        m
    };
    let target_reader = tgt_mirror
        .at(tgt_app.target_revision())
        .map_err(|x| e(&x))?;
    let changes = plan_changes(&target_reader, &tgt_path, &read.snapshot).map_err(|x| e(&x))?;
    Ok((
        tgt_app.target_revision().to_owned(),
        changes.iter().map(unified_diff).collect(),
    ))
}

/// Plans every application of `product` from `from` to `to`.
pub async fn plan(
    config: Arc<ferry_model::Loaded>,
    workspace: Arc<Workspace>,
    product: String,
    from: String,
    to: String,
) -> Vec<AppDiff> {
    tokio::task::spawn_blocking(move || {
        let membership = ferry_model::Membership::compute(&config.config);
        let Some(members) = membership.product(&product) else {
            return Vec::new();
        };
        pairs(members, &from, &to)
            .into_iter()
            .map(|(target, source)| {
                let Some(source) = source else {
                    return AppDiff {
                        application: target.name.clone(),
                        source: String::new(),
                        branch: String::new(),
                        diff: String::new(),
                        problem: format!(
                            "no application with key `{}` in `{from}` to promote from",
                            target.key
                        ),
                    };
                };
                match plan_one(&config.config, &workspace, source, target) {
                    Ok((branch, diff)) => AppDiff {
                        application: target.name.clone(),
                        source: source.name.clone(),
                        branch,
                        diff,
                        problem: String::new(),
                    },
                    Err(problem) => AppDiff {
                        application: target.name.clone(),
                        source: source.name.clone(),
                        branch: String::new(),
                        diff: String::new(),
                        problem,
                    },
                }
            })
            .collect()
    })
    .await
    .unwrap_or_default()
}
