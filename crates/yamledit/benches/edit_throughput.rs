//! YAML edit throughput: ferry-yamledit vs ruamel.yaml round-trip, same
//! files, same paths, same run.
//!
//! One operation = read the snapshot from the source file and apply it to
//! the target file (ferry: `snapshot` + `apply`; ruamel: load both, copy
//! the values at the same normalized paths, dump). Prints a Markdown
//! table with µs/op and the ratio, then, per file, the lines where
//! ruamel's output differs from ferry's (ferry keeps the target's bytes
//! outside the promoted values, so every such line is a byte ruamel
//! changed).
//!
//! Run: `cargo bench -p ferry-yamledit --bench edit_throughput`
//! (needs `python3` with `ruamel.yaml`; `FERRY_BENCH_PYTHON` overrides
//! the interpreter).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use ferry_yamledit::{PathElement, apply, snapshot};

struct Case {
    name: &'static str,
    source: String,
    target: String,
    paths: Vec<&'static str>,
}

fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches/fixtures")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A large umbrella-chart values file: `services` top-level blocks, each
/// with an image, resources, env and comments.
fn large_values(services: usize, tag: &str, replicas: usize) -> String {
    let mut s = String::from("# Umbrella chart values (generated for the benchmark)\n\n");
    for i in 0..services {
        let _ = write!(
            s,
            "svc-{i:03}:\n  # service {i}\n  replicaCount: {replicas}\n  image:\n    repository: ghcr.io/example/svc-{i:03}  # CI\n    tag: \"{tag}\"\n    pullPolicy: IfNotPresent\n  resources:\n    limits: {{cpu: 500m, memory: 256Mi}}\n    requests:\n      cpu: 100m\n      memory: 128Mi\n  env:\n    - name: LOG_LEVEL\n      value: info\n    - name: SERVICE_ID\n      value: 'svc-{i:03}'\n\n"
        );
    }
    s
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "values.yaml ($..image)",
            source: fixture("values-dev.yaml"),
            target: fixture("values-qa.yaml"),
            paths: vec!["$..image"],
        },
        Case {
            name: "values.yaml (3 bracket tags)",
            source: fixture("values-dev.yaml"),
            target: fixture("values-qa.yaml"),
            paths: vec![
                "$.buslog.image.tag",
                "$.ctrlr.image.tag",
                "$[\"flask-ui\"].image.tag",
            ],
        },
        Case {
            name: "Chart.yaml ($appVersion, $.dependencies)",
            source: fixture("chart-dev.yaml"),
            target: fixture("chart-qa.yaml"),
            paths: vec!["$appVersion", "$.dependencies"],
        },
        Case {
            name: "version.yaml ($.version)",
            source: fixture("version-dev.yaml"),
            target: fixture("version-qa.yaml"),
            paths: vec!["$.version"],
        },
        Case {
            name: "CRLF values ($.image)",
            source: fixture("crlf-dev.yaml"),
            target: fixture("crlf-qa.yaml"),
            paths: vec!["$.image"],
        },
        Case {
            name: "flow style ($.images.*.tag)",
            source: fixture("flow-dev.yaml"),
            target: fixture("flow-qa.yaml"),
            paths: vec!["$.images.*.tag"],
        },
        Case {
            name: "large values, 100 services ($..image.tag)",
            source: large_values(100, "main-8f3e2a1", 1),
            target: large_values(100, "main-1a2b3c4", 3),
            paths: vec!["$..image.tag"],
        },
    ]
}

