//! Byte-for-byte promotion tests on files shaped like a real product's
//! GitOps repository (Helm values with dashed keys, Chart.yaml,
//! version.yaml). Expected outputs are written out by hand.

use ferry_yamledit::{Error, PathValue, Scalar, ScalarKind, Value, apply, snapshot};

const VALUES_DEV: &str = r#"# Default values for the trio chart.
# This is a YAML-formatted file.

buslog:
  replicaCount: 1
  image:
    repository: ghcr.io/example/buslog # built by CI
    tag: main-8f3e2a1
    pullPolicy: IfNotPresent

ctrlr:
  image:
    repository: ghcr.io/example/ctrlr
    tag: "main-8f3e2a1"   # quoted on purpose
  resources: {}

flask-ui:
  service:
    type: ClusterIP
    port: 80
  image:
    repository: ghcr.io/example/flask-ui
    tag: 'main-8f3e2a1'
"#;

const VALUES_QA: &str = r#"# Default values for the trio chart.
# This is a YAML-formatted file.

buslog:
  replicaCount: 3   # qa runs more
  image:
    repository: ghcr.io/example/buslog # built by CI
    tag: main-1111111
    pullPolicy: IfNotPresent

ctrlr:
  image:
    repository: ghcr.io/example/ctrlr
    tag: "main-1111111"   # quoted on purpose
  resources: {}

flask-ui:
  service:
    type: ClusterIP
    port: 8080
  image:
    repository: ghcr.io/example/flask-ui
    tag: 'main-1111111'
"#;

const VALUES_QA_PROMOTED: &str = r#"# Default values for the trio chart.
# This is a YAML-formatted file.

buslog:
  replicaCount: 3   # qa runs more
  image:
    repository: ghcr.io/example/buslog # built by CI
    tag: main-8f3e2a1
    pullPolicy: IfNotPresent

ctrlr:
  image:
    repository: ghcr.io/example/ctrlr
    tag: "main-8f3e2a1"   # quoted on purpose
  resources: {}

flask-ui:
  service:
    type: ClusterIP
    port: 8080
  image:
    repository: ghcr.io/example/flask-ui
    tag: 'main-8f3e2a1'
"#;

#[test]
fn values_yaml_descendant_image_promotion() {
    let snap = snapshot(VALUES_DEV, &["$..image"]).unwrap();
    let paths: Vec<String> = snap.iter().map(|p| p.path.to_string()).collect();
    assert_eq!(
        paths,
        [
            "$['buslog']['image']",
            "$['ctrlr']['image']",
            "$['flask-ui']['image']"
        ]
    );
    let edited = apply(VALUES_QA, &snap).unwrap();
    assert!(edited.changed);
    assert_eq!(edited.text, VALUES_QA_PROMOTED);
    // Applying again changes nothing.
    let again = apply(&edited.text, &snap).unwrap();
    assert!(!again.changed);
    assert_eq!(again.text, VALUES_QA_PROMOTED);
}

#[test]
fn values_yaml_bracket_paths_and_wildcards() {
    let snap = snapshot(
        VALUES_DEV,
        &[
            "$.buslog.image.tag",
            "$.ctrlr.image.tag",
            "$[\"flask-ui\"].image.tag",
        ],
    )
    .unwrap();
    assert_eq!(snap.len(), 3);
    assert_eq!(snap[2].path.to_string(), "$['flask-ui']['image']['tag']");
    assert_eq!(snap[2].value, Value::Scalar(Scalar::string("main-8f3e2a1")));
    let edited = apply(VALUES_QA, &snap).unwrap();
    assert_eq!(edited.text, VALUES_QA_PROMOTED);

    // `$.x.*` selects every child of x.
    let children = snapshot(VALUES_DEV, &["$.buslog.image.*"]).unwrap();
    let names: Vec<String> = children.iter().map(|p| p.path.to_string()).collect();
    assert_eq!(
        names,
        [
            "$['buslog']['image']['repository']",
            "$['buslog']['image']['tag']",
            "$['buslog']['image']['pullPolicy']"
        ]
    );

    // `$.*.image.tag` selects the same three locations.
    let wild = snapshot(VALUES_DEV, &["$.*.image.tag"]).unwrap();
    assert_eq!(wild, snap);
}

