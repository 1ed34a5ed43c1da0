//! Two replicas pushing to one repository (issue 11): each has its own
//! mirror of the remote and several pushers queued on it, all promoting
//! different files onto `main` at once. Every promotion must land, exactly
//! once, fast-forward only.
//!
//! Before the backoff after a lost race, the replica that had just pushed
//! kept winning (it knows the new tip without fetching) while the other's
//! fetch → build → push window always contained one of its pushes: a few
//! promotions per run lost the race 30 times in a row (the engine's
//! budget) and failed.

mod common;

use std::collections::HashMap;
use std::convert::Infallible;

use common::*;
use ferry_git::{
    Change, CommitSpec, Mirror, PushOptions, PushTarget, Remote, Signature, parse_trailers,
    promotion_message,
};

/// Pushers per replica, and promotions each makes one after another.
const PUSHERS: usize = 5;
const PROMOTIONS: usize = 20;

#[test]
fn two_replicas_pushing_to_one_branch_all_land_exactly_once() {
    let tmp = TempDir::new("contention");
    let files = gitops_files();
    let remote = bare_remote(tmp.path(), "gitops", &as_refs(&files));
    let before = rev_parse(&remote, "main");
    let url = format!("file://{}", remote.display());
    let replicas: Vec<Mirror> = (0..2)
        .map(|i| {
            Mirror::open(
                &tmp.join(&format!("replica-{i}")),
                Remote::new(&url, Default::default()).unwrap(),
            )
            .unwrap()
        })
        .collect();
    // As the engine pushes (its budget of attempts).
    let options = PushOptions {
        max_attempts: 30,
        ..PushOptions::default()
    };
    let outcomes: Vec<(String, Result<u32, String>)> = std::thread::scope(|s| {
        let mut pushers = Vec::new();
        for (r, mirror) in replicas.iter().enumerate() {
            for p in 0..PUSHERS {
                let options = &options;
                pushers.push(s.spawn(move || {
                    (0..PROMOTIONS)
                        .map(|n| {
                            let release = format!("01R{r}P{p}N{n}");
                            let spec = CommitSpec {
                                author: Signature::new("Ferry Bot", "ferry@example.com"),
                                committer: None,
                                message: promotion_message(
                                    "shop",
                                    "1.0",
                                    "qa",
                                    &format!("app-{r}-{p}"),
                                    &release,
                                ),
                            };
                            let pushed = mirror.commit_and_push(
                                &PushTarget::branch("main"),
                                &spec,
                                options,
                                |_| {
                                    Ok::<_, Infallible>(vec![Change::write(
                                        format!("apps/{r}-{p}/values.yaml"),
                                        format!("tag: \"{n}\"\n"),
                                    )])
                                },
                            );
                            (
                                release,
                                pushed.map(|o| o.attempts).map_err(|e| e.to_string()),
                            )
                        })
                        .collect::<Vec<_>>()
                }));
            }
        }
        pushers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let failed: Vec<_> = outcomes.iter().filter(|(_, o)| o.is_err()).collect();
    assert!(failed.is_empty(), "{} failed: {failed:#?}", failed.len());
    // Contention really happened (some push lost at least once).
    assert!(
        outcomes
            .iter()
            .any(|(_, o)| o.as_ref().is_ok_and(|a| *a > 1))
    );

    // Exactly one commit per promotion on the remote, by its trailers.
    let log = git(
        &remote,
        &["log", "--format=%B%x00", &format!("{before}..main")],
    );
    let mut by_release: HashMap<String, usize> = HashMap::new();
    for message in log.split('\0').map(str::trim).filter(|m| !m.is_empty()) {
        let release = parse_trailers(message)
            .into_iter()
            .find(|t| t.key == "Ferry-Release")
            .map(|t| t.value)
            .expect("a promotion commit");
        *by_release.entry(release).or_default() += 1;
    }
    assert_eq!(by_release.len(), outcomes.len());
    for (release, _) in &outcomes {
        assert_eq!(by_release.get(release), Some(&1), "{release}");
    }
    assert_only_fast_forwards(&remote, "main");
    // Every pusher's last value is on the tip.
    for r in 0..2 {
        for p in 0..PUSHERS {
            assert_eq!(
                git(
                    &remote,
                    &["show", &format!("main:apps/{r}-{p}/values.yaml")]
                ),
                format!("tag: \"{}\"", PROMOTIONS - 1)
            );
        }
    }
}
