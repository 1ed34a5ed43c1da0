//! Release notes for a release spanning 10,000 code commits across three
//! source repositories (issue 8's numbers), with warm mirrors and a real
//! registry (Debian's `docker-registry` on a loopback port) holding the
//! images' source labels:
//!
//! - build: `NotesBuilder::build` (labels of 6 images, 3 history walks of
//!   ~3,334 commits with message parsing, configuration commits) — goal
//!   ≤ 500 ms; baseline in the same run: `git log` of the same three
//!   ranges with the same fields (`%H %an %ae %aI %B`), one process each;
//! - cache: `cached_notes` when the notes are stored (SQLite): JSON and
//!   Markdown as stored, gzip and plain, the ETag alone (a 304), the first
//!   cache version's JSON TEXT row, and (for comparison) decompressing the
//!   gzip JSON — goal ≤ 5 ms; baseline: `Store::get` of the release document.
//!   What a client sees over HTTP: `cargo bench -p ferry-server --bench
//!   notes_http`.
//!
//! `cargo bench -p ferry-notes --bench notes` — env `FERRY_BENCH_RUNS`
//! (default 10), `FERRY_BENCH_COMMITS` (per repository, default 3334).

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Pusher, Registry, Repo, app_snapshot, path_value, release, scalar, workspace};
use ferry_notes::NotesEncoding::{Gzip, Identity};
use ferry_notes::NotesFormat::{Json, Markdown};
use ferry_notes::oci::{REVISION_LABEL, SOURCE_LABEL};
use ferry_notes::{NotesBuilder, NotesSettings, OciClient, OciSettings};

const TYPES: [&str; 8] = [
    "feat", "fix", "perf", "chore", "docs", "refactor", "test", "build",
];

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A repository of `n` linear commits written with `git fast-import`
/// (conventional and free-form subjects, PR suffixes, issue keys, bodies).
/// Returns (first commit, last commit).
fn generate(dir: &Path, n: usize, seed: usize) -> (String, String) {
    std::fs::create_dir_all(dir).unwrap();
    common::git(dir, &["init", "-q", "-b", "main"]);
    let mut child = Command::new("git")
        .current_dir(dir)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut w = std::io::BufWriter::new(child.stdin.take().unwrap());
        for i in 1..=n {
            let k = (i * 7 + seed) % 10;
            let subject = if k < 8 {
                let scope = if i % 3 == 0 { "(core)" } else { "" };
                let bang = if i % 97 == 0 { "!" } else { "" };
                format!(
                    "{}{scope}{bang}: change number {i} of service {seed} (#{i})",
                    TYPES[k]
                )
            } else {
                format!("Update handling of case {i} for PROJ-{i}")
            };
            let msg = format!(
                "{subject}\n\nLonger explanation of change {i}, see #{} and\nhttps://github.com/acme/svc{seed}/issues/{}.\n",
                i + 1,
                i + 2
            );
            let content = format!("{i}\n");
            let t = 1_700_000_000 + i * 60;
            write!(
                w,
                "commit refs/heads/main\nmark :{i}\nauthor Dev {i} <dev{i}@example.com> {t} +0100\ncommitter Dev <dev@example.com> {t} +0100\ndata {}\n{msg}\n",
                msg.len()
            )
            .unwrap();
            if i > 1 {
                writeln!(w, "from :{}", i - 1).unwrap();
            }
            write!(
                w,
                "M 644 inline src/file{}.txt\ndata {}\n{content}\n",
                i % 50,
                content.len()
            )
            .unwrap();
        }
        w.flush().unwrap();
    }
    assert!(child.wait().unwrap().success());
    let first = common::git(dir, &["rev-list", "--max-parents=0", "main"]);
    let last = common::git(dir, &["rev-parse", "main"]);
    (first, last)
}

/// Medians of the cached reads.
struct Cache {
    gz: Duration,
    plain: Duration,
    md: Duration,
    md_plain: Duration,
    inflate: Duration,
    validator: Duration,
    old: Duration,
    get: Duration,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let runs = env_usize("FERRY_BENCH_RUNS", 10).max(1);
    let per_repo = env_usize("FERRY_BENCH_COMMITS", 3334);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let t = Instant::now();
    let repos: Vec<_> = (0..3)
        .map(|s| {
            let path = root.join(format!("svc{s}"));
            let (first, last) = generate(&path, per_repo + 1, s);
            (path, first, last)
        })
        .collect();
    eprintln!(
        "generated 3 × {} commits in {:.1} s",
        per_repo + 1,
        t.elapsed().as_secs_f64()
    );

