//! Promotions dev → qa on a real product repository, one test per template
//! style, comparing the resulting files byte for byte with expected files.

mod common;

use std::collections::BTreeMap;

use common::{DEV_VALUES, Fixture, QA_VALUES, chart, deployment, git, version_file};
use ferry_git::{CommitSpec, PushOptions, PushOutcome, PushTarget, Signature, promotion_message};
use ferry_gitops::{
    AppSource, Error, ReadSnapshot, plan_changes, promote, read_snapshot, unified_diff,
};
use ferry_model::resource::{PromotionFile, TemplateBody, VersionSource};
use ferry_yamledit::{ScalarKind, Value};

/// `values.yaml` of qa after `$..image` is promoted from dev: the three
/// image mappings take dev's keys and values, `pullPolicy` (only in dev) is
/// inserted with its siblings' indentation, comments and quoting stay.
const QA_VALUES_IMAGES_PROMOTED: &str = "\
# Values for the trio product, qa environment.
# Do not edit the image tags by hand: ferry promotes them from dev.

buslog:
  image:
    repository: ghcr.io/example/buslog-v2 # the bus logger
    tag: main-1a2b3c4
  replicaCount: 2

ctrlr:
  image:
    repository: \"ghcr.io/example/ctrlr\"
    tag: 'main-5d6e7f8'
  replicaCount: 2
  resources: {limits: {cpu: 500m}}

flask-ui:
  image:
    repository: ghcr.io/example/flask-ui
    tag: \"main-9f8e7d6\"   # quoted on purpose
    pullPolicy: IfNotPresent
  service:
    port: 80
  ingress:
    host: qa.trio.example.com
";

