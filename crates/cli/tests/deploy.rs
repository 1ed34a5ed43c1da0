//! The Kubernetes manifests (issues 11, 22) as users install them:
//! `deploy/kubernetes` is a Kustomize base with two overlays (SQLite on a
//! volume, PostgreSQL with replicas) and two optional components (Ingress,
//! ServiceMonitor). Each installation is rendered with `kubectl kustomize`
//! (a user's own overlay is one more kustomization on top), validated
//! against Kubernetes' schemas (`kubernetes-validate`, PyPI) and the
//! ServiceMonitor CRD, and held to ferry itself: only ports, probe paths,
//! settings keys, environment variables, flags and Secret keys that ferry
//! has or that docs/kubernetes.md tells users to create; and to the
//! `Dockerfile` (user, entrypoint, data directory, port, packages).

#[path = "support/dockerfile.rs"]
mod dockerfile;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use dockerfile::FinalStage;
use serde::Deserialize;
use yaml_serde::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn kubernetes() -> PathBuf {
    root().join("deploy/kubernetes")
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

fn seq(v: &Value) -> &[Value] {
    v.as_sequence()
        .map(Vec::as_slice)
        .unwrap_or_else(|| panic!("not a list: {v:?}"))
}

// ------------------------------------------------------------ what ferry has

/// `GET` routes of the server.
fn get_routes() -> BTreeSet<String> {
    ferry_api::table()
        .into_iter()
        .filter(|(method, _, _)| *method == "get")
        .map(|(_, path, _)| path.to_owned())
        .collect()
}

/// The settings a settings file and an environment give, and the names
/// of the variables ferry asked the environment for while loading them.
fn load_settings(
    file: &Path,
    env: &BTreeMap<String, String>,
) -> (ferry_server::Settings, BTreeSet<String>) {
    let read: RefCell<BTreeSet<String>> = RefCell::default();
    let settings = ferry_server::Settings::load(
        Some(file),
        |name| {
            read.borrow_mut().insert(name.to_owned());
            env.get(name).cloned()
        },
        ferry_server::Overrides::default(),
    )
    .unwrap_or_else(|e| panic!("the ConfigMap's settings: {e}"));
    (settings, read.into_inner())
}

/// `ferry serve --help`: its text, and the variables its flags read.
fn serve_help() -> (String, BTreeSet<String>) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let vars = help
        .split("[env: ")
        .skip(1)
        .filter_map(|rest| rest.split([']', '=']).next())
        .map(str::to_owned)
        .collect();
    (help, vars)
}

/// Names of environment variables a settings file refers to: the values
/// of its `*Env` keys (`tokenEnv`, `webhookSecretEnv`, ...) and of
/// `{ env = "..." }` tables, at any depth.
fn env_references(settings_text: &str) -> BTreeSet<String> {
    fn walk(v: &toml::Value, out: &mut BTreeSet<String>) {
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    match v {
                        toml::Value::String(name) if k.ends_with("Env") || k == "env" => {
                            out.insert(name.clone());
                        }
                        _ => walk(v, out),
                    }
                }
            }
            toml::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let table: toml::Table = settings_text.parse().unwrap();
    let mut out = BTreeSet::new();
    walk(&toml::Value::Table(table), &mut out);
    out
}

// ------------------------------------------------------------ what users do

/// The docs' `kubectl create secret generic ferry ...`: key → value.
/// Values computed by the shell (`"$(openssl rand ...)"`) become a
/// placeholder.
fn documented_secret() -> (String, BTreeMap<String, String>) {
    let joined = kubernetes_docs().replace("\\\n", " ");
    let line = joined
        .lines()
        .find(|l| l.trim_start().starts_with("kubectl ") && l.contains(" create secret generic "))
        .expect("docs/kubernetes.md shows how to create the Secret");
    let name = line
        .split("generic")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let mut keys = BTreeMap::new();
    for literal in line.split("--from-literal=").skip(1) {
        let (key, rest) = literal.split_once('=').unwrap();
        let value = rest.split_whitespace().next().unwrap_or_default();
        let value = if value.starts_with("\"$(") {
            "generated-by-the-shell".to_owned()
        } else {
            value.trim_matches(['\'', '"']).to_owned()
        };
        keys.insert(key.to_owned(), value);
    }
    assert!(!keys.is_empty(), "no --from-literal in: {line}");
    (name, keys)
}

