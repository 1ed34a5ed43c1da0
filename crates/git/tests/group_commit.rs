//! Group commit (issue 24): promotions onto one branch of one mirror made
//! while a push runs build their commits one on another and share the next
//! push — every promotion still gets its own commit, pushed fast-forward
//! only, exactly once.
//!
//! One test in this binary: it counts the process's git commands.

mod common;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::mpsc;

use common::*;
use ferry_git::{
    Change, CommitSpec, Mirror, PushOptions, PushTarget, Remote, Signature, parse_trailers,
    promotion_message,
};

const PROMOTIONS: usize = 8;

fn spec(release: &str, app: &str) -> CommitSpec {
    CommitSpec {
        author: Signature::new("Ferry Bot", "ferry@example.com"),
        committer: None,
        message: promotion_message("shop", "1.0", "qa", app, release),
    }
}

#[test]
fn promotions_made_during_a_push_share_the_next_push() {
    let tmp = TempDir::new("group-commit");
    let files = gitops_files();
    let remote = bare_remote(tmp.path(), "gitops", &as_refs(&files));
    // Every push takes a second on the remote: the first promotion's push
    // is still running when the others have built their commits.
    let hook = remote.join("hooks/pre-receive");
    std::fs::write(&hook, "#!/bin/sh\ncat >/dev/null\nsleep 1\n").unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&hook)
        .status()
        .unwrap();
    let before = rev_parse(&remote, "main");
    let url = format!("file://{}", remote.display());
    let mirror = Mirror::open(
        &tmp.join("cache"),
        Remote::new(&url, Default::default()).unwrap(),
    )
    .unwrap();
    let git0 = ferry_git::stats();
    let promote = |n: usize, built: Option<mpsc::Sender<()>>| {
        let release = format!("01GROUP{n}");
        let outcome = mirror
            .commit_and_push(
                &PushTarget::branch("main"),
                &spec(&release, &format!("app-{n}")),
                &PushOptions::default(),
                |_| {
                    if let Some(built) = &built {
                        let _ = built.send(());
                    }
                    Ok::<_, Infallible>(vec![Change::write(
                        format!("apps/{n}/values.yaml"),
                        format!("tag: \"{n}\"\n"),
                    )])
                },
            )
            .unwrap();
        (release, outcome)
    };
    let outcomes = std::thread::scope(|s| {
        let (built, first_built) = mpsc::channel();
        let first = s.spawn(move || promote(0, Some(built)));
        // The others start once the first has built its commit (its push
        // is then under way or about to be).
        first_built.recv().unwrap();
        let rest: Vec<_> = (1..PROMOTIONS)
            .map(|n| s.spawn(move || promote(n, None)))
            .collect();
        let mut all = vec![first.join().unwrap()];
        all.extend(rest.into_iter().map(|h| h.join().unwrap()));
        all
    });
    let stats = ferry_git::stats().since(&git0);

    // Each landed, once, with its own commit.
    let log = git(
        &remote,
        &["log", "--format=%H %B%x00", &format!("{before}..main")],
    );
    let mut by_release: HashMap<String, Vec<String>> = HashMap::new();
    for entry in log.split('\0').map(str::trim).filter(|m| !m.is_empty()) {
        let (sha, message) = entry.split_once(' ').unwrap();
        let release = parse_trailers(message)
            .into_iter()
            .find(|t| t.key == "Ferry-Release")
            .map(|t| t.value)
            .expect("a promotion commit");
        by_release.entry(release).or_default().push(sha.to_owned());
    }
    assert_eq!(by_release.len(), PROMOTIONS, "{log}");
    for (release, outcome) in &outcomes {
        let commit = outcome.commit.expect("a commit").to_string();
        assert_eq!(by_release[release], vec![commit], "{release}");
        assert!(!outcome.reused);
    }
    for n in 0..PROMOTIONS {
        assert_eq!(
            git(&remote, &["show", &format!("main:apps/{n}/values.yaml")]),
            format!("tag: \"{n}\"")
        );
    }
    assert_only_fast_forwards(&remote, "main");
    // The first push carried the first commit; the seven built while it
    // ran went together in the next (a third if one was built late on a
    // very busy machine) — not one push each.
    assert!(
        (2..=3).contains(&stats.commands),
        "{} git commands for {PROMOTIONS} promotions",
        stats.commands
    );
    // The mirror knows the pushed tip without a fetch.
    assert_eq!(
        mirror.resolve("main").unwrap().to_string(),
        rev_parse(&remote, "main")
    );
}
