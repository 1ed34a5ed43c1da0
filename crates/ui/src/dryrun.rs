//! The exact diff a promotion would commit, per environment and
//! application (the same planning as `ferry promote --dry-run`): a source
//! application's snapshot at its target revision — or a release's stored
//! snapshot, for a rollback — applied to each target application's files
//! at theirs. Git work runs on the blocking pool, each repository fetched
//! once per review; nothing is written.

use std::collections::HashMap;
use std::sync::Arc;

use ferry_git::Mirror;
use ferry_gitops::{AppSource, FileChange, Workspace, plan_changes, read_snapshot, unified_diff};
use ferry_model::Config;
use ferry_model::membership::{Member, ProductMembers};
use ferry_release::{ApplicationSnapshot, Snapshot};

/// Diff lines shown before files start folded: a long review is read a
/// file at a time, a short one at a glance.
const OPEN_LINES: usize = 120;
/// A file longer than this starts folded whatever the total.
const OPEN_FILE_LINES: usize = 60;

/// One line of a unified diff with its look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// `add`, `del`, `hunk`, `meta` or `ctx`.
    pub class: &'static str,
    pub text: String,
}

/// One file's change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDiff {
    pub path: String,
    pub created: bool,
    pub added: usize,
    pub removed: usize,
    pub lines: Vec<Line>,
    /// Shown unfolded.
    pub open: bool,
}

/// One application's planned change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppDiff {
    pub application: String,
    pub source: String,
    pub branch: String,
    /// Every changed file; empty: nothing to commit.
    pub files: Vec<FileDiff>,
    /// Why this application cannot be planned, when it cannot.
    pub problem: String,
}

/// One target environment's planned changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvDiff {
    pub environment: String,
    pub apps: Vec<AppDiff>,
}

impl EnvDiff {
    /// Whether every application has a diff or an explicit "no change".
    pub fn complete(&self) -> bool {
        self.apps.iter().all(|a| a.problem.is_empty())
    }

    pub fn changes(&self) -> usize {
        self.apps.iter().map(|a| a.files.len()).sum()
    }
}

fn file_diff(change: &FileChange) -> FileDiff {
    let text = unified_diff(change);
    let mut added = 0;
    let mut removed = 0;
    let lines = text
        .lines()
        .map(|l| {
            let class = if l.starts_with("+++") || l.starts_with("---") {
                "meta"
            } else if l.starts_with("@@") {
                "hunk"
            } else if l.starts_with('+') {
                added += 1;
                "add"
            } else if l.starts_with('-') {
                removed += 1;
                "del"
            } else {
                "ctx"
            };
            Line {
                class,
                text: l.to_owned(),
            }
        })
        .collect();
    FileDiff {
        path: change.path.clone(),
        created: change.old.is_none(),
        added,
        removed,
        lines,
        open: true,
    }
}

/// Folds files of a long review (see [`OPEN_LINES`]).
fn fold(envs: &mut [EnvDiff]) {
    let files = envs
        .iter_mut()
        .flat_map(|e| e.apps.iter_mut())
        .flat_map(|a| a.files.iter_mut());
    let mut total = 0;
    let all: Vec<&mut FileDiff> = files.collect();
    for f in &all {
        total += f.lines.len();
    }
    for f in all {
        f.open = total <= OPEN_LINES && f.lines.len() <= OPEN_FILE_LINES;
    }
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

/// Mirrors opened (and fetched) once per review.
struct Mirrors<'a> {
    ws: &'a Workspace,
    open: HashMap<String, Arc<Mirror>>,
}

fn redacted(e: &dyn std::fmt::Display) -> String {
    ferry_security::redact(&e.to_string())
}

impl Mirrors<'_> {
    fn get(&mut self, url: &str) -> Result<Arc<Mirror>, String> {
        if let Some(m) = self.open.get(url) {
            return Ok(Arc::clone(m));
        }
        let m = self.ws.mirror(url).map_err(|x| redacted(&x))?;
        m.fetch().map_err(|x| redacted(&x))?;
        self.open.insert(url.to_owned(), Arc::clone(&m));
        Ok(m)
    }
}

fn promoted(a: &ferry_model::resource::Application) -> Result<(String, String), String> {
    let s = a
        .promoted_source()
        .ok_or_else(|| format!("application `{}` has no source to promote", a.name()))?;
    let path = s
        .path
        .clone()
        .ok_or_else(|| format!("application `{}`: its source has no `path`", a.name()))?;
    Ok((s.repo_url.clone(), path))
}

fn app<'c>(
    config: &'c Config,
    m: &Member,
) -> Result<&'c ferry_model::resource::Application, String> {
    config
        .applications
        .get(m.app)
        .ok_or_else(|| format!("application `{}` is missing from the configuration", m.name))
}

/// The snapshot `source` would give at its target revision.
fn snapshot_of(
    config: &Config,
    mirrors: &mut Mirrors<'_>,
    source: &Member,
) -> Result<ApplicationSnapshot, String> {
    let src_app = app(config, source)?;
    let (url, path) = promoted(src_app)?;
    let reader = mirrors
        .get(&url)?
        .at(src_app.target_revision())
        .map_err(|x| redacted(&x))?;
    read_snapshot(
        &reader,
        AppSource {
            application: src_app.name(),
            repo_url: &url,
            path: &path,
        },
        &source.template.body,
    )
    .map(|r| r.snapshot)
    .map_err(|x| redacted(&x))
}

