//! The packaging (issue 11) agrees with the program: the Kubernetes
//! manifests under `deploy/kubernetes/` parse, and reference only ports,
//! probe paths, settings keys, environment variables, Secret keys and
//! command-line arguments that ferry has; the `Dockerfile`'s EXPOSE, USER,
//! ENTRYPOINT and data directory agree with them.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use yaml_serde::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every document of every manifest, by kind.
fn manifests() -> BTreeMap<String, Vec<Value>> {
    let dir = root().join("deploy/kubernetes");
    let mut by_kind: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for doc in yaml_serde::Deserializer::from_str(&text) {
            let value =
                Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let kind = value["kind"]
                .as_str()
                .unwrap_or_else(|| panic!("{}: a document without kind", path.display()))
                .to_owned();
            by_kind.entry(kind).or_default().push(value);
        }
    }
    by_kind
}

fn one<'a>(all: &'a BTreeMap<String, Vec<Value>>, kind: &str) -> &'a Value {
    let docs = all.get(kind).unwrap_or_else(|| panic!("no {kind}"));
    assert_eq!(docs.len(), 1, "one {kind}");
    &docs[0]
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

/// The Dockerfile's final stage: instruction → arguments (last wins).
fn dockerfile_final_stage() -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    // Join continuation lines.
    let joined = text.replace("\\\n", " ");
    let mut stage = BTreeMap::new();
    for line in joined.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (instr, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let instr = instr.to_ascii_uppercase();
        if instr == "FROM" {
            stage.clear();
        }
        stage
            .entry(instr)
            .or_insert_with(Vec::new)
            .push(rest.trim().to_owned());
    }
    stage
}