#[test]
fn values_yaml_filter_selects_by_value() {
    // Per RFC 9535 a filter tests the *children* of `image` (scalars, which
    // have no `repository`), so this selects nothing ...
    let none = snapshot(
        VALUES_DEV,
        &["$..image[?@.repository == 'ghcr.io/example/ctrlr']"],
    )
    .unwrap();
    assert_eq!(none, vec![]);
    // ... while filtering the top-level members selects the ctrlr tag.
    let by_parent = snapshot(
        VALUES_DEV,
        &["$[?@.image.repository == 'ghcr.io/example/ctrlr'].image.tag"],
    )
    .unwrap();
    assert_eq!(by_parent.len(), 1);
    assert_eq!(by_parent[0].path.to_string(), "$['ctrlr']['image']['tag']");
}

const CHART_DEV: &str = "apiVersion: v2
name: trio
description: A Helm chart for the trio product
type: application
version: 0.1.0
appVersion: \"1.20\"
dependencies:
  - name: redis
    version: 17.11.3
    repository: https://charts.bitnami.com/bitnami
  - name: postgresql
    version: 12.5.6   # pinned
    repository: https://charts.bitnami.com/bitnami
";

const CHART_QA: &str = "apiVersion: v2
name: trio
description: A Helm chart for the trio product
type: application
version: 0.1.0
appVersion: 1.19.4
dependencies:
  - name: redis
    version: 17.10.0
    repository: https://charts.bitnami.com/bitnami
  - name: postgresql
    version: 12.1.0   # pinned
    repository: https://charts.bitnami.com/bitnami
";

#[test]
fn chart_yaml_legacy_app_version_and_dependencies() {
    // An index selects one dependency; only its version line changes.
    let one = snapshot(CHART_DEV, &["$.dependencies[1].version"]).unwrap();
    assert_eq!(one[0].path.to_string(), "$['dependencies'][1]['version']");
    let edited = apply(CHART_QA, &one).unwrap();
    assert_eq!(
        edited.text,
        CHART_QA.replace("12.1.0   # pinned", "12.5.6   # pinned")
    );

    let snap = snapshot(CHART_DEV, &["$appVersion", "$.dependencies"]).unwrap();
    assert_eq!(snap[0].path.to_string(), "$['appVersion']");
    assert_eq!(snap[0].value, Value::Scalar(Scalar::string("1.20")));
    let edited = apply(CHART_QA, &snap).unwrap();
    // 1.20 must stay a string, so the plain target gets quoted.
    let expected = "apiVersion: v2
name: trio
description: A Helm chart for the trio product
type: application
version: 0.1.0
appVersion: \"1.20\"
dependencies:
  - name: redis
    version: 17.11.3
    repository: https://charts.bitnami.com/bitnami
  - name: postgresql
    version: 12.5.6   # pinned
    repository: https://charts.bitnami.com/bitnami
";
    assert_eq!(edited.text, expected);
}

#[test]
fn version_yaml_keeps_number_text() {
    let snap = snapshot("version: 54.10\n", &["$.version"]).unwrap();
    assert_eq!(
        snap[0].value,
        Value::Scalar(Scalar::typed(ScalarKind::Float, "54.10"))
    );
    assert_eq!(snap[0].value.to_json(), serde_json::json!(54.1));
    let edited = apply("# release train\nversion: 54.1 # bumped by CI\n", &snap).unwrap();
    assert_eq!(
        edited.text,
        "# release train\nversion: 54.10 # bumped by CI\n"
    );

    let found = ferry_yamledit::query("version: 54.10 # v\n", "$version").unwrap();
    assert_eq!(found[0].value.scalar_text(), Some("54.10"));
    let snap = snapshot("version: 54.1\n", &["$.version"]).unwrap();
    let same = apply("version: 54.1\n", &snap).unwrap();
    assert!(!same.changed);
    // A quoted target that held a string gets the number, unquoted,
    // because the type must follow the source.
    let edited = apply("version: \"53.9\"\n", &snap).unwrap();
    assert_eq!(edited.text, "version: 54.1\n");
}

#[test]
fn crlf_file_keeps_line_endings_and_inserts_with_crlf() {
    let target =
        "# values\r\nimage:\r\n  repository: nginx\r\n  tag: 1.25.0 # old\r\nreplicas: 2\r\n";
    let src = "image:\n  repository: nginx\n  tag: 1.25.3\n  digest: sha256-abc\n";
    let snap = snapshot(src, &["$.image"]).unwrap();
    let edited = apply(target, &snap).unwrap();
    assert_eq!(
        edited.text,
        "# values\r\nimage:\r\n  repository: nginx\r\n  tag: 1.25.3 # old\r\n  digest: sha256-abc\r\nreplicas: 2\r\n"
    );
}