/// `snapshot` written into `target`'s files: its branch and the diffs.
fn apply(
    config: &Config,
    mirrors: &mut Mirrors<'_>,
    target: &Member,
    snapshot: &ApplicationSnapshot,
) -> Result<(String, Vec<FileDiff>), String> {
    let tgt_app = app(config, target)?;
    let (url, path) = promoted(tgt_app)?;
    let reader = mirrors
        .get(&url)?
        .at(tgt_app.target_revision())
        .map_err(|x| redacted(&x))?;
    let changes = plan_changes(&reader, &path, snapshot).map_err(|x| redacted(&x))?;
    Ok((
        tgt_app.target_revision().to_owned(),
        changes.iter().map(file_diff).collect(),
    ))
}

fn app_diff(
    target: &Member,
    source: &str,
    planned: Result<(String, Vec<FileDiff>), String>,
) -> AppDiff {
    match planned {
        Ok((branch, files)) => AppDiff {
            application: target.name.clone(),
            source: source.to_owned(),
            branch,
            files,
            problem: String::new(),
        },
        Err(problem) => AppDiff {
            application: target.name.clone(),
            source: source.to_owned(),
            branch: String::new(),
            files: Vec::new(),
            problem,
        },
    }
}

/// Plans every application of `product` from `from` into each of
/// `targets` (one environment for a promotion, every environment of a
/// flow from its trigger environment: a flow carries the trigger
/// environment's snapshot everywhere).
pub async fn plan(
    config: Arc<ferry_model::Loaded>,
    workspace: Arc<Workspace>,
    product: String,
    from: String,
    targets: Vec<String>,
) -> Vec<EnvDiff> {
    tokio::task::spawn_blocking(move || {
        let membership = ferry_model::Membership::compute(&config.config);
        let Some(members) = membership.product(&product) else {
            return Vec::new();
        };
        let mut mirrors = Mirrors {
            ws: &workspace,
            open: HashMap::new(),
        };
        let mut snapshots: HashMap<String, Result<ApplicationSnapshot, String>> = HashMap::new();
        let mut out: Vec<EnvDiff> = targets
            .iter()
            .map(|to| EnvDiff {
                environment: to.clone(),
                apps: pairs(members, &from, to)
                    .into_iter()
                    .map(|(target, source)| {
                        let Some(source) = source else {
                            return app_diff(
                                target,
                                "",
                                Err(format!(
                                    "no application with key `{}` in `{from}` to promote from",
                                    target.key
                                )),
                            );
                        };
                        let snap = snapshots
                            .entry(source.name.clone())
                            .or_insert_with(|| snapshot_of(&config.config, &mut mirrors, source))
                            .clone();
                        let planned =
                            snap.and_then(|s| apply(&config.config, &mut mirrors, target, &s));
                        app_diff(target, &source.name, planned)
                    })
                    .collect(),
            })
            .collect();
        fold(&mut out);
        out
    })
    .await
    .unwrap_or_default()
}

/// Plans a rollback: `snapshot` (a release's stored one) written into
/// `to`'s applications, each paired with its snapshot entry by key.
pub async fn plan_snapshot(
    config: Arc<ferry_model::Loaded>,
    workspace: Arc<Workspace>,
    product: String,
    snapshot: Snapshot,
    to: String,
) -> Vec<EnvDiff> {
    tokio::task::spawn_blocking(move || {
        let membership = ferry_model::Membership::compute(&config.config);
        let Some(members) = membership.product(&product) else {
            return Vec::new();
        };
        let mut mirrors = Mirrors {
            ws: &workspace,
            open: HashMap::new(),
        };
        let targets: Vec<&Member> = members.in_environment(&to).collect();
        let only = (targets.len() == 1 && snapshot.applications.len() == 1)
            .then(|| snapshot.applications.values().next())
            .flatten();
        let apps = targets
            .iter()
            .map(|t| {
                let snap = snapshot.applications.get(&t.key).or(only);
                let planned = match snap {
                    Some(s) => apply(&config.config, &mut mirrors, t, s),
                    None => Err(format!(
                        "the release's snapshot has no application with key `{}`",
                        t.key
                    )),
                };
                app_diff(t, snap.map_or("", |s| s.application.as_str()), planned)
            })
            .collect();
        let mut out = vec![EnvDiff {
            environment: to,
            apps,
        }];
        fold(&mut out);
        out
    })
    .await
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_lines_are_classified_and_counted() {
        let f = file_diff(&FileChange {
            path: "envs/qa/values.yaml".into(),
            old: Some("a: 1\nb: 2\n".into()),
            new: "a: 1\nb: 3\n".into(),
        });
        let classes: Vec<&str> = f.lines.iter().map(|l| l.class).collect();
        assert_eq!(classes, ["meta", "meta", "hunk", "ctx", "del", "add"]);
        assert_eq!((f.added, f.removed, f.created), (1, 1, false));
    }

    #[test]
    fn long_reviews_fold_per_file() {
        let file = |n: usize| FileDiff {
            path: format!("f{n}"),
            created: false,
            added: n,
            removed: 0,
            lines: vec![
                Line {
                    class: "add",
                    text: "+x".into()
                };
                n
            ],
            open: true,
        };
        let env = |files: Vec<FileDiff>| EnvDiff {
            environment: "qa".into(),
            apps: vec![AppDiff {
                application: "a".into(),
                source: "b".into(),
                branch: "main".into(),
                files,
                problem: String::new(),
            }],
        };
        let mut short = vec![env(vec![file(5), file(10)])];
        fold(&mut short);
        assert!(short[0].apps[0].files.iter().all(|f| f.open));
        let mut long = vec![env(vec![file(50), file(100)])];
        fold(&mut long);
        assert!(long[0].apps[0].files.iter().all(|f| !f.open));
    }
}
