//! `ferry validate` at scale, and on input that is not a configuration.
//!
//! Scenarios (each against its baselines in the same run: `cat` of the same
//! files for time, the input's size for memory):
//! - `apps-15k`: 1,000 products × 5 environments × 3 applications (15,000
//!   Applications), 1,000 flows, 200 policies, 50 templates;
//! - `apps-50k`: the same shape with 3,334 products (50,010 Applications);
//! - `integers`: one 15 MB file holding a YAML list of integers (not a
//!   resource: refused with an error naming the file);
//! - `integers-x4`: four such files;
//! - `values`: one 15 MB mapping without `kind` (Helm values beside the
//!   manifests: ignored with a note).
//!
//! For each: the real binary's median wall time, CPU time and peak RSS
//! (GNU time), and — in this process, through a counting global allocator —
//! the peak heap of loading the configuration (`ferry_config::load`, what
//! `ferry validate` and `ferry serve` do) plus the membership table.
//!
//! Run: `cargo build --release -p ferry-cli && cargo bench -p ferry-cli --bench validate_scale`
//! One scenario: `… --bench validate_scale -- --only apps-50k`; runs per
//! measure: `--runs N` (default 10).
//! Only generate a configuration: `… --bench validate_scale -- --generate DIR [--products N]`

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const ENVIRONMENTS: [&str; 5] = ["dev", "qa", "staging", "prod-eu", "prod-us"];
const APPS_PER_ENV: usize = 3;
const POLICIES: usize = 200;
const TEMPLATES: usize = 50;
const NON_RESOURCE_BYTES: usize = 15_000_000;

/// Counts live heap bytes and their peak, so the benchmark reports what
/// loading allocates rather than the process's RSS (heaptrack is not
/// available here).
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grow(new_size);
        }
        p
    }
}

fn grow(bytes: usize) {
    let now = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Peak heap (above what was live before) while `f` runs.
fn heap_peak<R>(f: impl FnOnce() -> R) -> (R, usize, Duration) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let start = Instant::now();
    let r = f();
    let took = start.elapsed();
    (r, PEAK.load(Ordering::Relaxed) - before, took)
}

struct Generated {
    files: Vec<PathBuf>,
    applications: usize,
}

fn generate(root: &Path, products: usize) -> std::io::Result<Generated> {
    std::fs::create_dir_all(root.join("apps"))?;
    let mut files = Vec::new();
    let mut envs = String::new();
    for (i, env) in ENVIRONMENTS.iter().enumerate() {
        let kind = if env.starts_with("prod") {
            "PROD"
        } else {
            "NON_PROD"
        };
        let _ = write!(
            envs,
            "---\napiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata:\n  name: {env}\nspec:\n  kind: {kind}\n  order: {i}\n  clusters:\n    - name: cluster-{env}\n      namespaces: [\"*-{env}\"]\n"
        );
    }
    files.push(root.join("environments.yaml"));
    std::fs::write(root.join("environments.yaml"), envs)?;
    let mut templates = String::new();
    for t in 0..TEMPLATES {
        let _ = write!(
            templates,
            "---\napiVersion: codefresh.io/v1beta1\nkind: PromotionTemplate\nmetadata:\n  name: template-{t}\nspec:\n  applicationSourceSelector:\n    matchLabels:\n      template: t{t}\n  priority: {t}\n  versionSource:\n    file: Chart.yaml\n    jsonPath: $appVersion\n  promotion:\n    Chart.yaml:\n      jsonPaths: [$.appVersion]\n    values.yaml:\n      jsonPaths: [$..image, '$[\"svc-{t}\"].image.tag']\n"
        );
    }
    files.push(root.join("templates.yaml"));
    std::fs::write(root.join("templates.yaml"), templates)?;
    let mut policies = String::new();
    for p in 0..POLICIES {
        let env = ENVIRONMENTS[p % ENVIRONMENTS.len()];
        let _ = write!(
            policies,
            "---\napiVersion: codefresh.io/v1beta1\nkind: PromotionPolicy\nmetadata:\n  name: policy-{p}\nspec:\n  priority: {p}\n  selector:\n    product:\n      names: [product-{}]\n    targetEnvironment:\n      names: [{env}]\n  policy:\n    action: commit\n",
            p * 5
        );
    }
    files.push(root.join("policies.yaml"));
    std::fs::write(root.join("policies.yaml"), policies)?;
    for p in 0..products {
        let mut doc = format!(
            "apiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata:\n  name: product-{p}\nspec:\n  promotionFlows:\n    - name: flow-{p}\n      gitTriggerSelectors:\n        - {{key: commitMessage, operator: NotIn, values: [\"docs*\"]}}\n---\napiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata:\n  name: flow-{p}\nspec:\n  triggerEnvironment: dev\n  steps:\n    - environment: qa\n      dependsOn: [dev]\n    - environment: staging\n      dependsOn: [qa]\n    - environment: prod-eu\n      dependsOn: [staging]\n    - environment: prod-us\n      dependsOn: [staging]\n"
        );
        for env in ENVIRONMENTS {
            for a in 0..APPS_PER_ENV {
                let _ = write!(
                    doc,
                    "---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: p{p}-svc{a}-{env}\n  namespace: argocd\n  labels:\n    template: t{}\n  annotations:\n    codefresh.io/product: product-{p}\nspec:\n  project: default\n  source:\n    repoURL: https://git.example.com/org/gitops-{}.git\n    targetRevision: main\n    path: products/p{p}/svc{a}/{env}\n  destination:\n    name: cluster-{env}\n    namespace: p{p}-{env}\n  syncPolicy:\n    automated: {{prune: true, selfHeal: true}}\n",
                    (p + a) % TEMPLATES,
                    p % 10
                );
            }
        }
        let path = root.join("apps").join(format!("product-{p:05}.yaml"));
        std::fs::write(&path, doc)?;
        files.push(path);
    }
    Ok(Generated {
        files,
        applications: products * ENVIRONMENTS.len() * APPS_PER_ENV,
    })
}