fn kubernetes_docs() -> String {
    std::fs::read_to_string(root().join("docs/kubernetes.md")).unwrap()
}

/// The docs' ```yaml block of a `kind`.
fn documented(kind: &str) -> String {
    kubernetes_docs()
        .split("```yaml")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .find(|b| b.contains(&format!("\n{}kind: {kind}\n", indent_of(b))))
        .unwrap_or_else(|| panic!("docs/kubernetes.md shows no {kind}"))
        .to_owned()
}

fn indent_of(block: &str) -> &str {
    let first = block.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    &first[..first.len() - first.trim_start().len()]
}

/// `kubectl`: `FERRY_KUBECTL` (scripts/test sets it when it installs
/// one), else the one on PATH.
fn kubectl() -> String {
    std::env::var("FERRY_KUBECTL").unwrap_or_else(|_| "kubectl".into())
}

/// One installation, rendered.
struct Rendered {
    name: String,
    text: String,
    docs: Vec<Value>,
}

impl Rendered {
    fn all(&self, kind: &str) -> Vec<&Value> {
        self.docs.iter().filter(|d| d["kind"] == kind).collect()
    }

    fn one(&self, kind: &str) -> &Value {
        let docs = self.all(kind);
        assert_eq!(docs.len(), 1, "{}: one {kind}", self.name);
        docs[0]
    }

    fn named(&self, kind: &str, name: &str) -> &Value {
        self.all(kind)
            .into_iter()
            .find(|d| d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{}: no {kind} {name}", self.name))
    }

    fn pod_spec(&self) -> &Value {
        &self.one("Deployment")["spec"]["template"]["spec"]
    }

    fn container(&self) -> &Value {
        let containers = seq(&self.pod_spec()["containers"]);
        assert_eq!(containers.len(), 1, "{}", self.name);
        &containers[0]
    }

    fn env(&self) -> &[Value] {
        seq(&self.container()["env"])
    }
}

fn render(name: &str, dir: &Path) -> Rendered {
    let out = Command::new(kubectl())
        .arg("kustomize")
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}: install kubectl (scripts/test does)", kubectl()));
    assert!(
        out.status.success(),
        "kubectl kustomize {}: {}\n(`patches` and components need kustomize v4 or \
         newer, in kubectl 1.21 or newer)",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let docs: Vec<Value> = yaml_serde::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap())
        .collect();
    assert!(docs.len() >= 4, "{name}: rendered {} documents", docs.len());
    Rendered {
        name: name.to_owned(),
        text,
        docs,
    }
}

/// `to` as a path relative to the directory `from` (Kustomize refuses
/// absolute ones).
fn relative(from: &Path, to: &Path) -> PathBuf {
    let (from, to) = (from.canonicalize().unwrap(), to.canonicalize().unwrap());
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    to[common..].iter().for_each(|c| out.push(c));
    out
}

