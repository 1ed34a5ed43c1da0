//! Release notes from the cache as a client sees them (issue 8: "from
//! cache ≤ 5 ms"): the real server (`Server::build`, in process, SQLite)
//! answering `GET /api/v1/releases/{id}/notes` for a release of 10,002
//! code commits across 3 repositories (≈ 4.8 MB of JSON), timed from the
//! request until the whole body is received, one request at a time.
//!
//! The notes document is made the way the builder makes it (each commit
//! message parsed by `ferry_notes::message::parse`, the same generated
//! messages as `cargo bench -p ferry-notes --bench notes`) and stored with
//! `ferry_notes::store_notes`, as a first read would.
//!
//! Measured in one run, medians of `FERRY_BENCH_RUNS` × 20 (default 200)
//! requests: JSON with `Accept-Encoding: gzip` (the body as stored),
//! JSON without (decompressed per request), Markdown with gzip, a
//! conditional request with the current ETag (304); named baselines:
//! `Store::get` of the release in process, and `GET /api/v1/releases/{id}`
//! (the same `Store::get` plus its JSON over the same HTTP stack).
//!
//! `cargo bench -p ferry-server --bench notes_http` — env
//! `FERRY_BENCH_RUNS` (default 10), `FERRY_BENCH_COMMITS` (per repository,
//! default 3334).

#[path = "../../store/tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use ferry_notes::document::{Commit, Groups, ReleaseNotes, ReleaseRef, SourceChanges};
use ferry_notes::message::{IssueRules, parse, split};
use ferry_release::ReleaseStatus;
use ferry_server::{Secret, Server, Settings};
use ferry_store::{Created, Store};
use sha2::{Digest, Sha256};

const TOKEN: &str = "notes-bench-admin-token-0123456789";
const TYPES: [&str; 8] = [
    "feat", "fix", "perf", "chore", "docs", "refactor", "test", "build",
];

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Commit `i` of repository `seed`, as the notes bench writes it.
fn commit(i: usize, seed: usize, rules: &IssueRules) -> Commit {
    let k = (i * 7 + seed) % 10;
    let subject = if k < 8 {
        let scope = if i.is_multiple_of(3) { "(core)" } else { "" };
        let bang = if i.is_multiple_of(97) { "!" } else { "" };
        format!(
            "{}{scope}{bang}: change number {i} of service {seed} (#{i})",
            TYPES[k]
        )
    } else {
        format!("Update handling of case {i} for PROJ-{i}")
    };
    let message = format!(
        "{subject}\n\nLonger explanation of change {i}, see #{} and\nhttps://github.com/acme/svc{seed}/issues/{}.\n",
        i + 1,
        i + 2
    );
    let parsed = parse(&message, rules);
    let (subject, body) = split(&message);
    Commit {
        // Real object names: random hex (they are most of what gzip
        // cannot shrink).
        sha: hex::encode(Sha256::digest(format!("{seed}-{i}")))[..40].to_owned(),
        author: ferry_notes::Author {
            name: format!("Dev {i}"),
            email: format!("dev{i}@example.com"),
        },
        date: format!("2023-11-14T{:02}:{:02}:00+01:00", (i / 60) % 24, i % 60),
        subject: subject.to_owned(),
        body: body.to_owned(),
        kind: parsed.conventional.as_ref().map(|c| c.kind.clone()),
        scope: parsed.conventional.and_then(|c| c.scope),
        breaking: parsed.breaking,
        pull_request: parsed.pull_request,
        issues: parsed.issues,
    }
}

fn document(id: &str, per_repo: usize) -> ReleaseNotes {
    let rules = IssueRules::default();
    ReleaseNotes {
        format_version: ferry_notes::FORMAT_VERSION,
        release: ReleaseRef {
            id: id.to_owned(),
            number: 2,
            product: "p".into(),
            version: Some("2".into()),
        },
        previous_release: None,
        configuration: Vec::new(),
        images: Vec::new(),
        sources: (0..3)
            .map(|s| SourceChanges {
                repo_url: format!("/tmp/bench/svc{s}"),
                images: vec![format!("127.0.0.1:5000/acme/svc{s}")],
                from: Some(format!("{:040x}", s)),
                to: format!("{:040x}", s + 100),
                groups: Groups::of(
                    (2..=per_repo + 1)
                        .rev()
                        .map(|i| commit(i, s, &rules))
                        .collect(),
                ),
                truncated: false,
            })
            .collect(),
        notes: Vec::new(),
    }
}

