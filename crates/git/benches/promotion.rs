//! One promotion (edit 2 files, commit, push to a bare remote over
//! `file://`) on a generated GitOps repository of 20,000 files and 5,000
//! commits, three ways in the same run:
//!
//! - ferry: `Mirror::commit_and_push` on a warm mirror;
//! - plumbing floor: `scripts/plumbing-commit-push.sh` (hash-object, mktree,
//!   commit-tree, push) in an existing bare mirror;
//! - baseline: `scripts/clone-edit-commit-push.sh` (git clone, edit,
//!   git commit, git push), what other GitOps tools do.
//!
//! And, for issue 24, a **cold** promotion: a fresh mirror cache (as after
//! a fresh data directory) — `Mirror::open` clones (partial: the remote
//! allows filters, `uploadpack.allowFilter`), the snapshot's two source
//! files are read, two target files are written over (read first) and
//! pushed — against the same baseline, and against `git clone --bare` of
//! the remote alone (what a cold mirror cost before partial clones).
//!
//! Runs are interleaved (one of each per round) so machine noise hits all
//! variants alike; each variant pushes to its own branch so none races
//! another. One extra untimed warm-up round comes first.
//!
//! `cargo bench -p ferry-git --bench promotion` — env `FERRY_BENCH_RUNS`
//! (default 10), `FERRY_BENCH_FILES` (20000), `FERRY_BENCH_COMMITS` (5000).

use std::convert::Infallible;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferry_git::{
    Change, CommitSpec, Mirror, Prefetch, PushOptions, PushTarget, Remote, Signature,
    prefetch_together, promotion_message, stats,
};

const ENVS: [&str; 4] = ["dev", "qa", "staging", "prod"];
const FILES_PER_APP_ENV: usize = 10;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_cmd(dir).args(args).output().expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn git_cmd(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir);
    cmd
}

/// Paths of the generated repository: apps/app-NNN/envs/<env>/{Chart,values,version}.yaml
/// and templates/tN.yaml, 10 files per application and environment.
fn file_path(i: usize) -> String {
    let per_app = ENVS.len() * FILES_PER_APP_ENV;
    let app = i / per_app;
    let env = ENVS[(i % per_app) / FILES_PER_APP_ENV];
    match i % FILES_PER_APP_ENV {
        0 => format!("apps/app-{app:03}/envs/{env}/Chart.yaml"),
        1 => format!("apps/app-{app:03}/envs/{env}/values.yaml"),
        2 => format!("apps/app-{app:03}/envs/{env}/version.yaml"),
        n => format!("apps/app-{app:03}/envs/{env}/templates/t{n}.yaml"),
    }
}

/// Generates the remote with `git fast-import`: one commit with every file,
/// then `commits - 1` commits changing one file each.
fn generate(remote: &Path, files: usize, commits: usize) {
    git(
        remote.parent().unwrap(),
        &[
            "init",
            "--quiet",
            "--bare",
            "--initial-branch=main",
            remote.to_str().unwrap(),
        ],
    );
    let mut child = git_cmd(remote)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("fast-import runs");
    let mut w = std::io::BufWriter::new(child.stdin.take().unwrap());
    let data = |w: &mut std::io::BufWriter<_>, s: &str| {
        writeln!(w, "data {}", s.len()).unwrap();
        w.write_all(s.as_bytes()).unwrap();
        writeln!(w).unwrap();
    };
    let t0 = 1_700_000_000u64;
    for c in 0..commits {
        writeln!(w, "commit refs/heads/main").unwrap();
        writeln!(
            w,
            "committer Gen <gen@example.com> {} +0000",
            t0 + c as u64 * 60
        )
        .unwrap();
        data(&mut w, &format!("change {c}\n"));
        if c == 0 {
            for i in 0..files {
                writeln!(w, "M 100644 inline {}", file_path(i)).unwrap();
                data(
                    &mut w,
                    &format!(
                        "# file {i}\nimage:\n  repository: registry.example.com/app\n  tag: \"1.0.{i}\"\n"
                    ),
                );
            }
        } else {
            let i = (c * 7919) % files;
            writeln!(w, "M 100644 inline {}", file_path(i)).unwrap();
            data(&mut w, &format!("# file {i}\nimage:\n  tag: \"2.{c}\"\n"));
        }
    }
    drop(w);
    assert!(child.wait().unwrap().success(), "fast-import failed");
    for branch in ["ferry", "floor", "baseline", "cold"] {
        git(remote, &["branch", branch, "main"]);
    }
    // What GitHub, GitLab and Gitea do: serve partial clones.
    git(remote, &["config", "uploadpack.allowFilter", "true"]);
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    }
}

