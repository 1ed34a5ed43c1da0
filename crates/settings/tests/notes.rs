//! Release-notes settings (`registries`, `insecureRegistries`,
//! `registryTimeout`, `notesFirstReleaseLimit`, `notesRefreshInterval`)
//! through the whole load: file, then `FERRY_*` variables.

use std::collections::HashMap;
use std::time::Duration;

use ferry_settings::{Overrides, ReleaseNotesSettings, Settings, SettingsError};

fn load(toml: &str, vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferry.toml");
    std::fs::write(&path, toml).unwrap();
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::load(Some(&path), |n| vars.get(n).cloned(), Overrides::default())
}

#[test]
fn defaults() {
    let s = load("", &[]).unwrap().release_notes;
    assert_eq!(s, ReleaseNotesSettings::default());
    assert_eq!(s.registry_timeout, Duration::from_secs(10));
    assert_eq!(s.first_release_limit, 50);
    assert_eq!(s.refresh_interval, Some(Duration::from_secs(600)));
    let b = s.builder();
    assert_eq!(b.first_release_limit, 50);
    assert!(!b.allow_local_sources);
}

#[test]
fn registries_limits_and_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "file-secret-3\n").unwrap();
    let toml = format!(
        "insecureRegistries = [\"registry.lan:5000\"]\nregistryTimeout = 4\nnotesFirstReleaseLimit = 20\nnotesRefreshInterval = 0\n\
         [[registries]]\nhost = \"ghcr.io\"\nusername = \"bot\"\npassword = \"plain-secret-1\"\n\
         [[registries]]\nhost = \"registry.lan:5000\"\nusername = \"ci\"\npasswordEnv = \"LAN_TOKEN\"\n\
         [[registries]]\nhost = \"quay.io\"\nusername = \"robot\"\npasswordFile = \"{}\"\n",
        file.display()
    );
    let s = load(&toml, &[("LAN_TOKEN", "env-secret-2")]).unwrap();
    let n = &s.release_notes;
    assert_eq!(n.registry_timeout, Duration::from_secs(4));
    assert_eq!(n.first_release_limit, 20);
    assert_eq!(n.refresh_interval, None);
    let oci = n.oci();
    assert_eq!(oci.insecure, ["registry.lan:5000"]);
    assert_eq!(oci.timeout, Some(Duration::from_secs(4)));
    assert_eq!(
        oci.credentials["ghcr.io"],
        ("bot".into(), "plain-secret-1".into())
    );
    assert_eq!(
        oci.credentials["registry.lan:5000"],
        ("ci".into(), "env-secret-2".into())
    );
    assert_eq!(
        oci.credentials["quay.io"],
        ("robot".into(), "file-secret-3".into())
    );
    // Never printed: neither the settings nor the registry client's.
    let shown = format!("{s:?} {oci:?}");
    for secret in ["plain-secret-1", "env-secret-2", "file-secret-3"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(shown.contains("ghcr.io"), "{shown}");

    // Variables win over the file.
    let s = load(
        &toml,
        &[
            ("LAN_TOKEN", "x"),
            ("FERRY_INSECURE_REGISTRIES", "a:1, b"),
            ("FERRY_REGISTRY_TIMEOUT", "7s"),
            ("FERRY_NOTES_FIRST_RELEASE_LIMIT", "5"),
            ("FERRY_NOTES_REFRESH_INTERVAL", "30"),
        ],
    )
    .unwrap()
    .release_notes;
    assert_eq!(s.insecure_registries, ["a:1", "b"]);
    assert_eq!(s.registry_timeout, Duration::from_secs(7));
    assert_eq!(s.first_release_limit, 5);
    assert_eq!(s.refresh_interval, Some(Duration::from_secs(30)));
}

#[test]
fn bad_entries_are_named_without_their_secrets() {
    let err = |toml: &str, vars: &[(&str, &str)]| load(toml, vars).unwrap_err().to_string();
    let e = err(
        "[[registries]]\nhost = \"ghcr.io\"\nusername = \"bot\"\npasswordEnv = \"UNSET\"\n",
        &[],
    );
    assert_eq!(e, "registries[0] (ghcr.io): passwordEnv: UNSET is not set");
    let e = err(
        "[[registries]]\nhost = \"ghcr.io\"\nusername = \"bot\"\npassword = \"s3cret-x\"\npasswordEnv = \"V\"\n",
        &[],
    );
    assert!(e.contains("exactly one of password"), "{e}");
    assert!(!e.contains("s3cret-x"), "{e}");
    let e = err(
        "[[registries]]\nhost = \"https://ghcr.io/acme\"\nusername = \"bot\"\npassword = \"p\"\n",
        &[],
    );
    assert!(
        e.starts_with("registries[0] (https://ghcr.io/acme): host:"),
        "{e}"
    );
    let e = err(
        "[[registries]]\nhost = \"h\"\nusername = \"u\"\npassword = \"p\"\ntoken = \"t\"\n",
        &[],
    );
    assert!(e.contains("unknown field `token`"), "{e}");
    let e = err("", &[("FERRY_REGISTRY_TIMEOUT", "soon")]);
    assert!(e.contains("FERRY_REGISTRY_TIMEOUT"), "{e}");
    let e = err("registryTimeout = 0\n", &[]);
    assert_eq!(e, "registryTimeout: must be at least 1 second");
}
