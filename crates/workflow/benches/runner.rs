//! Runner benchmarks (bench binary, `harness = false`).
//!
//! 1. 100 workflows at once, each one `sleep 1` step: peak RSS of this process
//!    (VmHWM) must stay under 200 MB. Runs first so the high-water mark is not
//!    raised by anything else.
//! 2. Overhead per step: a template of 50 sequential `true` steps against 50
//!    direct sequential spawns of `true` in the same run (the baseline). Goal:
//!    at most 5 ms per step beyond the process itself.
//!
//! Run: `cargo bench -p ferry-workflow --bench runner`

use std::time::{Duration, Instant};

use ferry_workflow::{LocalExecutor, StepStatus, WorkflowRunner, WorkflowTemplate};

fn template(yaml: &str) -> WorkflowTemplate {
    let v: serde_json::Value = yaml_serde::from_str(yaml).expect("bench YAML");
    WorkflowTemplate::from_value(&v, "bench").expect("bench template")
}

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn concurrent_workflows(exec: &LocalExecutor) -> (u64, u64, Duration) {
    let t = template(
        r#"
kind: WorkflowTemplate
metadata: {name: nap}
spec:
  entrypoint: main
  templates:
  - name: main
    steps: [[{name: nap, template: nap}]]
  - name: nap
    container: {command: [sleep, "1"]}
"#,
    );
    let before = vm_hwm_kib();
    let start = Instant::now();
    let mut ids = Vec::new();
    for _ in 0..100 {
        ids.push(exec.start(&t, &Default::default()).await.expect("start"));
    }
    for id in &ids {
        let o = exec.wait(id).await.expect("wait");
        assert_eq!(o.status, StepStatus::Success, "{o:?}");
    }
    let elapsed = start.elapsed();
    for id in &ids {
        exec.forget(id).await.expect("forget");
    }
    (before, vm_hwm_kib(), elapsed)
}

/// 50 sequential spawns of `true` the way the runner spawns (own process group,
/// clean environment, stdout/stderr piped and read): isolates the runner's
/// bookkeeping from the cost of the spawn options.
async fn direct_like_runner() -> Duration {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let s = Instant::now();
    for _ in 0..50 {
        let out = tokio::process::Command::new("true")
            .env_clear()
            .env("PATH", &path)
            .process_group(0)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .expect("spawn true");
        assert!(out.status.success());
    }
    s.elapsed()
}

async fn overhead(exec: &LocalExecutor, rounds: usize) -> (Duration, Duration, Duration) {
    let mut yaml = String::from(
        "kind: WorkflowTemplate\nmetadata: {name: fifty}\nspec:\n  entrypoint: main\n  templates:\n  - name: t\n    container: {command: [\"true\"]}\n  - name: main\n    steps:\n",
    );
    for i in 0..50 {
        yaml.push_str(&format!("    - [{{name: s{i}, template: t}}]\n"));
    }
    let t = template(&yaml);
    let mut wf = Vec::new();
    let mut direct = Vec::new();
    let mut alike = Vec::new();
    for _ in 0..rounds {
        alike.push(direct_like_runner().await);
        let s = Instant::now();
        let id = exec.start(&t, &Default::default()).await.expect("start");
        let o = exec.wait(&id).await.expect("wait");
        assert_eq!(o.status, StepStatus::Success);
        wf.push(s.elapsed());
        exec.forget(&id).await.expect("forget");

        let s = Instant::now();
        for _ in 0..50 {
            let st = tokio::process::Command::new("true")
                .status()
                .await
                .expect("spawn true");
            assert!(st.success());
        }
        direct.push(s.elapsed());
    }
    (median(wf), median(direct), median(alike))
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is accepted and ignored.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let exec = LocalExecutor::default();
        let (before, after, elapsed) = concurrent_workflows(&exec).await;
        println!("concurrent: 100 workflows of `sleep 1`: wall {:.2} s", elapsed.as_secs_f64());
        println!(
            "concurrent: VmHWM before {:.1} MB, peak {:.1} MB (goal < 200 MB) -> {}",
            before as f64 / 1024.0,
            after as f64 / 1024.0,
            if after < 200 * 1024 { "OK" } else { "OVER" }
        );

        let rounds = 7;
        let (wf, direct, alike) = overhead(&exec, rounds).await;
        let per_step = (wf.as_secs_f64() - direct.as_secs_f64()) / 50.0 * 1000.0;
        println!(
            "overhead: 50 sequential `true` steps median {:.1} ms; 50 direct spawns median {:.1} ms (median of {rounds})",
            wf.as_secs_f64() * 1000.0,
            direct.as_secs_f64() * 1000.0
        );
        println!(
            "overhead: {:.2} ms per step beyond the process (goal <= 5 ms) -> {}; ratio workflow/direct {:.2}x",
            per_step,
            if per_step <= 5.0 { "OK" } else { "OVER" },
            wf.as_secs_f64() / direct.as_secs_f64()
        );
        println!(
            "overhead: vs 50 spawns with the runner's spawn options (process group, clean env, piped output) median {:.1} ms: {:.2} ms per step, ratio {:.2}x",
            alike.as_secs_f64() * 1000.0,
            (wf.as_secs_f64() - alike.as_secs_f64()) / 50.0 * 1000.0,
            wf.as_secs_f64() / alike.as_secs_f64()
        );
    });
}