/// The two overlays as they are, and each with the optional components
/// added by a user's own kustomization.
fn installations() -> &'static [Rendered] {
    static RENDERED: OnceLock<Vec<Rendered>> = OnceLock::new();
    RENDERED.get_or_init(|| {
        let mine = tempfile::tempdir().unwrap();
        let k = relative(mine.path(), &kubernetes());
        let k = k.display();
        let mut out = Vec::new();
        for overlay in ["sqlite", "postgres"] {
            out.push(render(
                overlay,
                &kubernetes().join("overlays").join(overlay),
            ));
            std::fs::write(
                mine.path().join("kustomization.yaml"),
                format!(
                    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\
                     resources:\n  - {k}/overlays/{overlay}\n\
                     components:\n  - {k}/components/ingress\n\
                     \x20 - {k}/components/servicemonitor\n"
                ),
            )
            .unwrap();
            out.push(render(&format!("{overlay}+components"), mine.path()));
        }
        // The docs' example of a user's overlay (install step 3), with
        // ferry's remote base pointing at this checkout and the settings
        // file it patches in made from the base's, on the host the
        // example gives the Ingress.
        let example = documented("Kustomization");
        let remote = "https://github.com/example/ferry//deploy/kubernetes";
        let reference = format!("?ref=v{}", env!("CARGO_PKG_VERSION"));
        assert!(example.contains(remote), "{example}");
        assert_eq!(
            example.matches(remote).count(),
            example.matches(&reference).count(),
            "every remote reference is to this version:\n{example}"
        );
        let local = example
            .replace(remote, &k.to_string())
            .replace(&reference, "");
        let parsed: Value = yaml_serde::from_str(&local).unwrap();
        let host = seq(&parsed["patches"])
            .iter()
            .filter_map(|p| p["patch"].as_str())
            .flat_map(|p| yaml_serde::from_str::<Vec<Value>>(p).unwrap())
            .find(|op| op["path"] == "/spec/rules/0/host")
            .map(|op| s(&op["value"]).to_owned())
            .expect("the example sets the Ingress host");
        let settings = std::fs::read_to_string(kubernetes().join("base/configmap.yaml")).unwrap();
        assert!(settings.contains("\"https://ferry.example.com\""));
        std::fs::write(
            mine.path().join("settings.yaml"),
            settings.replace("https://ferry.example.com", &format!("https://{host}")),
        )
        .unwrap();
        std::fs::write(mine.path().join("kustomization.yaml"), local).unwrap();
        out.push(render("docs-example", mine.path()));
        out
    })
}

fn installation(name: &str) -> &'static Rendered {
    installations()
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no installation {name}"))
}

// ------------------------------------------------------------ tests

/// Kinds `kubernetes-validate` has no schema for, and the CRD that has.
const CRDS: [(&str, &str); 1] = [(
    "ServiceMonitor",
    "monitoring.coreos.com_servicemonitors.yaml",
)];

