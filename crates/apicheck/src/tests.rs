//! Unit tests of the checker, on small hand-written descriptions.

use super::*;

const DOC: &str = r##"{
  "swagger": "2.0",
  "paths": {
    "/api/v1/things/{namespace}/{name}": {
      "get": {"operationId": "Get", "parameters": [
        {"name": "namespace", "in": "path", "required": true, "type": "string"},
        {"name": "name", "in": "path", "required": true, "type": "string"},
        {"name": "fields", "in": "query", "type": "string"},
        {"name": "follow", "in": "query", "type": "boolean"},
        {"name": "projects", "in": "query", "type": "array", "items": {"type": "string"}, "collectionFormat": "multi"}],
        "responses": {"200": {"schema": {"$ref": "#/definitions/Thing"}},
                      "default": {"schema": {"$ref": "#/definitions/Error"}}}}
    },
    "/api/v1/things/{namespace}/submit": {
      "post": {"operationId": "Submit", "parameters": [
        {"name": "namespace", "in": "path", "required": true, "type": "string"},
        {"name": "body", "in": "body", "required": true, "schema": {"$ref": "#/definitions/Submit"}}],
        "responses": {"200": {"schema": {"$ref": "#/definitions/Thing"}}}}
    }
  },
  "definitions": {
    "Thing": {"type": "object", "required": ["metadata"], "properties": {
      "metadata": {"type": "object", "properties": {"name": {"type": "string"}}},
      "count": {"$ref": "#/definitions/IntOrString"}}},
    "IntOrString": {"type": "string"},
    "Submit": {"type": "object", "properties": {"resourceName": {"type": "string"},
      "options": {"type": "object", "properties": {"labels": {"type": "string"}}}}},
    "Error": {"type": "object", "properties": {"code": {"type": "integer"}, "message": {"type": "string"}}}
  }
}"##;

fn swagger() -> Swagger {
    Swagger::parse(DOC).unwrap()
}

fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect()
}

#[test]
fn requests_are_matched_to_operations_literal_segments_first() {
    let s = swagger();
    assert_eq!(s.operation_id("GET", "/api/v1/things/ns/x"), Some("Get"));
    assert_eq!(
        s.operation_id("POST", "/api/v1/things/ns/submit"),
        Some("Submit")
    );
    assert_eq!(s.operation_id("PUT", "/api/v1/things/ns/x"), None);
    let ok = Request {
        method: "GET",
        path: "/api/v1/things/ns/a%2Db",
        query: &q(&[
            ("fields", "a,-b"),
            ("projects", "p1"),
            ("projects", "p2"),
            ("follow", "true"),
        ]),
        body: None,
    };
    assert_eq!(s.check_request(&ok), Vec::<String>::new());
}

#[test]
fn undeclared_repeated_and_mistyped_parameters_are_found() {
    let s = swagger();
    let r = |query: &[(&str, &str)]| {
        let query = q(query);
        s.check_request(&Request {
            method: "GET",
            path: "/api/v1/things/ns/x",
            query: &query,
            body: None,
        })
    };
    assert!(r(&[("field", "x")])[0].contains("query parameter `field` is not a parameter of Get"));
    assert!(r(&[("fields", "a"), ("fields", "b")])[0].contains("more than once"));
    assert!(r(&[("follow", "yes")])[0].contains("`yes` is not a boolean"));
    let none = s.check_request(&Request {
        method: "DELETE",
        path: "/api/v1/things/ns/x",
        query: &[],
        body: None,
    });
    assert!(none[0].contains("no such operation"), "{none:?}");
}

#[test]
fn request_bodies_are_closed_and_required() {
    let s = swagger();
    let body = |b: Value| {
        s.check_request(&Request {
            method: "POST",
            path: "/api/v1/things/ns/submit",
            query: &[],
            body: Some(&b),
        })
    };
    assert!(body(json!({"resourceName": "t", "options": {"labels": "a=b"}})).is_empty());
    let misspelt = body(json!({"resourceName": "t", "option": {}}));
    assert_eq!(misspelt.len(), 1, "{misspelt:?}");
    assert!(misspelt[0].contains("option"), "{misspelt:?}");
    let map = body(json!({"options": {"labels": {"a": "b"}}}));
    assert!(map[0].contains("at /options/labels"), "{map:?}");
    let missing = s.check_request(&Request {
        method: "POST",
        path: "/api/v1/things/ns/submit",
        query: &[],
        body: None,
    });
    assert!(missing[0].contains("needs a body"));
}

