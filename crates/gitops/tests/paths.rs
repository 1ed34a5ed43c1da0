//! Promotion templates and whole-file / whole-directory promotion cannot
//! read or write outside the application's directory: `..`, absolute
//! paths and symbolic links (committed in a real repository) are refused
//! with an error naming the template field and the link.

mod common;

use std::collections::BTreeMap;

use common::{Fixture, file_url, git};
use ferry_git::Change;
use ferry_gitops::{AppSource, Error, plan_changes, read_snapshot};
use ferry_model::resource::{PromotionFile, TemplateBody, VersionSource};
use ferry_release::ApplicationSnapshot;

fn template(version_file: Option<&str>, files: &[(&str, &str)]) -> TemplateBody {
    TemplateBody {
        version_source: version_file.map(|f| VersionSource {
            file: f.into(),
            json_path: "$.version".into(),
        }),
        promotion: Some(
            files
                .iter()
                .map(|(f, p)| {
                    (
                        f.to_string(),
                        PromotionFile {
                            json_paths: vec![p.to_string()],
                        },
                    )
                })
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}

/// Commits symbolic links (`path` → `target`) on top of `main`.
fn push_links(fx: &Fixture, links: &[(&str, &str)]) {
    for (path, target) in links {
        let at = fx.work.join(path);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(&at);
        std::os::unix::fs::symlink(target, &at).unwrap();
    }
    git(&fx.work, &["add", "-A"]);
    git(&fx.work, &["commit", "-q", "-m", "links"]);
    git(&fx.work, &["push", "-q", &file_url(&fx.remote), "main"]);
}

fn read(fx: &Fixture, path: &str, t: &TemplateBody) -> Result<ApplicationSnapshot, Error> {
    let mirror = fx.mirror();
    mirror.fetch().unwrap();
    let reader = mirror.at("main")?;
    let url = fx.url();
    read_snapshot(
        &reader,
        AppSource {
            application: "trio-dev",
            repo_url: &url,
            path,
        },
        t,
    )
    .map(|r| r.snapshot)
}

#[test]
fn dot_dot_and_absolute_names_are_refused_naming_the_field() {
    let fx = Fixture::new(|_| {});
    for file in [
        "../trio-qa/values.yaml",
        "/etc/passwd",
        "a/../../x.yaml",
        "..\\x",
    ] {
        let err = read(&fx, "apps/trio-dev", &template(None, &[(file, "$.x")])).unwrap_err();
        assert!(
            matches!(
                &err,
                Error::PathEscapes {
                    field: "spec.promotion",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().starts_with("spec.promotion: "), "{err}");
        let err = read(
            &fx,
            "apps/trio-dev",
            &template(Some(file), &[("values.yaml", "$..image")]),
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("spec.versionSource.file: "),
            "{err}"
        );
    }
    // A stored snapshot cannot smuggle a name out either (the target side).
    let mirror = fx.mirror();
    let reader = mirror.at("main").unwrap();
    let mut snapshot = read(
        &fx,
        "apps/trio-dev",
        &template(None, &[("values.yaml", "*")]),
    )
    .unwrap();
    snapshot.files = BTreeMap::from([("../trio-prod/values.yaml".into(), "x: 1\n".into())]);
    let err = plan_changes(&reader, "apps/trio-qa", &snapshot).unwrap_err();
    assert!(matches!(&err, Error::PathEscapes { .. }), "{err:?}");
}

#[test]
fn symlinks_out_of_the_tree_are_refused_when_reading() {
    let fx = Fixture::new(|_| {});
    push_links(
        &fx,
        &[
            ("apps/trio-dev/secrets.yaml", "../../../../etc/passwd"),
            ("apps/trio-dev/shared", "../trio-qa"),
            ("apps/trio-link", "trio-qa"),
        ],
    );
    // The promoted file itself.
    let err = read(
        &fx,
        "apps/trio-dev",
        &template(None, &[("secrets.yaml", "*")]),
    )
    .unwrap_err();
    match &err {
        Error::Symlink { field, link, .. } => {
            assert_eq!(*field, "spec.promotion");
            assert_eq!(link, "apps/trio-dev/secrets.yaml");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("symbolic link"), "{err}");
    // A directory on the way.
    let err = read(
        &fx,
        "apps/trio-dev",
        &template(None, &[("shared/values.yaml", "$..image")]),
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::Symlink { link, .. } if link == "apps/trio-dev/shared"),
        "{err:?}"
    );
    // The version source.
    let err = read(
        &fx,
        "apps/trio-dev",
        &template(Some("secrets.yaml"), &[("values.yaml", "$..image")]),
    )
    .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Symlink {
                field: "spec.versionSource.file",
                ..
            }
        ),
        "{err:?}"
    );
    // The application's directory itself.
    let err = read(
        &fx,
        "apps/trio-link",
        &template(None, &[("values.yaml", "$..image")]),
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::Symlink { link, .. } if link == "apps/trio-link"),
        "{err:?}"
    );
    // Whole-directory promotion does not skip a link silently.
    let whole = TemplateBody {
        version_source: None,
        promotion: None,
    };
    let err = read(&fx, "apps/trio-dev", &whole).unwrap_err();
    assert!(
        matches!(&err, Error::Symlink { link, .. } if link == "apps/trio-dev/secrets.yaml"),
        "{err:?}"
    );
    let err = read(&fx, "apps/trio-link", &whole).unwrap_err();
    assert!(matches!(&err, Error::Symlink { .. }), "{err:?}");
}

#[test]
fn symlinks_in_the_target_are_not_written_through() {
    let fx = Fixture::new(|_| {});
    let snapshot = read(
        &fx,
        "apps/trio-dev",
        &template(None, &[("values.yaml", "*")]),
    )
    .unwrap();
    push_links(
        &fx,
        &[
            ("apps/trio-qa/values.yaml", "../trio-prod/values.yaml"),
            ("apps/trio-stage", "trio-qa"),
        ],
    );
    let mirror = fx.mirror();
    mirror.fetch().unwrap();
    let reader = mirror.at("main").unwrap();
    let err = plan_changes(&reader, "apps/trio-qa", &snapshot).unwrap_err();
    assert!(
        matches!(&err, Error::Symlink { link, .. } if link == "apps/trio-qa/values.yaml"),
        "{err:?}"
    );
    let err = plan_changes(&reader, "apps/trio-stage", &snapshot).unwrap_err();
    assert!(
        matches!(&err, Error::Symlink { link, .. } if link == "apps/trio-stage"),
        "{err:?}"
    );
    // The Git layer refuses it too, whoever asks.
    for path in ["apps/trio-qa/values.yaml", "apps/trio-stage/values.yaml"] {
        let err = reader.diff(&[Change::write(path, "x: 1\n")]).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{path}: {err}");
    }
}
