//! What the web UI tests share: the product they promote, and reading a
//! release until it reaches a state.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{Fixture, TestServer};

/// Product `p` with flows `standard` (dev → qa → prod, qa's pre-action
/// waits until the gate file exists) and `broken` (qa's pre-action fails
/// with a log line). Returns the gate file's path.
pub fn ui_config(f: &Fixture) -> PathBuf {
    let gate = f.root.path().join("gate");
    let product = format!(
        r#"apiVersion: codefresh.io/v1beta1
kind: Product
metadata:
  name: p
spec:
  promotionTemplate:
    versionSource:
      file: version.yaml
      jsonPath: $.version
    promotion:
      values.yaml:
        jsonPaths: ["$..image"]
      version.yaml:
        jsonPaths: ["$.version"]
  promotionFlows:
    - name: standard
    - name: broken
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata:
  name: standard
spec:
  triggerEnvironment: dev
  steps:
    - environment: qa
      dependsOn: [dev]
      policy: {{preAction: gate}}
    - environment: prod
      dependsOn: [qa]
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata:
  name: broken
spec:
  triggerEnvironment: dev
  steps:
    - environment: qa
      dependsOn: [dev]
      policy: {{preAction: smoke}}
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {{name: gate, annotations: {{codefresh.io/workflow-origin: promotion}}}}
spec:
  entrypoint: main
  templates:
    - name: main
      script: {{image: alpine, command: [sh], source: "while [ ! -f {gate} ]; do sleep 0.1; done"}}
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {{name: smoke, annotations: {{codefresh.io/workflow-origin: promotion}}}}
spec:
  entrypoint: main
  templates:
    - name: main
      script: {{image: alpine, command: [sh], source: "echo 'smoke test failed: 503 from /health' >&2; exit 1"}}
"#,
        gate = gate.display()
    );
    std::fs::write(f.config.join("product.yaml"), product).unwrap();
    gate
}

pub async fn promote(s: &TestServer, flow: &str) -> Value {
    let (status, r) = s
        .post("/api/v1/products/p/promotions", &json!({ "flow": flow }))
        .await;
    assert_eq!(status, 201, "{r}");
    r
}

pub async fn wait_release(
    s: &TestServer,
    id: &str,
    what: &str,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (_, r) = s.get(&format!("/api/v1/releases/{id}")).await;
        if ok(&r) {
            return r;
        }
        assert!(Instant::now() < deadline, "{what}: {r:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn env_status(r: &Value, env: &str) -> String {
    r["environments"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["name"] == env))
        .and_then(|e| e["status"].as_str())
        .unwrap_or_default()
        .to_owned()
}

pub fn checked(path: &str, html: &str) -> Vec<crate::htmlcheck::Element> {
    let els = crate::htmlcheck::check(html).unwrap_or_else(|e| panic!("{path}: {e}\n{html}"));
    crate::htmlcheck::check_accessible(html, &els)
        .unwrap_or_else(|e| panic!("{path}: {e}\n{html}"));
    els
}