#[test]
fn bom_and_document_markers_are_kept() {
    let target = "\u{feff}%YAML 1.2\n---\nimage:\n  tag: ü-1 # ünïcode\n...\n---\nsecond: doc\n";
    let snap = vec![PathValue {
        path: "$['image']['tag']".parse().unwrap(),
        value: Value::Scalar(Scalar::string("ü-2")),
    }];
    let edited = apply(target, &snap).unwrap();
    assert_eq!(
        edited.text,
        "\u{feff}%YAML 1.2\n---\nimage:\n  tag: ü-2 # ünïcode\n...\n---\nsecond: doc\n"
    );
}

#[test]
fn anchors_are_kept_and_aliases_are_not_edited_through() {
    let target = "defaults: &img\n  repository: nginx\n  tag: \"1.0\"\nweb:\n  image: *img\napi:\n  image: &api\n    tag: v1\n";
    // Editing the anchored node itself keeps the anchor.
    let snap = vec![PathValue {
        path: "$['defaults']['tag']".parse().unwrap(),
        value: Value::Scalar(Scalar::string("1.1")),
    }];
    let edited = apply(target, &snap).unwrap();
    assert_eq!(
        edited.text,
        "defaults: &img\n  repository: nginx\n  tag: \"1.1\"\nweb:\n  image: *img\napi:\n  image: &api\n    tag: v1\n"
    );
    // Going through the alias would change `defaults` as well: refused.
    let snap = vec![PathValue {
        path: "$['web']['image']['tag']".parse().unwrap(),
        value: Value::Scalar(Scalar::string("2.0")),
    }];
    let err = apply(target, &snap).unwrap_err();
    assert!(matches!(err, Error::ThroughAlias { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "path $['web']['image']['tag'] goes through an alias at 5:10; edit the anchored node instead"
    );
    // Reading through the alias works.
    let q = ferry_yamledit::query(target, "$.web.image.tag").unwrap();
    assert_eq!(q[0].value, Value::Scalar(Scalar::string("1.0")));
    assert_eq!((q[0].at.line, q[0].at.col), (3, 8));
    assert_eq!(&target[q[0].span.clone()], "\"1.0\"");
    // An equal value through the alias is fine (nothing to do).
    let snap = vec![PathValue {
        path: "$['web']['image']['tag']".parse().unwrap(),
        value: Value::Scalar(Scalar::string("1.0")),
    }];
    assert!(!apply(target, &snap).unwrap().changed);
}

#[test]
fn flow_mappings_and_sequences() {
    let target = "image: {repository: nginx, tag: \"1.0\"}  # flow\nports: [80, 443]\n";
    let src = "image: {repository: nginx, tag: \"1.1\", pullPolicy: Always}\nports: [8080, 8443]\n";
    let snap = snapshot(src, &["$.image", "$.ports"]).unwrap();
    let edited = apply(target, &snap).unwrap();
    assert_eq!(
        edited.text,
        "image: {repository: nginx, tag: \"1.1\", pullPolicy: Always}  # flow\nports: [8080, 8443]\n"
    );
}

#[test]
fn quoting_follows_target_style_and_type() {
    let cases: &[(&str, &str, &str)] = &[
        // (target, new string value, expected)
        ("tag: old\n", "1.20", "tag: \"1.20\"\n"),
        ("tag: old\n", "true", "tag: \"true\"\n"),
        ("tag: old\n", "0123", "tag: \"0123\"\n"),
        ("tag: old\n", "yes", "tag: \"yes\"\n"),
        ("tag: old\n", "new: thing", "tag: \"new: thing\"\n"),
        ("tag: old\n", "v1.2.3", "tag: v1.2.3\n"),
        ("tag: 'old'\n", "it's", "tag: 'it''s'\n"),
        ("tag: \"old\"\n", "a\"b", "tag: \"a\\\"b\"\n"),
        ("tag: 'old'\n", "two\nlines", "tag: \"two\\nlines\"\n"),
        ("tag: !!str 1\n", "2.0", "tag: !!str \"2.0\"\n"),
        ("tag: &t old # c\n", "new", "tag: &t new # c\n"),
        ("list: [a, b]\n", "x,y", "list: [a, b]\n"),
    ];
    for (target, new, expected) in cases {
        let path = if target.starts_with("list") {
            "$['list'][1]"
        } else {
            "$['tag']"
        };
        let snap = vec![PathValue {
            path: path.parse().unwrap(),
            value: Value::Scalar(Scalar::string(*new)),
        }];
        let edited = apply(target, &snap).unwrap();
        if target.starts_with("list") {
            assert_eq!(edited.text, "list: [a, \"x,y\"]\n");
        } else {
            assert_eq!(&edited.text, expected, "target {target:?} new {new:?}");
        }
    }
}

#[test]
fn block_scalars_are_rewritten_as_block_scalars() {
    let target = "script: | # keep me\n  echo one\n  echo two\n\nnext: 1\n";
    let snap = vec![PathValue {
        path: "$['script']".parse().unwrap(),
        value: Value::Scalar(Scalar::string("echo three\n")),
    }];
    let edited = apply(target, &snap).unwrap();
    assert_eq!(
        edited.text,
        "script: | # keep me\n  echo three\n\nnext: 1\n"
    );

    let snap = vec![PathValue {
        path: "$['script']".parse().unwrap(),
        value: Value::Scalar(Scalar::string("no newline")),
    }];
    let edited = apply(target, &snap).unwrap();
    assert_eq!(
        edited.text,
        "script: |- # keep me\n  no newline\n\nnext: 1\n"
    );

    let folded = "msg: >-\n  hello\nx: 1\n";
    let snap = vec![PathValue {
        path: "$['msg']".parse().unwrap(),
        value: Value::Scalar(Scalar::string("bye")),
    }];
    assert_eq!(apply(folded, &snap).unwrap().text, "msg: >-\n  bye\nx: 1\n");
}

#[test]
fn missing_keys_are_inserted_with_sibling_indentation() {
    let target =
        "app:\n    image:\n        repository: nginx   # repo\n    replicas: 1\nother: true\n";
    let src = "app:\n  image:\n    repository: nginx\n    tag: \"1.2\"\n  resources:\n    limits:\n      cpu: 100m\n";
    let snap = snapshot(src, &["$.app.image", "$.app.resources"]).unwrap();
    let edited = apply(target, &snap).unwrap();
    assert_eq!(
        edited.text,
        "app:\n    image:\n        repository: nginx   # repo\n        tag: \"1.2\"\n    replicas: 1\n    resources:\n      limits:\n        cpu: 100m\nother: true\n"
    );
    // A missing intermediate mapping is created too.
    let snap = vec![PathValue {
        path: "$['app']['image']['pull']['policy']".parse().unwrap(),
        value: Value::Scalar(Scalar::string("Always")),
    }];
    let edited = apply(target, &snap).unwrap();
    assert_eq!(
        edited.text,
        "app:\n    image:\n        repository: nginx   # repo\n        pull:\n          policy: Always\n    replicas: 1\nother: true\n"
    );
}

#[test]
fn keys_only_in_target_are_kept() {
    let target = "image:\n  repository: nginx\n  tag: a\n  pullPolicy: Always\n";
    let snap = snapshot("image:\n  tag: b\n", &["$.image"]).unwrap();
    assert_eq!(
        apply(target, &snap).unwrap().text,
        "image:\n  repository: nginx\n  tag: b\n  pullPolicy: Always\n"
    );
}

#[test]
fn block_sequences_grow_and_shrink() {
    let target =
        "deps:\n  - name: a # first\n    version: 1\n  - name: b\n    version: 2\nend: 1\n";
    let grow = snapshot(
        "deps:\n- name: a\n  version: 1\n- name: b\n  version: 3\n- name: c\n  version: 4\n",
        &["$.deps"],
    )
    .unwrap();
    assert_eq!(
        apply(target, &grow).unwrap().text,
        "deps:\n  - name: a # first\n    version: 1\n  - name: b\n    version: 3\n  - name: c\n    version: 4\nend: 1\n"
    );
    let shrink = snapshot("deps:\n- name: a\n  version: 1\n", &["$.deps"]).unwrap();
    assert_eq!(
        apply(target, &shrink).unwrap().text,
        "deps:\n  - name: a # first\n    version: 1\nend: 1\n"
    );
}

#[test]
fn error_cases_name_the_place() {
    let err = snapshot("a: 1\n", &["$.a["]).unwrap_err();
    assert!(
        matches!(err, Error::JsonPath { ref expression, position: 3, .. } if expression == "$.a["),
        "{err}"
    );
    // Positions in the legacy form refer to the expression as written.
    let err = snapshot("a: 1\n", &["$a..["]).unwrap_err();
    assert!(
        matches!(err, Error::JsonPath { ref expression, .. } if expression == "$a..["),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("invalid JSONPath \"$a..[\" at position "),
        "{err}"
    );

    let err = snapshot("a: [1\nb: 2\n", &["$.a"]).unwrap_err();
    let Error::Syntax { at, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!((at.line, at.col), (2, 2), "{err}");
    assert_eq!(
        err.to_string(),
        "invalid YAML at 2:2: illegal placement of ':' indicator"
    );

    let err = snapshot("a: 1\na: 2\n", &["$.a"]).unwrap_err();
    assert_eq!(err.to_string(), "duplicate key \"a\" at 2:1");

    let snap = vec![PathValue {
        path: "$['list'][5]".parse().unwrap(),
        value: Value::Scalar(Scalar::string("x")),
    }];
    let err = apply("list: [a]\n", &snap).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot create $['list'][5] in the target: index $[5] is out of range"
    );

    let snap = vec![PathValue {
        path: "$['a']['b']".parse().unwrap(),
        value: Value::Scalar(Scalar::string("x")),
    }];
    let err = apply("a: scalar\n", &snap).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot create $['a']['b'] in the target: $['a'] at 1:4 is not a mapping"
    );

    let err = apply("", &snap).unwrap_err();
    assert!(matches!(err, Error::PathNotCreatable { .. }));

    let err = "$.a".parse::<ferry_yamledit::NormalizedPath>().unwrap_err();
    assert!(
        matches!(err, Error::NormalizedPath { position: 1, .. }),
        "{err}"
    );
}

#[test]
fn snapshots_round_trip_through_json_storage() {
    // Releases store their snapshot; it must come back unchanged,
    // including number text such as 54.10.
    let snap = snapshot(
        "version: 54.10\nimage: {tag: \"1.20\", n: ~}\nlist: [1, true]\n",
        &["$.version", "$.image", "$.list"],
    )
    .unwrap();
    let json = serde_json::to_string(&snap).unwrap();
    assert!(
        json.starts_with(
            r#"[{"path":"$['version']","value":{"scalar":{"text":"54.10","kind":"float""#
        ),
        "{json}"
    );
    let back: Vec<PathValue> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, snap);
    let edited = apply(
        "version: 1.0\nimage: {tag: x, n: 1}\nlist: [2, false]\n",
        &back,
    )
    .unwrap();
    assert_eq!(
        edited.text,
        "version: 54.10\nimage: {tag: \"1.20\", n: ~}\nlist: [1, true]\n"
    );
}