fn python() -> String {
    std::env::var("FERRY_BENCH_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn ferry_once(c: &Case) -> String {
    let snap = snapshot(&c.source, &c.paths).expect("snapshot");
    apply(&c.target, &snap).expect("apply").text
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Lines only in `a` (prefixed `-`) and only in `b` (`+`), by LCS.
fn line_diff(a: &str, b: &str) -> Vec<String> {
    let a: Vec<&str> = a.split_inclusive('\n').collect();
    let b: Vec<&str> = b.split_inclusive('\n').collect();
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(format!("+ {:?}", b[j]));
            j += 1;
        } else {
            out.push(format!("- {:?}", a[i]));
            i += 1;
        }
    }
    out
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing
    // special: run a single quick iteration there.
    let quick = !std::env::args().any(|a| a == "--bench");
    let cases = cases();
    let dir: PathBuf =
        std::env::temp_dir().join(format!("ferry-yamledit-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");

    // Manifest for the Python baseline: the same files and the exact
    // normalized paths ferry's snapshot found.
    let mut manifest = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let src = dir.join(format!("{i}-source.yaml"));
        let dst = dir.join(format!("{i}-target.yaml"));
        std::fs::write(&src, &c.source).expect("write");
        std::fs::write(&dst, &c.target).expect("write");
        let snap = snapshot(&c.source, &c.paths).expect("snapshot");
        let paths: Vec<serde_json::Value> = snap
            .iter()
            .map(|pv| {
                pv.path
                    .elements()
                    .iter()
                    .map(|e| match e {
                        PathElement::Name(n) => serde_json::Value::from(n.as_str()),
                        PathElement::Index(i) => serde_json::Value::from(*i),
                    })
                    .collect()
            })
            .collect();
        manifest.push(serde_json::json!({
            "name": c.name, "source": src, "target": dst, "paths": paths,
        }));
    }
    let manifest_path = dir.join("manifest.json");
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).expect("json")).expect("write");

    let py_seconds = if quick { "0" } else { "2" };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ruamel_baseline.py");
    let baseline: Option<serde_json::Value> = Command::new(python())
        .arg(&script)
        .arg(&manifest_path)
        .arg(py_seconds)
        .output()
        .ok()
        .filter(|o| {
            if !o.status.success() {
                eprintln!(
                    "ruamel baseline failed: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
            }
            o.status.success()
        })
        .and_then(|o| serde_json::from_slice(&o.stdout).ok());

    println!("| file (paths) | bytes | ferry µs/op | ruamel µs/op | ruamel / ferry |");
    println!("|---|---:|---:|---:|---:|");
    let mut ratios = Vec::new();
    let mut diffs = Vec::new();
    for c in &cases {
        let out = ferry_once(c);
        // Calibrate: batches of about 0.2 s each.
        let one = Instant::now();
        std::hint::black_box(ferry_once(c));
        let single = one.elapsed().as_secs_f64().max(1e-7);
        let iters = if quick {
            1
        } else {
            ((0.2 / single) as usize).clamp(5, 1_000_000)
        };
        let mut batches = Vec::new();
        for _ in 0..if quick { 1 } else { 5 } {
            let start = Instant::now();
            for _ in 0..iters {
                std::hint::black_box(ferry_once(std::hint::black_box(c)));
            }
            batches.push(start.elapsed().as_secs_f64() * 1e6 / iters as f64);
        }
        let ferry_us = median(batches);
        let entry = baseline.as_ref().and_then(|b| b.get(c.name));
        let ruamel_us = entry.and_then(|e| e["us_per_op"].as_f64());
        let ratio = ruamel_us.map(|r| r / ferry_us);
        if let Some(r) = ratio {
            ratios.push(r);
        }
        println!(
            "| {} | {} | {:.1} | {} | {} |",
            c.name,
            c.target.len(),
            ferry_us,
            ruamel_us.map_or("n/a".into(), |r| format!("{r:.1}")),
            ratio.map_or("n/a".into(), |r| format!("{r:.0}×")),
        );
        if let Some(ruamel_out) = entry.and_then(|e| e["output"].as_str())
            && ruamel_out != out
        {
            diffs.push((c.name, line_diff(&out, ruamel_out)));
        }
    }
    if !ratios.is_empty() {
        let min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        println!("\nslowest-case ratio: {min:.0}× (goal ≥ 20×)");
    }
    println!("\nFiles where ruamel.yaml changes bytes that ferry keeps (- ferry / + ruamel):");
    if diffs.is_empty() {
        println!("(none)");
    }
    for (name, d) in diffs {
        println!("\n{name}: {} differing lines", d.len());
        for line in d.iter().take(12) {
            println!("    {line}");
        }
        if d.len() > 12 {
            println!("    … {} more", d.len() - 12);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