/// A YAML list of one-digit integers of `bytes` bytes (four bytes a node,
/// the most nodes a block list can pack): valid YAML, not a resource.
fn integers(path: &Path, bytes: usize) -> std::io::Result<()> {
    let text: String = (0..bytes / 4).map(|i| format!("- {}\n", i % 10)).collect();
    std::fs::write(path, text)
}

/// A mapping without `kind` (like a Helm values file) of about `bytes` bytes.
fn values(path: &Path, bytes: usize) -> std::io::Result<()> {
    let mut text = String::with_capacity(bytes + 256);
    let mut i = 0u64;
    while text.len() < bytes {
        let _ = write!(
            text,
            "service{i}:\n  image:\n    repository: registry.example.com/team/service-{i}\n    tag: \"1.{}.{}\"\n  replicas: {}\n  ports: [80, 443]\n",
            i % 50,
            i % 7,
            i % 5 + 1
        );
        i += 1;
    }
    std::fs::write(path, text)
}

/// Wall time, CPU time (user + system) and peak RSS (KiB) of one command,
/// through GNU time. CPU time is reported too because this machine is
/// shared: wall time grows with other load, CPU time much less.
fn measure(cmd: &[&str]) -> (Duration, Duration, u64) {
    let start = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M %U %S")
        .args(cmd)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run /usr/bin/time");
    let wall = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or("");
    let mut parts = last.split_whitespace();
    let rss = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    let user: f64 = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let sys: f64 = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
    (wall, Duration::from_secs_f64(user + sys), rss)
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ferry_binary() -> PathBuf {
    // The bench profile builds the binary next to this bench's executable.
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    dir.join("ferry")
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// What a scenario expects of `ferry validate --output json`.
enum Expect {
    Valid {
        applications: usize,
    },
    /// Refused: an error whose file ends with this name.
    Refused {
        file: &'static str,
    },
    /// Valid, with a note for the file.
    Ignored,
}

struct Scenario {
    name: &'static str,
    root: PathBuf,
    files: Vec<PathBuf>,
    expect: Expect,
}

fn check(ferry: &Path, s: &Scenario) {
    let out = Command::new(ferry)
        .args([
            "validate",
            s.root.to_str().expect("utf-8 path"),
            "--output",
            "json",
        ])
        .output()
        .expect("run ferry");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: no JSON report ({e}); stderr: {}",
            s.name,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    match &s.expect {
        Expect::Valid { applications } => {
            assert_eq!(
                report["valid"], true,
                "{}: generated configuration must be valid: {}",
                s.name, report["diagnostics"]
            );
            assert_eq!(report["counts"]["Application"], *applications, "{}", s.name);
        }
        Expect::Refused { file } => {
            assert_eq!(report["valid"], false, "{}", s.name);
            let found = report["diagnostics"].as_array().is_some_and(|ds| {
                ds.iter().any(|d| {
                    d["severity"] == "error"
                        && d["file"].as_str().is_some_and(|f| f.ends_with(file))
                })
            });
            assert!(
                found,
                "{}: no error names {file}: {}",
                s.name, report["diagnostics"]
            );
        }
        Expect::Ignored => {
            assert_eq!(
                report["valid"], true,
                "{}: {}",
                s.name, report["diagnostics"]
            );
        }
    }
    let first = report["diagnostics"]
        .as_array()
        .and_then(|ds| ds.iter().find(|d| d["severity"] != "warning"));
    if let Some(d) = first {
        println!(
            "  first diagnostic: {}:{}:{}: {}: {}",
            d["file"].as_str().unwrap_or(""),
            d["line"],
            d["column"],
            d["severity"].as_str().unwrap_or(""),
            d["message"].as_str().unwrap_or("")
        );
    }
}

fn run(ferry: &Path, s: &Scenario, runs: usize) {
    let input: u64 = s
        .files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .sum();
    println!(
        "{}: {} files, {:.1} MB input",
        s.name,
        s.files.len(),
        mb(input)
    );
    check(ferry, s);

    // In this process: the loading path `ferry validate` and `ferry serve` share.
    let source = ferry_config::ConfigSource::Dir(s.root.clone());
    let ((), heap, took) = heap_peak(|| {
        let loaded = ferry_config::load(&source).expect("load");
        let membership = ferry_model::Membership::compute(&loaded.config);
        std::hint::black_box((&loaded, &membership));
    });
    println!(
        "  load + membership (in process)  {:>8.1} ms  peak heap {:>7.1} MB = {:.2}× input",
        took.as_secs_f64() * 1e3,
        mb(heap as u64),
        heap as f64 / input as f64
    );

    let root = s.root.to_str().expect("utf-8 path");
    let mut cat_args: Vec<&str> = vec!["cat"];
    cat_args.extend(s.files.iter().map(|f| f.to_str().expect("utf-8 path")));
    let mut walls = Vec::new();
    let mut cpus = Vec::new();
    let mut cat_walls = Vec::new();
    let mut peak_kib = 0;
    for _ in 0..runs {
        let (w, cpu, rss) = measure(&[
            ferry.to_str().expect("path"),
            "validate",
            root,
            "--output",
            "json",
        ]);
        walls.push(w);
        cpus.push(cpu);
        peak_kib = peak_kib.max(rss);
        let (w, _, _) = measure(&cat_args);
        cat_walls.push(w);
    }
    let (w, cpu, c) = (median(walls), median(cpus), median(cat_walls));
    let rss = peak_kib * 1024;
    println!(
        "  ferry validate  median wall {:>8.1} ms, CPU {:>8.1} ms; cat median wall {:>6.1} ms → ferry/cat = {:.1}×",
        w.as_secs_f64() * 1e3,
        cpu.as_secs_f64() * 1e3,
        c.as_secs_f64() * 1e3,
        w.as_secs_f64() / c.as_secs_f64()
    );
    println!(
        "  ferry validate  peak RSS {:>7.1} MB = {:.2}× input",
        mb(rss),
        rss as f64 / input as f64
    );
}

fn arg_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(dir) = arg_value(&args, "--generate") {
        let products =
            arg_value(&args, "--products").map_or(1_000, |n| n.parse().expect("--products N"));
        let g = generate(Path::new(dir), products).expect("generate");
        println!(
            "wrote {} files ({} Applications) to {dir}",
            g.files.len(),
            g.applications
        );
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let runs = arg_value(&args, "--runs").map_or(10, |n| n.parse().expect("--runs N"));
    let only = arg_value(&args, "--only");
    let ferry = ferry_binary();
    assert!(
        ferry.exists(),
        "build the binary first: cargo build --release -p ferry-cli ({})",
        ferry.display()
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let wanted = |name: &str| only.is_none_or(|o| o == name);

    for (name, products) in [("apps-15k", 1_000), ("apps-50k", 3_334)] {
        if !wanted(name) {
            continue;
        }
        let root = tmp.path().join(name);
        let g = generate(&root, products).expect("generate");
        run(
            &ferry,
            &Scenario {
                name,
                root,
                files: g.files,
                expect: Expect::Valid {
                    applications: g.applications,
                },
            },
            runs,
        );
    }
    for (name, count) in [("integers", 1), ("integers-x4", 4)] {
        if !wanted(name) {
            continue;
        }
        let root = tmp.path().join(name);
        std::fs::create_dir_all(&root).expect("dir");
        let files: Vec<PathBuf> = (0..count)
            .map(|i| {
                let f = root.join(format!("numbers-{i}.yaml"));
                integers(&f, NON_RESOURCE_BYTES).expect("write");
                f
            })
            .collect();
        run(
            &ferry,
            &Scenario {
                name,
                root,
                files,
                expect: Expect::Refused {
                    file: "numbers-0.yaml",
                },
            },
            runs,
        );
    }
    if wanted("values") {
        let root = tmp.path().join("values");
        std::fs::create_dir_all(&root).expect("dir");
        let f = root.join("values.yaml");
        values(&f, NON_RESOURCE_BYTES).expect("write");
        run(
            &ferry,
            &Scenario {
                name: "values",
                root,
                files: vec![f],
                expect: Expect::Ignored,
            },
            runs,
        );
    }
}