#[test]
fn responses_are_open_but_typed_and_definitions_can_be_corrected() {
    let s = swagger();
    assert!(
        s.check_response(
            "GET",
            "/api/v1/things/ns/x",
            200,
            &json!({"metadata": {"name": "x"}, "extra": 1})
        )
        .is_empty()
    );
    let missing = s.check_response("GET", "/api/v1/things/ns/x", 200, &json!({"count": "1"}));
    assert!(missing[0].contains("metadata"), "{missing:?}");
    assert!(
        s.check_response(
            "GET",
            "/api/v1/things/ns/x",
            404,
            &json!({"code": 5, "message": "not found"})
        )
        .is_empty()
    );
    let number = json!({"metadata": {}, "count": 3});
    assert_eq!(
        s.check_definition("Thing", &number, Mode::Response).len(),
        1
    );
    let s = s.with_definition("IntOrString", json!({"type": ["integer", "string"]}));
    assert!(
        s.check_definition("Thing", &number, Mode::Response)
            .is_empty()
    );
}

#[test]
fn corrections_need_a_reason_and_an_existing_definition() {
    let number = json!({"metadata": {}, "count": 3});
    let fixed = swagger()
        .with_corrections(r#"{"definitions": {"IntOrString": {"schema": {"type": ["integer", "string"]}, "reason": "Go writes a number"}}}"#)
        .unwrap();
    assert!(
        fixed
            .check_definition("Thing", &number, Mode::Response)
            .is_empty()
    );
    let no_reason =
        swagger().with_corrections(r#"{"definitions": {"IntOrString": {"schema": {}}}}"#);
    assert!(no_reason.err().unwrap().to_string().contains("no reason"));
    let unknown =
        swagger().with_corrections(r#"{"definitions": {"Nope": {"schema": {}, "reason": "x"}}}"#);
    assert!(
        unknown
            .err()
            .unwrap()
            .to_string()
            .contains("no such definition")
    );
}

#[test]
fn subsets_keep_what_the_operations_refer_to() {
    let sub = subset(DOC, &["POST /api/v1/things/{namespace}/submit"], &["Error"]).unwrap();
    let defs: Vec<&String> = sub["definitions"].as_object().unwrap().keys().collect();
    assert_eq!(defs, ["Error", "IntOrString", "Submit", "Thing"]);
    assert!(sub["paths"]["/api/v1/things/{namespace}/{name}"].is_null());
    assert!(subset(DOC, &["GET /nope"], &[]).is_err());
}

const DOC3: &str = r##"{
  "openapi": "3.1.0",
  "info": {"title": "t", "version": "1"},
  "paths": {
    "/api/v1/things/{name}": {
      "get": {"operationId": "get_thing", "parameters": [
        {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}},
        {"name": "limit", "in": "query", "schema": {"type": ["integer", "null"], "minimum": 0}},
        {"name": "tag", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}}],
        "responses": {
          "200": {"description": "", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
          "304": {"description": "not modified"},
          "404": {"$ref": "#/components/responses/NotFound"}}},
      "put": {"operationId": "put_thing", "parameters": [
        {"$ref": "#/components/parameters/Name"}],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
        "responses": {"204": {"description": "done"}}}
    }
  },
  "components": {
    "parameters": {"Name": {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}},
    "responses": {"NotFound": {"description": "", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
    "schemas": {
      "Thing": {"type": "object", "required": ["name", "at"], "properties": {
        "name": {"type": "string"},
        "at": {"type": "string", "format": "date-time"},
        "owner": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Owner"}]}}},
      "Owner": {"type": "object", "properties": {"login": {"type": "string"}}},
      "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
    }
  }
}"##;

#[test]
fn openapi3_operations_parameters_and_bodies() {
    let s = Swagger::parse(DOC3).unwrap();
    assert_eq!(
        s.operations().collect::<Vec<_>>(),
        [
            ("GET", "/api/v1/things/{name}"),
            ("PUT", "/api/v1/things/{name}")
        ]
    );
    let query = q(&[("limit", "5"), ("tag", "a"), ("tag", "b")]);
    let ok = Request {
        method: "GET",
        path: "/api/v1/things/x",
        query: &query,
        body: None,
    };
    assert_eq!(s.check_request(&ok), Vec::<String>::new());
    let query = q(&[("limit", "many")]);
    let bad = s.check_request(&Request {
        method: "GET",
        path: "/api/v1/things/x",
        query: &query,
        body: None,
    });
    assert!(bad[0].contains("`many` is not a integer"), "{bad:?}");
    let misspelt = json!({"name": "x", "at": "2024-01-01T00:00:00Z", "ownr": null});
    let put = s.check_request(&Request {
        method: "PUT",
        path: "/api/v1/things/x",
        query: &[],
        body: Some(&misspelt),
    });
    assert!(put.len() == 1 && put[0].contains("ownr"), "{put:?}");
}

#[test]
fn openapi3_responses_by_status_formats_and_strictness() {
    let s = Swagger::parse(DOC3).unwrap();
    let thing =
        json!({"name": "x", "at": "2024-01-01T00:00:00Z", "owner": {"login": "a"}, "extra": 1});
    assert!(
        s.check_response("GET", "/api/v1/things/x", 200, &thing)
            .is_empty()
    );
    let bad_time = json!({"name": "x", "at": "yesterday"});
    assert_eq!(
        s.check_response("GET", "/api/v1/things/x", 200, &bad_time)
            .len(),
        1
    );
    assert!(
        s.check_response("GET", "/api/v1/things/x", 404, &json!({"error": "no"}))
            .is_empty()
    );
    assert!(s.documents_status("GET", "/api/v1/things/x", 304));
    assert!(!s.documents_status("GET", "/api/v1/things/x", 500));
    let no_body = s.check_response("GET", "/api/v1/things/x", 304, &json!({}));
    assert!(no_body[0].contains("no JSON body"), "{no_body:?}");
    // Strict: what the document does not name is an error, nested too.
    let strict = Swagger::parse(DOC3).unwrap().strict();
    let errors = strict.check_response("GET", "/api/v1/things/x", 200, &thing);
    assert!(
        errors.len() == 1 && errors[0].contains("extra"),
        "{errors:?}"
    );
    let nested =
        json!({"name": "x", "at": "2024-01-01T00:00:00Z", "owner": {"login": "a", "id": 1}});
    let errors = strict.check_response("GET", "/api/v1/things/x", 200, &nested);
    assert!(errors.len() == 1 && errors[0].contains("id"), "{errors:?}");
    assert!(
        strict
            .check_response(
                "GET",
                "/api/v1/things/x",
                200,
                &json!({"name": "x", "at": "2024-01-01T00:00:00Z", "owner": null})
            )
            .is_empty()
    );
}

/// A flattened field's `allOf` is closed as one object: each part
/// admits the others' properties, and nothing else.
#[test]
fn strict_all_of_is_closed_as_a_whole() {
    let doc = DOC3.replace(
        r#""Error": {"#,
        r##""Created": {"allOf": [{"$ref": "#/components/schemas/Thing"},
            {"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}}]},
          "Error": {"##,
    );
    let doc = doc.replace(
        r##""304": {"description": "not modified"},"##,
        r##""201": {"description": "", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Created"}}}},
          "304": {"description": "not modified"},"##,
    );
    let strict = Swagger::parse(&doc).unwrap().strict();
    let created = json!({"name": "x", "at": "2024-01-01T00:00:00Z", "token": "t"});
    assert_eq!(
        strict.check_response("GET", "/api/v1/things/x", 201, &created),
        Vec::<String>::new()
    );
    let extra = json!({"name": "x", "at": "2024-01-01T00:00:00Z", "token": "t", "secret": 1});
    let errors = strict.check_response("GET", "/api/v1/things/x", 201, &extra);
    assert!(
        errors.len() == 1 && errors[0].contains("secret"),
        "{errors:?}"
    );
    let missing = json!({"name": "x", "at": "2024-01-01T00:00:00Z"});
    assert_eq!(
        strict
            .check_response("GET", "/api/v1/things/x", 201, &missing)
            .len(),
        1
    );
}

#[test]
fn openapi30_nullable() {
    let doc = DOC3
        .replace("\"3.1.0\"", "\"3.0.3\"")
        .replace(
            r##"{"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Owner"}]}"##,
            r#"{"type": "object", "nullable": true, "properties": {"login": {"type": "string"}}}"#,
        )
        .replace(
            r#"{"type": ["integer", "null"], "minimum": 0}"#,
            r#"{"type": "integer"}"#,
        );
    let s = Swagger::parse(&doc).unwrap();
    let thing = json!({"name": "x", "at": "2024-01-01T00:00:00Z", "owner": null});
    assert_eq!(
        s.check_response("GET", "/api/v1/things/x", 200, &thing),
        Vec::<String>::new()
    );
    let wrong = json!({"name": "x", "at": "2024-01-01T00:00:00Z", "owner": 3});
    assert_eq!(
        s.check_response("GET", "/api/v1/things/x", 200, &wrong)
            .len(),
        1
    );
    assert!(Swagger::parse(r#"{"openapi": "2.9"}"#).is_err());
}

#[test]
fn queries_are_decoded() {
    assert_eq!(
        parse_query("a=1&b=x%20y+z&c"),
        q(&[("a", "1"), ("b", "x y z"), ("c", "")])
    );
}
