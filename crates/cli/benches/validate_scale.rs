//! `ferry validate` at scale: 1,000 products × 5 environments × 3
//! applications (15,000 Applications), 1,000 flows, 200 policies, 50
//! templates. Measures wall time and peak RSS of the real binary, against
//! the floor of reading the same files (`cat`) in the same run.
//!
//! Run: `cargo bench -p ferry-cli --bench validate_scale`
//! Only generate the configuration: `cargo bench -p ferry-cli --bench validate_scale -- --generate DIR`

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const PRODUCTS: usize = 1_000;
const ENVIRONMENTS: [&str; 5] = ["dev", "qa", "staging", "prod-eu", "prod-us"];
const APPS_PER_ENV: usize = 3;
const POLICIES: usize = 200;
const TEMPLATES: usize = 50;
const RUNS: usize = 10;

fn generate(root: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(root.join("apps"))?;
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
    std::fs::write(root.join("environments.yaml"), envs)?;
    let mut templates = String::new();
    for t in 0..TEMPLATES {
        let _ = write!(
            templates,
            "---\napiVersion: codefresh.io/v1beta1\nkind: PromotionTemplate\nmetadata:\n  name: template-{t}\nspec:\n  applicationSourceSelector:\n    matchLabels:\n      template: t{t}\n  priority: {t}\n  versionSource:\n    file: Chart.yaml\n    jsonPath: $appVersion\n  promotion:\n    Chart.yaml:\n      jsonPaths: [$.appVersion]\n    values.yaml:\n      jsonPaths: [$..image, '$[\"svc-{t}\"].image.tag']\n"
        );
    }
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
    std::fs::write(root.join("policies.yaml"), policies)?;
    let mut files = 3;
    for p in 0..PRODUCTS {
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
        std::fs::write(root.join("apps").join(format!("product-{p:04}.yaml")), doc)?;
        files += 1;
    }
    Ok(files)
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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--generate") {
        let dir = PathBuf::from(args.get(i + 1).expect("--generate DIR"));
        let n = generate(&dir).expect("generate");
        println!("wrote {n} files to {}", dir.display());
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("config");
    let files = generate(&root).expect("generate");
    let ferry = ferry_binary();
    assert!(
        ferry.exists(),
        "build the binary first: cargo build --release -p ferry-cli ({})",
        ferry.display()
    );
    let root_s = root.to_str().expect("utf-8 path");

    let check = Command::new(&ferry)
        .args(["validate", root_s, "--output", "json"])
        .output()
        .expect("run ferry");
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).expect("json report");
    assert_eq!(
        report["valid"], true,
        "generated configuration must be valid: {}",
        report["diagnostics"]
    );
    assert_eq!(report["counts"]["Application"], 15_000);

    let apps_glob: Vec<String> = std::fs::read_dir(root.join("apps"))
        .expect("apps")
        .map(|e| e.expect("entry").path().display().to_string())
        .collect();
    let mut cat_args: Vec<&str> = vec!["cat"];
    cat_args.extend(apps_glob.iter().map(String::as_str));

    let mut ferry_walls = Vec::new();
    let mut ferry_cpu = Vec::new();
    let mut cat_walls = Vec::new();
    let mut peak = 0;
    for _ in 0..RUNS {
        let (w, cpu, rss) = measure(&[
            ferry.to_str().expect("path"),
            "validate",
            root_s,
            "--output",
            "json",
        ]);
        ferry_walls.push(w);
        ferry_cpu.push(cpu);
        peak = peak.max(rss);
        let (w, _, _) = measure(&cat_args);
        cat_walls.push(w);
    }
    let f = median(ferry_walls);
    let cpu = median(ferry_cpu);
    let c = median(cat_walls);
    println!(
        "validate_scale: {files} files, 15,000 Applications, 1,000 products/flows, 200 policies, 50 templates"
    );
    println!(
        "  ferry validate  median wall {:>8.1} ms  (goal < 1000 ms)",
        f.as_secs_f64() * 1e3
    );
    println!(
        "  ferry validate  median CPU  {:>8.1} ms  (user + system over both cores)",
        cpu.as_secs_f64() * 1e3
    );
    println!(
        "  peak RSS        {:>8.1} MB  (goal < 200 MB)",
        peak as f64 / 1024.0
    );
    println!(
        "  cat (I/O floor) median wall {:>8.1} ms  → ferry/cat = {:.1}×",
        c.as_secs_f64() * 1e3,
        f.as_secs_f64() / c.as_secs_f64()
    );
}