fn median_f64(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    // `cargo bench` passes `--bench`; other arguments are ignored.
    let runs = env_usize("FERRY_BENCH_RUNS", 10).max(1);
    let files = env_usize("FERRY_BENCH_FILES", 20_000);
    let commits = env_usize("FERRY_BENCH_COMMITS", 5_000).max(1);
    let scripts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts");

    let root = std::env::temp_dir().join(format!("ferry-git-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    // Commits made by the scripts need an identity independent of the host.
    // SAFETY: single-threaded at this point; set before any child starts.
    unsafe {
        std::env::set_var("GIT_AUTHOR_NAME", "Bench");
        std::env::set_var("GIT_AUTHOR_EMAIL", "bench@example.com");
        std::env::set_var("GIT_COMMITTER_NAME", "Bench");
        std::env::set_var("GIT_COMMITTER_EMAIL", "bench@example.com");
    }

    let remote = root.join("remote.git");
    let t = Instant::now();
    generate(&remote, files, commits);
    let url = format!("file://{}", remote.display());
    eprintln!(
        "generated {files} files, {} commits in {:.1}s",
        git(&remote, &["rev-list", "--count", "main"]),
        t.elapsed().as_secs_f64()
    );

    // Warm mirrors: ferry's, and a plain bare clone for the plumbing floor.
    let cache = root.join("cache");
    let mirror = Mirror::open(&cache, Remote::new(&url, Default::default()).unwrap()).unwrap();
    let floor_mirror = root.join("floor-mirror.git");
    git(
        &root,
        &[
            "clone",
            "--quiet",
            "--bare",
            &url,
            floor_mirror.to_str().unwrap(),
        ],
    );

    let (p1, p2) = (file_path(41), file_path(42)); // apps/app-001/envs/dev/values.yaml, version.yaml
    let author = Signature::new("Ferry Bot", "ferry@example.com");
    let (mut ferry, mut floor, mut baseline) = (Vec::new(), Vec::new(), Vec::new());
    let (mut cold, mut full_clone) = (Vec::new(), Vec::new());
    let mut cold_commands = Vec::new();
    // The cold promotion reads the dev files and writes the qa ones.
    let (q1, q2) = (file_path(51), file_path(52));
    for run in 0..=runs {
        let c1 = format!("image:\n  tag: \"3.{run}\"\n");
        let c2 = format!("version: 3.{run}\n");

        // ferry
        let t = Instant::now();
        let mirror = Mirror::open(&cache, mirror.remote().clone()).unwrap();
        let spec = CommitSpec {
            author: author.clone(),
            committer: None,
            message: promotion_message(
                "bench",
                &format!("3.{run}"),
                "dev",
                "app-001-dev",
                &format!("bench-{run}"),
            ),
        };
        let outcome = mirror
            .commit_and_push(
                &PushTarget::branch("ferry"),
                &spec,
                &PushOptions::default(),
                |tree| {
                    // Read what is promoted over, as a real promotion does.
                    let old = tree.read_file(&p1).unwrap_or_default();
                    assert!(old.is_some(), "{p1} exists");
                    Ok::<_, Infallible>(vec![
                        Change::write(p1.as_str(), c1.as_bytes()),
                        Change::write(p2.as_str(), c2.as_bytes()),
                    ])
                },
            )
            .unwrap();
        ferry.push(t.elapsed());
        assert_eq!(outcome.attempts, 1);
        assert_eq!(
            outcome.commit.unwrap().to_string(),
            git(&remote, &["rev-parse", "ferry"])
        );

        let content_dir = root.join(format!("content-{run}"));
        std::fs::create_dir_all(&content_dir).unwrap();
        let (f1, f2) = (content_dir.join("c1"), content_dir.join("c2"));
        std::fs::write(&f1, &c1).unwrap();
        std::fs::write(&f2, &c2).unwrap();

        // plumbing floor
        let t = Instant::now();
        let status = Command::new("bash")
            .arg(scripts.join("plumbing-commit-push.sh"))
            .args([
                floor_mirror.as_os_str(),
                url.as_ref(),
                "floor".as_ref(),
                p1.as_ref(),
                f1.as_os_str(),
                p2.as_ref(),
                f2.as_os_str(),
            ])
            .status()
            .unwrap();
        floor.push(t.elapsed());
        assert!(status.success(), "plumbing script failed");

        // baseline
        let work = root.join(format!("baseline-{run}"));
        let t = Instant::now();
        let status = Command::new("bash")
            .arg(scripts.join("clone-edit-commit-push.sh"))
            .args([
                url.as_ref(),
                "baseline".as_ref(),
                work.as_os_str(),
                p1.as_ref(),
                f1.as_os_str(),
                p2.as_ref(),
                f2.as_os_str(),
            ])
            .status()
            .unwrap();
        baseline.push(t.elapsed());
        assert!(status.success(), "baseline script failed");
        let _ = std::fs::remove_dir_all(&work);
        // Flush the baseline's checkout and deletion of 20,000 files now
        // (untimed), so their deferred writeback does not land inside the next
        // round's measurements.
        let _ = Command::new("sync").status();

        // cold: a fresh cache, snapshot read, commit, push
        let cold_cache = root.join(format!("cold-{run}"));
        let git_before = stats();
        let t = Instant::now();
        let cold_mirror = Mirror::open(&cold_cache, mirror.remote().clone()).unwrap();
        let source = cold_mirror.at("main").unwrap();
        // The source files and the target files, fetched in shared rounds
        // (what the promotion will read on both sides).
        let target = cold_mirror.at("cold").unwrap();
        prefetch_together(&[
            Prefetch {
                reader: &source,
                files: &[p1.as_str(), p2.as_str()],
                dirs: &[],
            },
            Prefetch {
                reader: &target,
                files: &[q1.as_str(), q2.as_str()],
                dirs: &[],
            },
        ])
        .unwrap();
        let snapshot = (
            source.read_file(&p1).unwrap().unwrap(),
            source.read_file(&p2).unwrap().unwrap(),
        );
        let spec = CommitSpec {
            author: author.clone(),
            committer: None,
            message: promotion_message(
                "bench",
                &format!("3.{run}"),
                "qa",
                "app-001-qa",
                &format!("cold-{run}"),
            ),
        };
        let outcome = cold_mirror
            .commit_and_push(
                &PushTarget::branch("cold"),
                &spec,
                &PushOptions::default(),
                |tree| {
                    tree.prefetch(&[q1.as_str(), q2.as_str()], &[])?;
                    assert!(tree.read_file(&q1)?.is_some(), "{q1} exists");
                    assert!(tree.read_file(&q2)?.is_some(), "{q2} exists");
                    let mut v1 = snapshot.0.clone();
                    v1.extend_from_slice(format!("# {run}\n").as_bytes());
                    Ok::<_, ferry_git::Error>(vec![
                        Change::write(q1.as_str(), v1),
                        Change::write(q2.as_str(), snapshot.1.clone()),
                    ])
                },
            )
            .unwrap();
        cold.push(t.elapsed());
        cold_commands.push(stats().since(&git_before).commands);
        assert!(cold_mirror.is_partial(), "the remote allows filters");
        assert_eq!(
            outcome.commit.unwrap().to_string(),
            git(&remote, &["rev-parse", "cold"])
        );
        drop((cold_mirror, source, target));
        let _ = std::fs::remove_dir_all(&cold_cache);
        // What a cold mirror cost before: a full bare clone alone.
        let full = root.join(format!("full-{run}.git"));
        let t = Instant::now();
        git(
            &root,
            &["clone", "--quiet", "--bare", &url, full.to_str().unwrap()],
        );
        full_clone.push(t.elapsed());
        let _ = std::fs::remove_dir_all(&full);

        // Same content on all three branches.
        for branch in ["ferry", "floor", "baseline"] {
            assert_eq!(
                git(&remote, &["show", &format!("{branch}:{p2}")]),
                c2.trim_end()
            );
        }
        let label = if run == 0 {
            "warm-up (not counted)".to_string()
        } else {
            format!("run {run}")
        };
        eprintln!(
            "{label}: ferry {:.1} ms, plumbing floor {:.1} ms, baseline {:.1} ms, cold {:.1} ms, full clone {:.1} ms",
            ms(ferry[run]),
            ms(floor[run]),
            ms(baseline[run]),
            ms(cold[run]),
            ms(full_clone[run])
        );
    }
    // Round 0 warmed caches (pack indexes, page cache) for every variant.
    for v in [
        &mut ferry,
        &mut floor,
        &mut baseline,
        &mut cold,
        &mut full_clone,
    ] {
        v.remove(0);
    }
    let mut cold_vs_baseline: Vec<f64> = (0..runs)
        .map(|i| baseline[i].as_secs_f64() / cold[i].as_secs_f64())
        .collect();
    let paired_cold = median_f64(&mut cold_vs_baseline);
    // Paired ratios (same round, same machine load), before sorting.
    let mut vs_baseline: Vec<f64> = (0..runs)
        .map(|i| baseline[i].as_secs_f64() / ferry[i].as_secs_f64())
        .collect();
    let mut vs_floor: Vec<f64> = (0..runs)
        .map(|i| floor[i].as_secs_f64() / ferry[i].as_secs_f64())
        .collect();
    let (paired_baseline, paired_floor) = (median_f64(&mut vs_baseline), median_f64(&mut vs_floor));
    let (mf, mp, mb) = (
        median(&mut ferry),
        median(&mut floor),
        median(&mut baseline),
    );
    println!("promotion on {files} files / {commits} commits, median of {runs} runs (min..max):");
    println!(
        "  ferry (warm mirror)          {:>9.1} ms  ({:.1}..{:.1})",
        ms(mf),
        ms(ferry[0]),
        ms(ferry[runs - 1])
    );
    println!(
        "  plumbing floor               {:>9.1} ms  ({:.1}..{:.1})",
        ms(mp),
        ms(floor[0]),
        ms(floor[runs - 1])
    );
    println!(
        "  clone-edit-commit-push       {:>9.1} ms  ({:.1}..{:.1})",
        ms(mb),
        ms(baseline[0]),
        ms(baseline[runs - 1])
    );
    println!(
        "  ratio baseline / ferry       {:>9.1}x   (goal >= 100x)",
        mb.as_secs_f64() / mf.as_secs_f64()
    );
    println!(
        "  ratio plumbing floor / ferry {:>9.2}x   (goal >= 1x)",
        mp.as_secs_f64() / mf.as_secs_f64()
    );
    println!(
        "  per-round ratios, median (min): baseline/ferry {paired_baseline:.1}x ({:.1}x), floor/ferry {paired_floor:.2}x ({:.2}x)",
        vs_baseline[0], vs_floor[0]
    );
    let (mc, mfc) = (median(&mut cold), median(&mut full_clone));
    println!(
        "  ferry cold (fresh cache: partial clone, read, commit, push) {:.1} ms  ({:.1}..{:.1})  (goal <= 500 ms)",
        ms(mc),
        ms(cold[0]),
        ms(cold[runs - 1])
    );
    println!(
        "  git clone --bare alone (the cold mirror before issue 24) {:.1} ms  ({:.1}..{:.1})",
        ms(mfc),
        ms(full_clone[0]),
        ms(full_clone[runs - 1])
    );
    println!(
        "  ratio baseline / ferry cold  {:>9.1}x   (goal >= 50x); per-round median {paired_cold:.1}x (min {:.1}x)",
        mb.as_secs_f64() / mc.as_secs_f64(),
        cold_vs_baseline[0]
    );
    cold_commands.sort_unstable();
    println!(
        "  git commands per cold promotion: {}..{} (clone, fetch rounds, push)",
        cold_commands[0],
        cold_commands[cold_commands.len() - 1]
    );
    if std::env::var_os("FERRY_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&root);
    } else {
        eprintln!("kept {}", root.display());
    }
}
