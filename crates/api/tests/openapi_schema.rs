//! The generated OpenAPI document is a valid OpenAPI 3.1 document by the
//! OpenAPI Initiative's own published schema (vendored in
//! `tests/data/openapi`, with its source), not only by ferry's reading of
//! it: client generators and Swagger UI get what the specification says.

use serde_json::Value;

const SCHEMA: &str = include_str!("data/openapi/schema-3.1-2022-10-07.json");

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(SCHEMA).expect("the vendored schema is JSON");
    jsonschema::draft202012::options()
        .build(&schema)
        .expect("the vendored schema compiles")
}

fn problems(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("at {}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn the_generated_document_is_valid_openapi_3_1() {
    let doc: Value =
        serde_json::from_str(ferry_api::openapi::json()).expect("the served document is JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    let v = validator();
    let found = problems(&v, &doc);
    assert!(found.is_empty(), "{}", found.join("\n"));

    // The schema is not vacuous: what OpenAPI forbids is found.
    let mut broken = doc.clone();
    broken["paths"]["/healthz"]["get"]["responses"]["200"]
        .as_object_mut()
        .expect("an answer")
        .remove("description");
    broken["paths"]["/healthz"]["get"]["parameters"] =
        serde_json::json!([{"name": "x", "in": "body", "schema": {}}]);
    let found = problems(&v, &broken);
    assert!(
        found.iter().any(|p| p.contains("/paths/~1healthz/get")),
        "{found:?}"
    );
}