#[test]
fn hostile_documents_are_refused_with_typed_errors() {
    // An alias to its own ancestor would expand forever.
    let err = snapshot("a: &a\n  b: *a\n", &["$..*"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid YAML at 2:6: alias to an unknown anchor"
    );

    // "Billion laughs": nine levels of ten aliases each.
    let mut doc = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let p = i - 1;
        doc.push_str(&format!(
            "l{i}: &l{i} [*l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}]\n"
        ));
    }
    let err = snapshot(&doc, &["$.l8"]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::AliasExpansion {
                limit: 1_000_000,
                ..
            }
        ),
        "{err}"
    );

    // Nesting deeper than our limit (the parser itself stops at 256).
    let deep = format!("{}{}", "[".repeat(220), "]".repeat(220));
    let err = snapshot(&deep, &["$"]).unwrap_err();
    assert!(matches!(err, Error::TooDeep { limit: 200, .. }), "{err}");
    let deeper = format!("{}{}", "[".repeat(300), "]".repeat(300));
    let err = snapshot(&deeper, &["$"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid YAML at 1:256: recursion limit exceeded"
    );
}

#[test]
fn a_type_change_drops_the_tag_but_keeps_the_anchor() {
    let snap = vec![PathValue {
        path: "$['port']".parse().unwrap(),
        value: Value::Scalar(Scalar::string("http")),
    }];
    let edited = apply("port: &p !!int 80 # svc\nother: *p\n", &snap).unwrap();
    assert_eq!(edited.text, "port: &p http # svc\nother: *p\n");
    let snap = vec![PathValue {
        path: "$['a'][0]".parse().unwrap(),
        value: Value::Scalar(Scalar::typed(ScalarKind::Int, "2")),
    }];
    assert_eq!(apply("a: [!{}]\n", &snap).unwrap().text, "a: [2]\n");
}