#[test]
fn every_installation_matches_the_kubernetes_schemas() {
    let data = root().join("crates/cli/tests/data/kubernetes");
    let dir = tempfile::tempdir().unwrap();
    let file_of = |r: &Rendered| dir.path().join(format!("{}.yaml", r.name));
    for r in installations() {
        std::fs::write(file_of(r), &r.text).unwrap();
    }
    // The oldest and the newest Kubernetes the package knows; one process
    // per version for every installation.
    for version in ["1.25.0", "1.37.0"] {
        let out = Command::new("python3")
            .args(["-m", "kubernetes_validate", "--strict", "-k", version])
            .args(installations().iter().map(file_of))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "against Kubernetes {version}:\n{text}\n(scripts/test installs \
             kubernetes-validate with pip)"
        );
        for r in installations() {
            let file = file_of(r);
            let file = file.to_str().unwrap();
            let builtin = r
                .docs
                .iter()
                .filter(|d| !CRDS.iter().any(|(k, _)| d["kind"] == *k))
                .count();
            let lines: Vec<&str> = text.lines().filter(|l| l.contains(file)).collect();
            let passed = lines.iter().filter(|l| l.contains(" passed for ")).count();
            assert_eq!(passed, builtin, "{} against {version}:\n{text}", r.name);
            for line in lines.iter().filter(|l| !l.contains(" passed for ")) {
                assert!(
                    CRDS.iter()
                        .any(|(k, _)| line.contains(&format!("schema for kind {k} "))),
                    "{}: {line}",
                    r.name
                );
            }
        }
    }
    for r in installations() {
        for (kind, crd) in CRDS {
            if r.all(kind).is_empty() {
                continue;
            }
            let out = Command::new("python3")
                .arg(data.join("validate-crd.py"))
                .arg(data.join(crd))
                .arg(file_of(r))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: {kind}: {}{}",
                r.name,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    // The components were rendered in.
    let full = installation("postgres+components");
    full.one("Ingress");
    full.one("ServiceMonitor");
    assert!(installation("postgres").all("Ingress").is_empty());
}

#[test]
fn every_installation_uses_only_what_ferry_has() {
    let (help, help_vars) = serve_help();
    let routes = get_routes();
    let (secret_name, secret) = documented_secret();
    let stage = FinalStage::read(&root());
    for r in installations() {
        let name = &r.name;
        let deployment = r.one("Deployment");
        let service = r.one("Service");
        let pod = &deployment["spec"]["template"];
        let spec = r.pod_spec();
        let c = r.container();

        // The pod labels are what the Deployment, the Service and the
        // PodDisruptionBudget select.
        let labels = pod["metadata"]["labels"].as_mapping().unwrap();
        let mut selectors = vec![
            &deployment["spec"]["selector"]["matchLabels"],
            &service["spec"]["selector"],
        ];
        for pdb in r.all("PodDisruptionBudget") {
            selectors.push(&pdb["spec"]["selector"]["matchLabels"]);
        }
        for selector in selectors {
            for (k, v) in selector.as_mapping().unwrap() {
                assert_eq!(labels.get(k), Some(v), "{name}: selector {k:?}");
            }
        }
        // The ServiceAccount exists and grants nothing: no token mounted.
        let account = r.named("ServiceAccount", s(&spec["serviceAccountName"]));
        assert_eq!(
            account["automountServiceAccountToken"].as_bool(),
            Some(false)
        );
        assert_eq!(spec["automountServiceAccountToken"].as_bool(), Some(false));
        assert!(r.all("Role").is_empty() && r.all("ClusterRole").is_empty());

        // Arguments: `serve --settings <file>`, known to the binary.
        let args: Vec<&str> = seq(&c["args"]).iter().map(s).collect();
        assert_eq!(args[0], "serve", "{name}");
        for flag in args.iter().filter(|a| a.starts_with("--")) {
            assert!(help.contains(flag), "{name}: `ferry serve` has no {flag}");
        }
        let settings_path = args[args.iter().position(|a| *a == "--settings").unwrap() + 1];
        let (settings_dir, settings_file) = settings_path.rsplit_once('/').unwrap();

        // Volumes by mount path.
        let mounts = seq(&c["volumeMounts"]);
        let volumes = seq(&spec["volumes"]);
        let volume_of = |mount_path: &str| -> &Value {
            let mount = mounts
                .iter()
                .find(|m| s(&m["mountPath"]) == mount_path)
                .unwrap_or_else(|| panic!("{name}: nothing mounted at {mount_path}"));
            volumes
                .iter()
                .find(|v| v["name"] == mount["name"])
                .unwrap_or_else(|| panic!("{name}: no volume {:?}", mount["name"]))
        };
        // The settings file comes from the ConfigMap.
        let config_map = r.named(
            "ConfigMap",
            s(&volume_of(settings_dir)["configMap"]["name"]),
        );
        let settings_text = s(&config_map["data"][settings_file]);

        // Environment: literal values, or keys of the Secret the docs
        // tell users to create.
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        for e in r.env() {
            let var = s(&e["name"]).to_owned();
            let value = if let Some(v) = e["value"].as_str() {
                v.to_owned()
            } else {
                let key_ref = &e["valueFrom"]["secretKeyRef"];
                assert_eq!(s(&key_ref["name"]), secret_name, "{name}: {var}");
                let key = s(&key_ref["key"]);
                secret.get(key).cloned().unwrap_or_else(|| {
                    panic!("{name}: {var}: docs/kubernetes.md creates no Secret key {key}")
                })
            };
            assert!(
                env.insert(var.clone(), value).is_none(),
                "{name}: {var} twice"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(settings_file);
        std::fs::write(&file, settings_text).unwrap();
        let (settings, read) = load_settings(&file, &env);
        // Every variable set is one ferry reads: a settings variable, a
        // flag's variable, or one the settings file names (`tokenEnv`...),
        // and every variable the settings file names is set.
        let referenced = env_references(settings_text);
        for var in env.keys() {
            assert!(
                read.contains(var) || help_vars.contains(var) || referenced.contains(var),
                "{name}: ferry does not read {var}"
            );
        }
        for var in &referenced {
            assert!(
                env.contains_key(var),
                "{name}: the settings name {var}; it is not set"
            );
        }
        assert!(settings.admin_token.is_some(), "{name}: no admin token");

        // The data directory: a writable volume; /tmp too, as the root
        // file system is read-only.
        let data_dir = settings.data_dir.to_str().unwrap();
        for path in [data_dir, "/tmp"] {
            let v = volume_of(path);
            assert!(
                v.get("emptyDir").is_some() || v.get("persistentVolumeClaim").is_some(),
                "{name}: {path} is not writable: {v:?}"
            );
        }
        assert_eq!(
            c["securityContext"]["readOnlyRootFilesystem"].as_bool(),
            Some(true)
        );

        // Ports: the listen port is the container's `http` port, which the
        // probes and the Service use.
        let listen_port: u64 = settings.listen.rsplit_once(':').unwrap().1.parse().unwrap();
        let http = seq(&c["ports"])
            .iter()
            .find(|p| p["name"] == "http")
            .unwrap();
        assert_eq!(http["containerPort"].as_u64(), Some(listen_port), "{name}");
        let port_ok = |p: &Value| p == &http["name"] || p.as_u64() == Some(listen_port);
        for sp in seq(&service["spec"]["ports"]) {
            assert!(port_ok(&sp["targetPort"]), "{name}: Service targetPort");
        }
        // Probes: GET routes meant for them.
        for (probe, expected) in [
            ("startupProbe", "/healthz"),
            ("livenessProbe", "/healthz"),
            ("readinessProbe", "/readyz"),
        ] {
            let get = &c[probe]["httpGet"];
            let path = s(&get["path"]);
            assert_eq!(path, expected, "{name}: {probe}");
            assert!(
                routes.contains(path),
                "{name}: {probe}: no route GET {path}"
            );
            assert!(port_ok(&get["port"]), "{name}: {probe} port");
        }
        assert!(c["resources"]["requests"]["memory"].as_str().is_some());

        // The image is this version of ferry.
        let image = s(&c["image"]);
        assert!(
            image.ends_with(&format!(":{}", env!("CARGO_PKG_VERSION"))),
            "{name}: image {image} is not version {}",
            env!("CARGO_PKG_VERSION")
        );

        // The image (Dockerfile, and scripts/image with the same layout):
        // its port, its non-root user, its entrypoint the args go to, its
        // data directory.
        assert_eq!(stage.last("EXPOSE"), listen_port.to_string());
        let uid: u64 = stage
            .last("USER")
            .split(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_ne!(uid, 0, "the image runs as root");
        let pod_security = &spec["securityContext"];
        assert_eq!(pod_security["runAsUser"].as_u64(), Some(uid), "{name}");
        assert_eq!(pod_security["runAsNonRoot"].as_bool(), Some(true), "{name}");
        assert_eq!(stage.exec_form("ENTRYPOINT"), ["/usr/local/bin/ferry"]);
        assert!(
            c.get("command").is_none(),
            "{name}: the container keeps the image's entrypoint"
        );
        assert_eq!(
            stage.pairs("ENV").get("FERRY_DATA_DIR").map(String::as_str),
            Some(data_dir)
        );
        assert_eq!(stage.last("WORKDIR"), data_dir);
    }
    // The Dockerfile's final stage copies the binary to the entrypoint
    // and installs what ferry runs.
    assert!(
        stage
            .all("COPY")
            .iter()
            .any(|c| c.ends_with("/usr/local/bin/ferry"))
    );
    let words = stage.run_words();
    for package in ["ca-certificates", "git", "openssh-client"] {
        assert!(
            words.iter().any(|w| w == package),
            "the image lacks {package}"
        );
    }
}

#[test]
fn sqlite_runs_one_replica_with_its_database_on_a_volume() {
    for name in ["sqlite", "sqlite+components"] {
        let r = installation(name);
        let deployment = r.one("Deployment");
        assert_eq!(deployment["spec"]["replicas"].as_u64(), Some(1), "{name}");
        // Never two pods on the database: the old one stops first.
        assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate", "{name}");
        assert!(
            !r.env().iter().any(|e| e["name"] == "FERRY_DATABASE_URL"),
            "{name}: SQLite is the default without a database URL"
        );
        // The data directory (where the database is) is the claim.
        let mounts = seq(&r.container()["volumeMounts"]);
        let data = mounts
            .iter()
            .find(|m| m["mountPath"] == "/var/lib/ferry")
            .unwrap();
        let volume = seq(&r.pod_spec()["volumes"])
            .iter()
            .find(|v| v["name"] == data["name"])
            .unwrap();
        assert!(volume.get("emptyDir").is_none(), "{name}: {volume:?}");
        let claim = r.named(
            "PersistentVolumeClaim",
            s(&volume["persistentVolumeClaim"]["claimName"]),
        );
        assert_eq!(seq(&claim["spec"]["accessModes"])[0], "ReadWriteOnce");
        assert!(r.all("PodDisruptionBudget").is_empty(), "{name}");
    }
}

#[test]
fn postgres_runs_replicas_on_the_database_named_by_the_secret() {
    let (_, secret) = documented_secret();
    for name in ["postgres", "postgres+components", "docs-example"] {
        let r = installation(name);
        let deployment = r.one("Deployment");
        let replicas = deployment["spec"]["replicas"].as_u64().unwrap();
        assert!(replicas >= 2, "{name}: {replicas} replica(s)");
        let url = r
            .env()
            .iter()
            .find(|e| e["name"] == "FERRY_DATABASE_URL")
            .unwrap_or_else(|| panic!("{name}: no FERRY_DATABASE_URL"));
        let key = s(&url["valueFrom"]["secretKeyRef"]["key"]);
        assert!(secret[key].starts_with("postgres://"), "{name}: {key}");
        // Mirrors are per pod; no shared volume a second pod cannot mount.
        assert!(r.all("PersistentVolumeClaim").is_empty(), "{name}");
        // A drain keeps a replica serving.
        let pdb = r.one("PodDisruptionBudget");
        let min = pdb["spec"]["minAvailable"].as_u64().unwrap();
        assert!(min >= 1 && min < replicas, "{name}: minAvailable {min}");
    }
}

#[test]
fn the_ingress_and_the_service_monitor_reach_the_service() {
    let routes = get_routes();
    for name in ["sqlite+components", "postgres+components", "docs-example"] {
        let r = installation(name);
        let service = r.one("Service");
        let port_names: BTreeSet<&str> = seq(&service["spec"]["ports"])
            .iter()
            .map(|p| s(&p["name"]))
            .collect();
        let service_labels = service["metadata"]["labels"].as_mapping().unwrap();

        // The Ingress routes its host (the settings' baseUrl) to the Service.
        let ingress = r.one("Ingress");
        let settings =
            toml::from_str::<toml::Table>(s(&r.one("ConfigMap")["data"]["ferry.toml"])).unwrap();
        let base_url = settings["baseUrl"].as_str().unwrap();
        let host = base_url
            .trim_start_matches("https://")
            .trim_end_matches('/');
        assert!(base_url.starts_with("https://"), "{base_url}");
        let rules = seq(&ingress["spec"]["rules"]);
        assert_eq!(rules.len(), 1);
        assert_eq!(s(&rules[0]["host"]), host, "{name}: Ingress host");
        let tls_hosts: Vec<&str> = seq(&ingress["spec"]["tls"][0]["hosts"])
            .iter()
            .map(s)
            .collect();
        assert_eq!(tls_hosts, [host]);
        for path in seq(&rules[0]["http"]["paths"]) {
            assert_eq!(path["path"], "/");
            let backend = &path["backend"]["service"];
            assert_eq!(backend["name"], service["metadata"]["name"], "{name}");
            assert!(port_names.contains(s(&backend["port"]["name"])), "{name}");
        }

        // A ServiceMonitor selects the Service and scrapes a route.
        for monitor in r.all("ServiceMonitor") {
            for (k, v) in monitor["spec"]["selector"]["matchLabels"]
                .as_mapping()
                .unwrap()
            {
                assert_eq!(service_labels.get(k), Some(v), "{name}: {k:?}");
            }
            for endpoint in seq(&monitor["spec"]["endpoints"]) {
                assert!(port_names.contains(s(&endpoint["port"])), "{name}");
                assert!(routes.contains(s(&endpoint["path"])), "{name}");
            }
        }
    }
}

/// The docs' install commands and Argo CD Application point at what is
/// in the repository.
#[test]
fn the_docs_install_the_overlays_that_exist() {
    let docs = kubernetes_docs();
    let mut applied = BTreeSet::new();
    for line in docs.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() == Some(&"kubectl") && words.contains(&"apply") {
            let k = words.iter().position(|w| *w == "-k").expect(line);
            let dir = words[k + 1];
            assert!(
                root().join(dir).join("kustomization.yaml").is_file(),
                "{line}"
            );
            applied.insert(dir.to_owned());
        }
    }
    for overlay in ["sqlite", "postgres"] {
        assert!(
            applied.contains(&format!("deploy/kubernetes/overlays/{overlay}")),
            "docs/kubernetes.md does not show how to apply {overlay}: {applied:?}"
        );
    }
    // The Argo CD Application: what Argo CD's published API description
    // allows (vendored by ferry-appstate's tests; objects closed, so a
    // misspelt field is an error), pointing at an overlay of this version.
    let app: Value = yaml_serde::from_str(&documented("Application")).unwrap();
    assert_eq!(app["apiVersion"], "argoproj.io/v1alpha1");
    let argocd =
        ferry_apicheck::Swagger::load(&root().join("crates/appstate/tests/data/argo-cd")).unwrap();
    assert_eq!(app["kind"], "Application");
    // The description models the object without its type fields.
    let mut object = serde_json::to_value(&app).unwrap();
    let fields = object.as_object_mut().unwrap();
    fields.remove("apiVersion");
    fields.remove("kind");
    let problems = argocd.check_definition(
        "v1alpha1Application",
        &object,
        ferry_apicheck::Mode::Request,
    );
    assert!(problems.is_empty(), "the docs' Application: {problems:#?}");
    let images: Vec<&str> = seq(&app["spec"]["source"]["kustomize"]["images"])
        .iter()
        .map(s)
        .collect();
    let deployed = s(&installation("postgres").container()["image"]);
    let (name, _) = deployed.rsplit_once(':').unwrap();
    assert!(
        images.iter().all(|i| i.starts_with(&format!("{name}="))),
        "the Application renames {images:?}, the manifests use {name}"
    );
    let path = s(&app["spec"]["source"]["path"]);
    assert!(
        path.starts_with("deploy/kubernetes/overlays/")
            && root().join(path).join("kustomization.yaml").is_file(),
        "the Application's path {path}"
    );
    let revision = s(&app["spec"]["source"]["targetRevision"]);
    assert_eq!(revision, format!("v{}", env!("CARGO_PKG_VERSION")));
}

/// The docs' example overlay does what it says: everything in its
/// namespace, the image from the user's registry.
#[test]
fn the_docs_example_overlay_sets_namespace_and_image() {
    let r = installation("docs-example");
    for doc in &r.docs {
        assert_eq!(doc["metadata"]["namespace"], "ferry", "{:?}", doc["kind"]);
    }
    assert_eq!(
        s(&r.container()["image"]),
        format!("registry.example.com/ferry:{}", env!("CARGO_PKG_VERSION"))
    );
}