fn template(version: bool, promotion: &[(&str, &[&str])]) -> TemplateBody {
    TemplateBody {
        version_source: version.then(|| VersionSource {
            file: "version.yaml".into(),
            json_path: "$.version".into(),
        }),
        promotion: Some(
            promotion
                .iter()
                .map(|(file, paths)| {
                    (
                        file.to_string(),
                        PromotionFile {
                            json_paths: paths.iter().map(|p| p.to_string()).collect(),
                        },
                    )
                })
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}

fn spec(release: &str, version: &str) -> CommitSpec {
    CommitSpec {
        author: Signature::new("ferry", "ferry@example.com"),
        committer: None,
        message: promotion_message("trio", version, "qa", "trio-qa", release),
    }
}

fn snapshot(fx: &Fixture, template: &TemplateBody) -> Result<ReadSnapshot, Error> {
    let mirror = fx.mirror();
    let reader = mirror.at("main")?;
    let url = fx.url();
    read_snapshot(
        &reader,
        AppSource {
            application: "trio-dev",
            repo_url: &url,
            path: "apps/trio-dev",
        },
        template,
    )
}

/// Reads dev's snapshot at `main` and promotes it into qa as one commit.
fn promote_dev_to_qa(fx: &Fixture, template: &TemplateBody, release: &str) -> PushOutcome {
    let read = snapshot(fx, template).unwrap();
    let version = read.version.clone().unwrap_or_else(|| "unknown".into());
    promote(
        &fx.mirror(),
        &PushTarget::branch("main"),
        "apps/trio-qa",
        &read.snapshot,
        &spec(release, &version),
        &PushOptions::default(),
    )
    .unwrap()
}

/// The files the last commit on `main` changed, sorted.
fn changed_files(fx: &Fixture) -> Vec<String> {
    let out = git(&fx.remote, &["diff", "--name-only", "main^", "main"]);
    out.lines().map(str::to_owned).collect()
}

#[test]
fn paths_with_recursive_descent_legacy_app_version_and_version() {
    let fx = Fixture::new(|_| {});
    let before = fx.tip();
    let t = template(
        true,
        &[
            ("values.yaml", &["$..image"]),
            ("Chart.yaml", &["$appVersion"]),
            ("version.yaml", &["$.version"]),
        ],
    );
    let read = snapshot(&fx, &t).unwrap();
    assert_eq!(read.version.as_deref(), Some("54.1"));
    assert_eq!(read.snapshot.revision, before);
    assert_eq!(read.snapshot.values["values.yaml"].len(), 3, "three images");
    assert!(read.snapshot.files.is_empty());

    let outcome = promote_dev_to_qa(&fx, &t, "01PATHS");
    assert!(!outcome.reused);
    assert_eq!(outcome.attempts, 1);
    assert_eq!(outcome.commit.unwrap().to_string(), fx.tip());
    assert_eq!(git(&fx.remote, &["rev-parse", "main^"]), before);

    assert_eq!(
        fx.remote_file("apps/trio-qa/values.yaml"),
        QA_VALUES_IMAGES_PROMOTED
    );
    assert_eq!(
        fx.remote_file("apps/trio-qa/Chart.yaml"),
        chart("qa", "54.1", "17.9.0")
    );
    assert_eq!(
        fx.remote_file("apps/trio-qa/version.yaml"),
        version_file("54.1")
    );
    assert_eq!(
        changed_files(&fx),
        [
            "apps/trio-qa/Chart.yaml",
            "apps/trio-qa/values.yaml",
            "apps/trio-qa/version.yaml"
        ]
    );
    // Dev, the other environments and the Applications are the same trees.
    for dir in [
        "apps/trio-dev",
        "apps/trio-staging",
        "apps/trio-prod",
        "argocd",
    ] {
        assert_eq!(fx.tree("main", dir), fx.tree("main^", dir), "{dir}");
    }

    let message = git(&fx.remote, &["log", "-1", "--format=%B", "main"]);
    assert_eq!(
        message,
        "promote trio 54.1 to qa (trio-qa)\n\nFerry-Release: 01PATHS\nFerry-Environment: qa\nFerry-Application: trio-qa"
    );
    assert_eq!(
        git(&fx.remote, &["log", "-1", "--format=%an <%ae>", "main"]),
        "ferry <ferry@example.com>"
    );
}

#[test]
fn bracket_key_with_a_dash_promotes_one_tag() {
    let fx = Fixture::new(|_| {});
    let t = template(false, &[("values.yaml", &["$[\"flask-ui\"].image.tag"])]);
    promote_dev_to_qa(&fx, &t, "01BRACKET");
    let expected = QA_VALUES.replace("tag: \"main-0000003\"", "tag: \"main-9f8e7d6\"");
    assert_ne!(expected, QA_VALUES);
    assert_eq!(fx.remote_file("apps/trio-qa/values.yaml"), expected);
    assert_eq!(changed_files(&fx), ["apps/trio-qa/values.yaml"]);
}

#[test]
fn whole_file_is_copied() {
    let fx = Fixture::new(|_| {});
    let t = template(true, &[("values.yaml", &["*"])]);
    let read = snapshot(&fx, &t).unwrap();
    assert_eq!(read.snapshot.files["values.yaml"], DEV_VALUES);
    assert!(read.snapshot.values.is_empty());
    promote_dev_to_qa(&fx, &t, "01WHOLE");
    assert_eq!(fx.remote_file("apps/trio-qa/values.yaml"), DEV_VALUES);
    assert_eq!(changed_files(&fx), ["apps/trio-qa/values.yaml"]);
}

#[test]
fn without_promotion_every_file_of_the_directory_is_copied() {
    let fx = Fixture::new(|_| {});
    let t = TemplateBody {
        version_source: None,
        promotion: None,
    };
    let read = snapshot(&fx, &t).unwrap();
    let files: Vec<&str> = read.snapshot.files.keys().map(String::as_str).collect();
    assert_eq!(
        files,
        [
            "Chart.yaml",
            "templates/configmap.yaml",
            "templates/deployment.yaml",
            "values.yaml",
            "version.yaml"
        ]
    );
    promote_dev_to_qa(&fx, &t, "01ALL");
    assert_eq!(fx.remote_file("apps/trio-qa/values.yaml"), DEV_VALUES);
    assert_eq!(
        fx.remote_file("apps/trio-qa/Chart.yaml"),
        chart("dev", "54.1", "17.11.3")
    );
    assert_eq!(
        fx.remote_file("apps/trio-qa/version.yaml"),
        version_file("54.1")
    );
    assert_eq!(
        fx.remote_file("apps/trio-qa/templates/deployment.yaml"),
        deployment("dev")
    );
    assert_eq!(
        fx.remote_file("apps/trio-qa/templates/configmap.yaml"),
        fx.remote_file("apps/trio-dev/templates/configmap.yaml")
    );
    // The file that exists only in the target is left alone.
    assert_eq!(
        fx.remote_file("apps/trio-qa/qa-overrides.yaml"),
        "# only in qa\nfeatureFlags:\n  darkLaunch: true\n"
    );
    assert_eq!(
        changed_files(&fx),
        [
            "apps/trio-qa/Chart.yaml",
            "apps/trio-qa/templates/configmap.yaml",
            "apps/trio-qa/templates/deployment.yaml",
            "apps/trio-qa/values.yaml",
            "apps/trio-qa/version.yaml",
        ]
    );
}

#[test]
fn crlf_target_keeps_its_line_endings() {
    let fx = Fixture::new(|files| {
        files.insert(
            "apps/trio-qa/values.yaml".into(),
            QA_VALUES.replace('\n', "\r\n"),
        );
    });
    let t = template(false, &[("values.yaml", &["$..image"])]);
    promote_dev_to_qa(&fx, &t, "01CRLF");
    let got = fx.remote_file("apps/trio-qa/values.yaml");
    assert_eq!(got, QA_VALUES_IMAGES_PROMOTED.replace('\n', "\r\n"));
    assert!(
        !got.replace("\r\n", "").contains('\n'),
        "no bare LF was introduced"
    );
}

#[test]
fn a_quoted_version_like_tag_stays_a_string() {
    let fx = Fixture::new(|files| {
        let dev = DEV_VALUES
            .replace("tag: main-1a2b3c4", "tag: \"1.20\"")
            .replace("tag: 'main-5d6e7f8'", "tag: \"1.20\"");
        files.insert("apps/trio-dev/values.yaml".into(), dev);
    });
    let t = template(
        false,
        &[("values.yaml", &["$.buslog.image.tag", "$.ctrlr.image.tag"])],
    );
    let read = snapshot(&fx, &t).unwrap();
    for pv in &read.snapshot.values["values.yaml"] {
        assert!(
            matches!(&pv.value, Value::Scalar(s) if s.kind == ScalarKind::String && s.text == "1.20")
        );
    }
    promote_dev_to_qa(&fx, &t, "01QUOTE");
    let got = fx.remote_file("apps/trio-qa/values.yaml");
    // A plain target tag cannot hold the string 1.20 (Helm would read the
    // number 1.2), so it is quoted; a single-quoted one keeps its quotes.
    let expected = QA_VALUES
        .replace("tag: main-0000001", "tag: \"1.20\"")
        .replace("tag: 'main-0000002'", "tag: '1.20'");
    assert_eq!(got, expected);
    for path in ["$.buslog.image.tag", "$.ctrlr.image.tag"] {
        let found = ferry_yamledit::query(&got, path).unwrap();
        assert!(
            matches!(&found[0].value, Value::Scalar(s) if s.kind == ScalarKind::String && s.text == "1.20"),
            "{path}: {:?}",
            found[0].value
        );
    }
}

#[test]
fn version_is_read_from_the_version_source() {
    let fx = Fixture::new(|files| {
        files.insert(
            "apps/trio-dev/Chart.yaml".into(),
            chart("dev", "54.2-rc1", "17.11.3"),
        );
    });
    let mirror = fx.mirror();
    let reader = mirror.at("main").unwrap();
    let vs = |file: &str, path: &str| VersionSource {
        file: file.into(),
        json_path: path.into(),
    };
    let read = |v: &VersionSource| ferry_gitops::read_version(&reader, "apps/trio-dev", v).unwrap();
    assert_eq!(
        read(&vs("version.yaml", "$.version")).as_deref(),
        Some("54.1")
    );
    assert_eq!(
        read(&vs("Chart.yaml", "$appVersion")).as_deref(),
        Some("54.2-rc1")
    );
    assert_eq!(
        read(&vs("values.yaml", "$[\"flask-ui\"].image.tag")).as_deref(),
        Some("main-9f8e7d6")
    );
    // Absent file or path: no version, not an error.
    assert_eq!(read(&vs("missing.yaml", "$.version")), None);
    assert_eq!(read(&vs("version.yaml", "$.nope")), None);
    let qa = ferry_gitops::read_version(&reader, "apps/trio-qa", &vs("version.yaml", "$.version"))
        .unwrap();
    assert_eq!(qa.as_deref(), Some("53.7"));
}

#[test]
fn a_missing_source_file_is_a_clear_error() {
    let fx = Fixture::new(|_| {});
    let t = template(
        false,
        &[("values.yaml", &["$..image"]), ("missing.yaml", &["$.x"])],
    );
    let err = snapshot(&fx, &t).unwrap_err();
    assert!(
        matches!(&err, Error::MissingSourceFile { file, application, .. }
        if file == "apps/trio-dev/missing.yaml" && application == "trio-dev"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("apps/trio-dev/missing.yaml") && text.contains("trio-dev"),
        "{text}"
    );
}

#[test]
fn a_path_missing_in_the_target_is_created_under_its_mapping() {
    // Ends with the `ctrlr` section's last line.
    let qa_without_ui = QA_VALUES.split("\nflask-ui:").next().unwrap().to_owned();
    let fx = Fixture::new(|files| {
        files.insert("apps/trio-qa/values.yaml".into(), qa_without_ui.clone());
    });
    let t = template(false, &[("values.yaml", &["$[\"flask-ui\"].image.tag"])]);
    promote_dev_to_qa(&fx, &t, "01CREATE");
    let got = fx.remote_file("apps/trio-qa/values.yaml");
    // The missing mappings are built down to the value, which keeps the
    // source's quoting.
    assert_eq!(
        got,
        format!("{qa_without_ui}flask-ui:\n  image:\n    tag: \"main-9f8e7d6\"\n")
    );
}

#[test]
fn a_path_that_cannot_be_created_is_a_clear_error_and_nothing_is_pushed() {
    let fx = Fixture::new(|files| {
        // qa turns the UI off with a scalar: there is no mapping to put `image` in.
        let qa =
            QA_VALUES.split("\nflask-ui:").next().unwrap().to_owned() + "\nflask-ui: disabled\n";
        files.insert("apps/trio-qa/values.yaml".into(), qa);
    });
    let before = fx.tip();
    let t = template(false, &[("values.yaml", &["$[\"flask-ui\"].image.tag"])]);
    let read = snapshot(&fx, &t).unwrap();
    let mirror = fx.mirror();
    let reader = mirror.at("main").unwrap();
    let planned = plan_changes(&reader, "apps/trio-qa", &read.snapshot).unwrap_err();
    assert!(
        matches!(&planned, Error::Yaml { file, .. } if file == "apps/trio-qa/values.yaml"),
        "{planned:?}"
    );
    let text = planned.to_string();
    assert!(
        text.contains("apps/trio-qa/values.yaml") && text.contains("flask-ui"),
        "{text}"
    );
    let err = promote(
        &mirror,
        &PushTarget::branch("main"),
        "apps/trio-qa",
        &read.snapshot,
        &spec("01MISSING", "54.1"),
        &PushOptions::default(),
    )
    .unwrap_err();
    let chain = format!("{err} / {:?}", std::error::Error::source(&err));
    assert!(chain.contains("apps/trio-qa/values.yaml"), "{chain}");
    assert_eq!(fx.tip(), before);
}

#[test]
fn the_same_promotion_twice_makes_one_commit() {
    let fx = Fixture::new(|_| {});
    let t = template(true, &[("values.yaml", &["$..image"])]);
    let first = promote_dev_to_qa(&fx, &t, "01IDEM");
    let count = fx.commit_count();
    // A crashed-and-restarted engine retries; another promotion has landed meanwhile.
    fx.external_push(
        &[("apps/trio-prod/notes.txt", "unrelated\n")],
        "unrelated change",
    );
    let second = promote_dev_to_qa(&fx, &t, "01IDEM");
    assert!(second.reused);
    assert_eq!(second.commit, first.commit);
    assert_eq!(second.attempts, 0);
    assert_eq!(
        fx.commit_count(),
        count + 1,
        "only the external commit was added"
    );
    assert_eq!(
        git(&fx.remote, &["log", "--format=%s", "main"])
            .matches("promote trio")
            .count(),
        1
    );
}

#[test]
fn nothing_to_change_means_no_commit() {
    let fx = Fixture::new(|_| {});
    let t = template(
        true,
        &[
            ("values.yaml", &["$..image"]),
            ("version.yaml", &["$.version"]),
        ],
    );
    promote_dev_to_qa(&fx, &t, "01FIRST");
    let tip = fx.tip();
    // A different release with the same values: qa already holds them.
    let read = snapshot(&fx, &t).unwrap();
    let mirror = fx.mirror();
    let reader = mirror.at("main").unwrap();
    assert!(
        plan_changes(&reader, "apps/trio-qa", &read.snapshot)
            .unwrap()
            .is_empty()
    );
    let outcome = promote_dev_to_qa(&fx, &t, "01SECOND");
    assert_eq!(outcome.commit, None);
    assert!(!outcome.reused);
    assert_eq!(outcome.attempts, 0);
    assert_eq!(fx.tip(), tip);
}

#[test]
fn a_push_between_snapshot_and_promotion_is_kept_and_the_promotion_lands_on_top() {
    let fx = Fixture::new(|_| {});
    let t = template(
        true,
        &[
            ("values.yaml", &["$..image"]),
            ("version.yaml", &["$.version"]),
        ],
    );
    let mirror = fx.mirror();
    let read = snapshot(&fx, &t).unwrap();
    // Another process edits qa's values (a different line) and pushes; the
    // mirror has not seen it.
    let edited_by_someone =
        QA_VALUES.replace("host: qa.trio.example.com", "host: qa2.trio.example.com");
    let external = fx.external_push(
        &[("apps/trio-qa/values.yaml", &edited_by_someone)],
        "qa: new host",
    );
    let outcome = promote(
        &mirror,
        &PushTarget::branch("main"),
        "apps/trio-qa",
        &read.snapshot,
        &spec("01RACE", "54.1"),
        &PushOptions::default(),
    )
    .unwrap();
    assert_eq!(outcome.attempts, 2, "the first push lost the race");
    assert_eq!(outcome.commit.unwrap().to_string(), fx.tip());
    assert_eq!(git(&fx.remote, &["rev-parse", "main^"]), external);
    // Both edits are in the file: the snapshot was re-applied on the new tip.
    assert_eq!(
        fx.remote_file("apps/trio-qa/values.yaml"),
        QA_VALUES_IMAGES_PROMOTED
            .replace("host: qa.trio.example.com", "host: qa2.trio.example.com")
    );
    assert_eq!(
        fx.remote_file("apps/trio-qa/version.yaml"),
        version_file("54.1")
    );
}

#[test]
fn dry_run_diff_is_the_diff_git_shows_for_the_commit() {
    let fx = Fixture::new(|_| {});
    let t = template(
        true,
        &[
            ("values.yaml", &["$..image"]),
            ("Chart.yaml", &["$appVersion"]),
        ],
    );
    let read = snapshot(&fx, &t).unwrap();
    let mirror = fx.mirror();
    let reader = mirror.at("main").unwrap();
    let changes = plan_changes(&reader, "apps/trio-qa", &read.snapshot).unwrap();
    let planned: String = changes.iter().map(unified_diff).collect();
    promote_dev_to_qa(&fx, &t, "01DIFF");
    // `git diff` with the same context, minus its `diff --git`/`index` lines.
    let git_diff = git(&fx.remote, &["diff", "--no-color", "-U3", "main^", "main"]);
    let git_hunks: String = git_diff
        .lines()
        .filter(|l| !l.starts_with("diff --git") && !l.starts_with("index "))
        // git adds the nearest "function" line after the hunk header; drop it.
        .map(
            |l| match l.strip_prefix("@@ ").and_then(|r| r.split_once(" @@")) {
                Some((ranges, _)) => format!("@@ {ranges} @@\n"),
                None => format!("{l}\n"),
            },
        )
        .collect();
    assert_eq!(planned, git_hunks);
}

#[test]
fn a_promoted_file_missing_in_the_target_is_a_clear_error() {
    let fx = Fixture::new(|files| {
        files.remove("apps/trio-qa/version.yaml");
    });
    let t = template(true, &[("version.yaml", &["$.version"])]);
    let read = snapshot(&fx, &t).unwrap();
    let mirror = fx.mirror();
    let reader = mirror.at("main").unwrap();
    let err = plan_changes(&reader, "apps/trio-qa", &read.snapshot).unwrap_err();
    assert!(
        matches!(&err, Error::MissingTargetFile { file, revision } if file == "apps/trio-qa/version.yaml" && *revision == fx.tip()),
        "{err:?}"
    );
    assert!(err.to_string().contains("promote it whole (`*`)"), "{err}");
}

#[test]
fn promoted_files_cannot_leave_the_application_directory() {
    let fx = Fixture::new(|_| {});
    for file in ["../trio-prod/values.yaml", "/etc/passwd"] {
        let t = template(false, &[(file, &["$.x"])]);
        let err = snapshot(&fx, &t).unwrap_err();
        assert!(
            matches!(&err, Error::PathEscapes { file: f, .. } if f == file),
            "{file}: {err:?}"
        );
    }
}

#[test]
fn pull_request_mode_commits_on_the_release_branch_and_leaves_the_base_alone() {
    let fx = Fixture::new(|_| {});
    let main_before = fx.tip();
    let t = template(true, &[("values.yaml", &["$..image"])]);
    let read = snapshot(&fx, &t).unwrap();
    let branch = PushTarget::pull_request_branch("trio", "qa", 7);
    let outcome = promote(
        &fx.mirror(),
        &PushTarget::new_branch("main", branch.clone()),
        "apps/trio-qa",
        &read.snapshot,
        &spec("01PR", "54.1"),
        &PushOptions::default(),
    )
    .unwrap();
    assert_eq!(outcome.branch, "ferry/trio/qa/7");
    assert_eq!(fx.tip(), main_before);
    let pr_tip = git(&fx.remote, &["rev-parse", "ferry/trio/qa/7"]);
    assert_eq!(outcome.commit.unwrap().to_string(), pr_tip);
    assert_eq!(
        git(&fx.remote, &["rev-parse", "ferry/trio/qa/7^"]),
        main_before
    );
    assert_eq!(
        git(
            &fx.remote,
            &["show", "ferry/trio/qa/7:apps/trio-qa/values.yaml"]
        ),
        QA_VALUES_IMAGES_PROMOTED.trim_end()
    );
}

#[test]
fn a_binary_file_cannot_be_promoted_and_the_error_names_it() {
    let fx = Fixture::new(|_| {});
    // A vendored chart archive (not UTF-8) in dev's directory.
    let work = &fx.work;
    std::fs::create_dir_all(work.join("apps/trio-dev/charts")).unwrap();
    std::fs::write(
        work.join("apps/trio-dev/charts/redis-17.11.3.tgz"),
        [0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe],
    )
    .unwrap();
    git(work, &["add", "-A"]);
    git(work, &["commit", "-q", "-m", "vendor redis"]);
    git(work, &["push", "-q", &fx.url(), "main"]);
    let err = snapshot(
        &fx,
        &TemplateBody {
            version_source: None,
            promotion: None,
        },
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::NotText { file } if file == "apps/trio-dev/charts/redis-17.11.3.tgz"),
        "{err:?}"
    );
}

#[test]
fn the_workspace_keeps_one_mirror_per_repository() {
    use std::sync::{Arc, Mutex};
    let fx = Fixture::new(|_| {});
    let asked: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = Arc::clone(&asked);
    let workspace = ferry_gitops::Workspace::new(
        fx.cache.clone(),
        Arc::new(move |url: &str| {
            seen.lock().unwrap().push(url.to_owned());
            ferry_git::Credentials::None
        }),
    );
    let url = fx.url();
    let a = workspace.mirror(&url).unwrap();
    let b = workspace.mirror(&url).unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(
        *asked.lock().unwrap(),
        std::slice::from_ref(&url),
        "credentials looked up once, by URL"
    );
    assert!(a.path().starts_with(&fx.cache));
    assert_eq!(a.resolve("main").unwrap().to_string(), fx.tip());
    // A second workspace on the same cache opens the warm mirror.
    let again = ferry_gitops::Workspace::new(
        fx.cache.clone(),
        Arc::new(|_: &str| ferry_git::Credentials::None),
    );
    assert_eq!(again.mirror(&url).unwrap().path(), a.path());
}