#[test]
fn kubernetes_manifests_use_only_what_ferry_has_and_match_the_dockerfile() {
    let all = manifests();
    let deployment = one(&all, "Deployment");
    let service = one(&all, "Service");
    let config_map = one(&all, "ConfigMap");
    let secret = one(&all, "Secret");
    let pod = &deployment["spec"]["template"];
    let containers = pod["spec"]["containers"].as_sequence().unwrap();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];

    // The pod labels are what the Deployment and the Service select.
    let labels = pod["metadata"]["labels"].as_mapping().unwrap();
    for selector in [
        &deployment["spec"]["selector"]["matchLabels"],
        &service["spec"]["selector"],
    ] {
        for (k, v) in selector.as_mapping().unwrap() {
            assert_eq!(labels.get(k), Some(v), "selector {k:?}");
        }
    }

    // Arguments: `serve --settings <file>`, both known to the binary.
    let args: Vec<&str> = c["args"].as_sequence().unwrap().iter().map(s).collect();
    assert_eq!(args[0], "serve");
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in args.iter().filter(|a| a.starts_with("--")) {
        assert!(help.contains(flag), "`ferry serve` has no {flag}:\n{help}");
    }
    let settings_path = args[args.iter().position(|a| *a == "--settings").unwrap() + 1];
    let (settings_dir, settings_file) = settings_path.rsplit_once('/').unwrap();

    // The settings file comes from the ConfigMap through a mounted volume.
    let mounts = c["volumeMounts"].as_sequence().unwrap();
    let volumes = pod["spec"]["volumes"].as_sequence().unwrap();
    let volume_of = |mount_path: &str| -> &Value {
        let mount = mounts
            .iter()
            .find(|m| s(&m["mountPath"]) == mount_path)
            .unwrap_or_else(|| panic!("nothing mounted at {mount_path}"));
        volumes
            .iter()
            .find(|v| v["name"] == mount["name"])
            .unwrap_or_else(|| panic!("no volume {:?}", mount["name"]))
    };
    let settings_volume = volume_of(settings_dir);
    assert_eq!(
        settings_volume["configMap"]["name"],
        config_map["metadata"]["name"]
    );
    let settings_text = s(&config_map["data"][settings_file]);

    // Environment: values from the Secret's keys; every FERRY_* variable
    // is one that ferry reads.
    let secret_keys: BTreeSet<&str> = secret["stringData"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(s)
        .collect();
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for e in c["env"].as_sequence().unwrap() {
        let name = s(&e["name"]).to_owned();
        let value = if let Some(v) = e["value"].as_str() {
            v.to_owned()
        } else {
            let r = &e["valueFrom"]["secretKeyRef"];
            assert_eq!(r["name"], secret["metadata"]["name"], "{name}");
            let key = s(&r["key"]);
            assert!(secret_keys.contains(key), "{name}: Secret has no key {key}");
            s(&secret["stringData"][key]).to_owned()
        };
        env.insert(name, value);
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(settings_file);
    std::fs::write(&file, settings_text).unwrap();
    let read: RefCell<BTreeSet<String>> = RefCell::default();
    // Unknown keys in the file are errors (deny_unknown_fields).
    let settings = ferry_server::Settings::load(
        Some(&file),
        |name| {
            read.borrow_mut().insert(name.to_owned());
            env.get(name).cloned()
        },
        ferry_server::Overrides::default(),
    )
    .unwrap_or_else(|e| panic!("the ConfigMap's settings: {e}"));
    let read = read.into_inner();
    for name in env.keys().filter(|n| n.starts_with("FERRY_")) {
        assert!(read.contains(name), "ferry does not read {name}");
    }
    // Secrets through the environment reached the settings.
    assert_eq!(
        settings.database_url.as_deref(),
        env.get("FERRY_DATABASE_URL").map(String::as_str)
    );
    assert!(
        settings
            .database_url
            .as_deref()
            .unwrap()
            .starts_with("postgres://")
    );
    assert!(settings.admin_token.is_some());
    // tokenEnv names a variable the container has.
    for cred in &settings.git_credentials {
        if let Some(var) = &cred.token_env {
            assert!(env.contains_key(var), "tokenEnv {var} is not set");
        }
    }
    // The data directory is a writable volume.
    let data_dir = settings.data_dir.to_str().unwrap();
    let data_volume = volume_of(data_dir);
    assert!(
        data_volume.get("emptyDir").is_some() || data_volume.get("persistentVolumeClaim").is_some()
    );

    // Ports: the listen port is the container's `http` port, which the
    // probes and the Service use.
    let listen_port: u64 = settings.listen.rsplit_once(':').unwrap().1.parse().unwrap();
    let ports = c["ports"].as_sequence().unwrap();
    let http = ports.iter().find(|p| p["name"] == "http").unwrap();
    assert_eq!(http["containerPort"].as_u64(), Some(listen_port));
    let port_ok = |p: &Value| p == &http["name"] || p.as_u64() == Some(listen_port);
    for sp in service["spec"]["ports"].as_sequence().unwrap() {
        assert!(
            port_ok(&sp["targetPort"]),
            "Service targetPort {:?}",
            sp["targetPort"]
        );
    }

    // Probes: GET routes of the server, the ones meant for them.
    let routes: BTreeSet<(&str, &str)> = ferry_server::api::table()
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    for (probe, expected) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &c[probe]["httpGet"];
        let path = s(&get["path"]);
        assert_eq!(path, expected, "{probe}");
        assert!(
            routes.contains(&("get", path)),
            "{probe}: no route GET {path}"
        );
        assert!(port_ok(&get["port"]), "{probe} port {:?}", get["port"]);
    }

    // The image is this version of ferry.
    let image = s(&c["image"]);
    assert!(
        image.ends_with(&format!(":{}", env!("CARGO_PKG_VERSION"))),
        "image {image} is not version {}",
        env!("CARGO_PKG_VERSION")
    );

    // The Dockerfile agrees: the port, the non-root user the pod runs as,
    // the entrypoint the args are given to, the data directory, and the
    // run-time packages ferry needs.
    let docker = dockerfile_final_stage();
    let last = |k: &str| {
        docker
            .get(k)
            .and_then(|v| v.last())
            .unwrap_or_else(|| panic!("no {k}"))
            .clone()
    };
    assert_eq!(last("EXPOSE"), listen_port.to_string());
    let user = last("USER");
    let uid: u64 = user.split(':').next().unwrap().parse().unwrap();
    assert_ne!(uid, 0, "the image runs as root");
    assert_eq!(
        pod["spec"]["securityContext"]["runAsUser"].as_u64(),
        Some(uid)
    );
    assert_eq!(
        pod["spec"]["securityContext"]["runAsNonRoot"].as_bool(),
        Some(true)
    );
    let entrypoint: Vec<String> = serde_json::from_str(&last("ENTRYPOINT")).unwrap();
    assert_eq!(entrypoint, ["/usr/local/bin/ferry"]);
    assert!(
        c.get("command").is_none(),
        "the container keeps the image's entrypoint"
    );
    let copied = docker["COPY"]
        .iter()
        .any(|c| c.ends_with("/usr/local/bin/ferry"));
    assert!(
        copied,
        "the final stage copies the binary to the entrypoint"
    );
    let runs = docker["RUN"].join(" ");
    for package in ["ca-certificates", "git"] {
        assert!(
            runs.split_whitespace().any(|w| w == package),
            "image lacks {package}"
        );
    }
    let env_line = docker["ENV"].join(" ");
    assert!(
        env_line.contains(&format!("FERRY_DATA_DIR={data_dir}")),
        "{env_line}"
    );
    assert_eq!(last("WORKDIR"), data_dir);
}