/// One timed request: (what, url, headers, expected status).
type Case = (&'static str, String, Vec<(&'static str, String)>, u16);

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let runs = env_usize("FERRY_BENCH_RUNS", 10).max(1) * 20;
    let per_repo = env_usize("FERRY_BENCH_COMMITS", 3334);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("config");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("environments.yaml"),
        "apiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata:\n  name: dev\nspec:\n  kind: NON_PROD\n",
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let url = format!("sqlite://{}?mode=rwc", data.join("ferry.db").display());
        let store = Store::open(&url).await.unwrap();
        let mut r = common::release("p");
        r.status = ReleaseStatus::Succeeded;
        r.finished_at = Some(r.created_at);
        let Created::New(r, _) = store
            .create_release(r, None, common::first_events())
            .await
            .unwrap()
        else {
            panic!("a new release")
        };
        let id = r.id.clone();
        let doc = document(&id, per_repo);
        let listed: usize = doc.sources.iter().map(|s| s.groups.len()).sum();
        assert_eq!(listed, 3 * per_repo);
        let json_len = serde_json::to_vec(&doc).unwrap().len();
        ferry_notes::store_notes(&store, &id, &doc).await.unwrap();

        let server = Server::build(Settings {
            listen: "127.0.0.1:0".into(),
            config: Some(config.display().to_string()),
            data_dir: data.clone(),
            admin_token: Some(Secret::new(TOKEN)),
            poll_interval: None,
            config_poll_interval: None,
            ..Settings::default()
        })
        .await
        .expect("server builds");
        let bound = server.bind().await.expect("binds");
        let base = format!("http://{}", bound.local_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(bound.run(async move {
            let _ = stopped.await;
        }));
        // Bytes as sent: no transparent gzip decoding (timed separately).
        let http = reqwest::Client::builder().no_gzip().build().unwrap();
        while !http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let notes = format!("{base}/api/v1/releases/{id}/notes");
        let etag = http
            .get(&notes)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .headers()["etag"]
            .to_str()
            .unwrap()
            .to_owned();

        let cases: Vec<Case> = vec![
            (
                "baseline GET /api/v1/releases/{id}",
                format!("{base}/api/v1/releases/{id}"),
                vec![],
                200,
            ),
            (
                "notes JSON, Accept-Encoding: gzip",
                notes.clone(),
                vec![("accept-encoding", "gzip".into())],
                200,
            ),
            ("notes JSON, no gzip", notes.clone(), vec![], 200),
            (
                "notes Markdown, Accept-Encoding: gzip",
                format!("{notes}?format=markdown"),
                vec![("accept-encoding", "gzip".into())],
                200,
            ),
            (
                "notes JSON, If-None-Match (304)",
                notes.clone(),
                vec![("if-none-match", etag.clone())],
                304,
            ),
        ];
        let mut times = vec![Vec::new(); cases.len()];
        let mut sizes = vec![0; cases.len()];
        let mut gets = Vec::new();
        for _ in 0..runs {
            for (i, (_, url, headers, status)) in cases.iter().enumerate() {
                let t = Instant::now();
                let mut req = http.get(url).bearer_auth(TOKEN);
                for (k, v) in headers {
                    req = req.header(*k, v);
                }
                let r = req.send().await.unwrap();
                assert_eq!(r.status().as_u16(), *status);
                let body = r.bytes().await.unwrap();
                times[i].push(t.elapsed());
                sizes[i] = body.len();
            }
            let t = Instant::now();
            let r = store.get(&id).await.unwrap().unwrap();
            gets.push(t.elapsed());
            assert_eq!(r.id, id);
        }
        let get = median(gets);
        println!(
            "release notes from the cache over HTTP (in-process server, SQLite), 10,002-commit document ({json_len} bytes of JSON), median of {runs} sequential requests"
        );
        println!("  baseline Store::get of the release (in process): {:.3} ms", ms(get));
        for (i, (what, ..)) in cases.iter().enumerate() {
            let d = median(times[i].clone());
            println!(
                "  {what}: {:.3} ms ({} bytes received) = {:.2}× Store::get{}",
                ms(d),
                sizes[i],
                d.as_secs_f64() / get.as_secs_f64(),
                if i == 0 { "" } else { " — goal ≤ 5 ms" }
            );
        }
        let _ = stop.send(());
        task.await.unwrap().unwrap();
        store.close().await;
    });
}