    let registry = Registry::start(root, &root.join("storage"), None);
    let reg = registry.addr.clone();
    rt.block_on(async {
        let pusher = Pusher::new(&reg);
        for (s, (path, first, last)) in repos.iter().enumerate() {
            let source = path.display().to_string();
            for (tag, rev) in [("old", first), ("new", last)] {
                pusher
                    .image(
                        &format!("acme/svc{s}"),
                        Some(tag),
                        &[(SOURCE_LABEL, &source), (REVISION_LABEL, rev)],
                        false,
                        "amd64",
                    )
                    .await;
            }
        }
    });

    let mut gitops = Repo::init(root.join("gitops"));
    let values = |tag: &str| {
        (0..3)
            .map(|s| format!("svc{s}:\n  image: {reg}/acme/svc{s}:{tag}\n"))
            .collect::<String>()
    };
    let c1 = gitops.commit_file(
        "apps/p/dev/values.yaml",
        &values("old"),
        "chore: old images",
    );
    let c2 = gitops.commit_file(
        "apps/p/dev/values.yaml",
        &values("new"),
        "feat: new images (#9)",
    );
    let snap = |rev: &str, tag: &str| {
        let vals = (0..3)
            .map(|s| {
                path_value(
                    &format!("$['svc{s}']['image']"),
                    scalar(&format!("{reg}/acme/svc{s}:{tag}")),
                )
            })
            .collect();
        app_snapshot(
            "p-dev",
            &gitops.url(),
            "apps/p/dev",
            rev,
            vec![("values.yaml", vals)],
        )
    };
    let first = release("p", 1, "1", vec![("p", snap(&c1, "old"))]);
    let second = release("p", 2, "2", vec![("p", snap(&c2, "new"))]);

    let builder = NotesBuilder::new(
        workspace(&root.join("mirrors")),
        Arc::new(OciClient::new(OciSettings::default()).unwrap()),
        NotesSettings {
            allow_local_sources: true,
            ..NotesSettings::default()
        },
    );
    // Warm-up: clones the mirrors (what "warm mirrors" means).
    let warm = rt.block_on(builder.build(&second, Some(&first), None));
    let listed: usize = warm.sources.iter().map(|s| s.groups.len()).sum();
    assert!(warm.notes.is_empty(), "{:?}", warm.notes);
    assert_eq!(listed, 3 * per_repo, "every commit listed");

