//! Single-flight fetches (issue 24): many callers asking for a fresh
//! mirror at once share the fetch that serves them. Its tests run one at a
//! time in their own binary, so `ferry_git::stats()` counts this test's git commands only.

mod common;

use std::sync::{Arc, Barrier, Mutex};

/// The tests of this file one at a time (git command counts are per process).
static SERIAL: Mutex<()> = Mutex::new(());

use common::*;
use ferry_git::{Mirror, Remote};

#[test]
fn concurrent_fetches_share_one_or_two_git_fetches() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let tmp = TempDir::new("flight");
    let files = gitops_files();
    let remote = bare_remote(tmp.path(), "gitops", &as_refs(&files));
    let mirror =
        Arc::new(Mirror::open(&tmp.join("cache"), Remote::local(&remote).unwrap()).unwrap());
    let pushed = external_push(
        tmp.path(),
        &remote,
        "main",
        &[("envs/qa/trio/version.yaml", "version: 60\n")],
        "bump",
    );
    const CALLERS: usize = 24;
    for round in 0..3 {
        let barrier = Arc::new(Barrier::new(CALLERS));
        let before = ferry_git::stats();
        let ran: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..CALLERS)
                .map(|_| {
                    let (mirror, barrier) = (Arc::clone(&mirror), Arc::clone(&barrier));
                    s.spawn(move || {
                        barrier.wait();
                        usize::from(mirror.fetch().unwrap())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        let commands = ferry_git::stats().since(&before).commands;
        // Callers arriving while a fetch runs need the next one: at most
        // two fetches for all of them (each one git command).
        assert!(
            (1..=2).contains(&ran) && commands == ran as u64,
            "round {round}: {ran} callers ran a fetch, {commands} git commands"
        );
        assert_eq!(mirror.resolve("main").unwrap().to_string(), pushed);
    }
}

#[test]
fn a_failed_fetch_is_reported_to_the_callers_it_was_to_serve() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let tmp = TempDir::new("flight-fail");
    let files = gitops_files();
    let remote = bare_remote(tmp.path(), "gitops", &as_refs(&files));
    let mirror =
        Arc::new(Mirror::open(&tmp.join("cache"), Remote::local(&remote).unwrap()).unwrap());
    std::fs::rename(&remote, tmp.join("moved.git")).unwrap();
    let errors: Vec<ferry_git::Error> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let mirror = Arc::clone(&mirror);
                s.spawn(move || mirror.fetch().unwrap_err())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(errors.iter().all(|e| e.is_transient()), "{errors:?}");
    assert!(
        errors.iter().all(|e| e.to_string().contains("gitops.git")),
        "{errors:?}"
    );
}