    let mut build = Vec::new();
    let mut baseline = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let notes = rt.block_on(builder.build(&second, Some(&first), None));
        build.push(t.elapsed());
        assert_eq!(notes.sources.len(), 3);
        let t = Instant::now();
        for (path, first, last) in &repos {
            let out = Command::new("git")
                .current_dir(path)
                .args([
                    "log",
                    "--format=%H%x00%an%x00%ae%x00%aI%x00%B%x00",
                    &format!("{first}..{last}"),
                ])
                .output()
                .unwrap();
            assert!(out.status.success() && out.stdout.len() > per_repo * 40);
        }
        baseline.push(t.elapsed());
    }

    // From the cache: what `GET /api/v1/releases/{id}/notes` reads.
    let cache = rt.block_on(async {
        let store = ferry_store::Store::open_sqlite_file(&root.join("ferry.db"))
            .await
            .unwrap();
        let mut ids = Vec::new();
        for r in [first.clone(), second.clone()] {
            match store.create_release(r, None, Vec::new()).await.unwrap() {
                ferry_store::Created::New(r, _) => ids.push(r.id),
                other => unreachable!("{other:?}"),
            }
        }
        let id = ids[1].clone();
        let t = Instant::now();
        let computed = ferry_notes::notes_for_release(&store, &builder, &id, |_| None)
            .await
            .unwrap();
        let compute_and_store = t.elapsed();
        let json_text = serde_json::to_string(&computed).unwrap();
        // The first cache version's row (the JSON document as TEXT), on
        // the other release, for comparison.
        store
            .put_release_notes(&ids[0], ferry_notes::FORMAT_VERSION, &json_text)
            .await
            .unwrap();
        let (mut gz, mut plain, mut md, mut md_plain, mut inflate) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut validator, mut old, mut gets) = (Vec::new(), Vec::new(), Vec::new());
        let (mut gz_size, mut md_size, mut md_gz) = (0, 0, 0);
        let gz_body = ferry_notes::rendition::gzip(json_text.as_bytes()).unwrap();
        for _ in 0..(runs * 20) {
            let t = Instant::now();
            let c = ferry_notes::cached_notes(&store, &builder, &id, Json, Gzip, |_| None)
                .await
                .unwrap();
            gz.push(t.elapsed());
            gz_size = c.body.len();
            assert!(!c.degraded);
            let t = Instant::now();
            let c = ferry_notes::cached_notes(&store, &builder, &id, Json, Identity, |_| None)
                .await
                .unwrap();
            plain.push(t.elapsed());
            assert_eq!(c.body.len(), json_text.len());
            let t = Instant::now();
            let c = ferry_notes::cached_notes(&store, &builder, &id, Markdown, Gzip, |_| None)
                .await
                .unwrap();
            md.push(t.elapsed());
            md_gz = c.body.len();
            let t = Instant::now();
            let c = ferry_notes::cached_notes(&store, &builder, &id, Markdown, Identity, |_| None)
                .await
                .unwrap();
            md_plain.push(t.elapsed());
            assert_eq!(c.body.len(), c.size);
            md_size = c.size;
            let t = Instant::now();
            let _ = ferry_notes::rendition::gunzip(&gz_body, json_text.len()).unwrap();
            inflate.push(t.elapsed());
            let t = Instant::now();
            let v = ferry_notes::notes_validator(&store, &builder, &id, Json)
                .await
                .unwrap();
            validator.push(t.elapsed());
            assert!(v.is_some());
            let t = Instant::now();
            let (_, text) = store.release_notes(&ids[0]).await.unwrap().unwrap();
            old.push(t.elapsed());
            assert_eq!(text.len(), json_text.len());
            let t = Instant::now();
            let r = store.get(&id).await.unwrap().unwrap();
            gets.push(t.elapsed());
            assert_eq!(r.number, 2);
        }
        eprintln!(
            "cached JSON: {} bytes ({gz_size} gzip); Markdown: {md_size} bytes ({md_gz} gzip); computed and stored in {:.0} ms",
            json_text.len(),
            ms(compute_and_store)
        );
        Cache {
            gz: median(gz),
            plain: median(plain),
            md: median(md),
            md_plain: median(md_plain),
            inflate: median(inflate),
            validator: median(validator),
            old: median(old),
            get: median(gets),
        }
    });

    let (b, g) = (median(build.clone()), median(baseline.clone()));
    println!(
        "release notes, {} code commits across 3 repositories, warm mirrors, {runs} runs",
        3 * per_repo
    );
    println!(
        "  build (labels + history + grouping): median {:.1} ms (min {:.1}, max {:.1}) — goal ≤ 500 ms",
        ms(b),
        ms(*build.iter().min().unwrap()),
        ms(*build.iter().max().unwrap())
    );
    println!(
        "  baseline `git log` of the same ranges: median {:.1} ms → ferry/git log = {:.2}×",
        ms(g),
        b.as_secs_f64() / g.as_secs_f64()
    );
    let ratio = |d: Duration| d.as_secs_f64() / cache.get.as_secs_f64();
    println!(
        "  from cache (SQLite), median of {}; goal ≤ 5 ms; baseline Store::get of the release: {:.3} ms",
        runs * 20,
        ms(cache.get)
    );
    for (what, d) in [
        ("JSON as stored (gzip, what gzip clients get)", cache.gz),
        ("JSON plain (clients without gzip)", cache.plain),
        ("Markdown gzip", cache.md),
        ("Markdown plain", cache.md_plain),
        (
            "(decompressing the JSON instead, no store read)",
            cache.inflate,
        ),
        ("ETag only (a 304)", cache.validator),
        ("first cache version: the JSON TEXT row", cache.old),
    ] {
        println!("    {what}: {:.3} ms = {:.2}× Store::get", ms(d), ratio(d));
    }
    drop(registry);
}
