//! Checks HTTP requests and JSON documents against a published Swagger 2.0
//! (OpenAPI v2) description, such as Argo CD's `assets/swagger.json` or
//! Argo Workflows' `api/openapi-spec/swagger.json`.
//!
//! ferry's clients of those APIs are otherwise tested only against fakes
//! written beside them, which agree with them by construction. With this
//! crate a test checks what a client sends (method, path, query parameters,
//! body) and what a fake answers against the vendor's own description:
//!
//! - a request must match a documented operation; its query parameters must
//!   be declared, well typed and not repeated unless the parameter is a
//!   `multi` array; its body must match the body schema **with every object
//!   closed** (a property the schema does not declare is an error, because
//!   the server would drop it silently — a misspelt option is a no-op);
//! - a response body must match the schema of its status (or `default`),
//!   as published: objects stay open, as the vendor adds fields.
//!
//! Schemas are JSON Schema draft 4 (which Swagger 2.0 schemas are), with
//! every `$ref` resolved inside the document (`#/definitions/...`).
//! Published descriptions are generated and sometimes describe a type
//! differently from the JSON the server writes (Kubernetes' `IntOrString`
//! is a JSON number or string, but appears as `string` or as a protobuf
//! object); [`Swagger::with_definition`] replaces such a definition, and
//! the caller says why beside the call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

/// A problem with the description itself.
#[derive(Debug)]
pub struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// How objects are read: requests are closed (only the declared properties),
/// responses open (as published).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Request,
    Response,
}

/// One HTTP request as a client sent it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as sent (percent-encoded), without the query.
    pub path: &'a str,
    /// Decoded query pairs in order (see [`parse_query`]).
    pub query: &'a [(String, String)],
    pub body: Option<&'a Value>,
}

#[derive(Debug, Clone)]
enum Segment {
    Literal(String),
    Variable(String),
}

#[derive(Debug, Clone)]
struct Param {
    name: String,
    location: String,
    schema: Value,
    required: bool,
    /// `collectionFormat: multi`: the parameter may be repeated.
    repeated: bool,
}

#[derive(Debug, Clone)]
struct Operation {
    method: String,
    template: String,
    segments: Vec<Segment>,
    id: String,
    params: Vec<Param>,
    /// `(required, schema)` of the body parameter.
    body: Option<(bool, Value)>,
    /// Status (`"200"`, `"default"`) → schema.
    responses: Vec<(String, Value)>,
}

/// A parsed description.
pub struct Swagger {
    definitions: Map<String, Value>,
    operations: Vec<Operation>,
    validators: Mutex<HashMap<(Mode, String), Arc<jsonschema::Validator>>>,
}

impl Swagger {
    /// Reads a Swagger 2.0 document.
    pub fn parse(text: &str) -> Result<Swagger, Error> {
        let doc: Value = serde_json::from_str(text).map_err(|e| Error(format!("not JSON: {e}")))?;
        if doc.get("swagger").and_then(Value::as_str) != Some("2.0") {
            return Err(Error("not a Swagger 2.0 document".into()));
        }
        let definitions = doc
            .get("definitions")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut operations = Vec::new();
        for (template, item) in doc
            .get("paths")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let shared = item.get("parameters").cloned().unwrap_or(json!([]));
            for (method, op) in item.as_object().into_iter().flatten() {
                if method == "parameters" {
                    continue;
                }
                operations.push(operation(template, method, op, &shared)?);
            }
        }
        Ok(Swagger {
            definitions,
            operations,
            validators: Mutex::new(HashMap::new()),
        })
    }

    /// Reads a vendored description from `dir`: `swagger-subset.json`, with
    /// `corrections.json` applied when present (see
    /// [`Swagger::with_corrections`]).
    pub fn load(dir: &std::path::Path) -> Result<Swagger, Error> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|e| Error(format!("{}: {e}", path.display())))
        };
        let swagger = Swagger::parse(&read("swagger-subset.json")?)?;
        match dir.join("corrections.json").exists() {
            true => swagger.with_corrections(&read("corrections.json")?),
            false => Ok(swagger),
        }
    }

    /// Replaces (or adds) a definition: for a type whose published schema
    /// is not the JSON the server writes. Say why beside the call.
    pub fn with_definition(mut self, name: &str, schema: Value) -> Swagger {
        self.definitions.insert(name.to_owned(), schema);
        self.validators
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self
    }

    /// Applies corrections kept beside a vendored description:
    /// `{"definitions": {"<name>": {"schema": {…}, "reason": "…"}}}`, each
    /// replacing a published definition that is not the JSON the server
    /// writes. A correction must give its reason.
    pub fn with_corrections(mut self, text: &str) -> Result<Swagger, Error> {
        let doc: Value =
            serde_json::from_str(text).map_err(|e| Error(format!("corrections: not JSON: {e}")))?;
        for (name, c) in doc
            .get("definitions")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let reason = c.get("reason").and_then(Value::as_str).unwrap_or_default();
            let Some(schema) = c.get("schema") else {
                return Err(Error(format!("correction of `{name}` has no schema")));
            };
            if reason.trim().is_empty() {
                return Err(Error(format!("correction of `{name}` gives no reason")));
            }
            if !self.definitions.contains_key(name) {
                return Err(Error(format!("correction of `{name}`: no such definition")));
            }
            self = self.with_definition(name, schema.clone());
        }
        Ok(self)
    }

    /// The names of the definitions, to check that a vendored subset holds
    /// what a test refers to.
    pub fn definitions(&self) -> impl Iterator<Item = &str> {
        self.definitions.keys().map(String::as_str)
    }

    /// `operationId` of the operation a request goes to.
    pub fn operation_id(&self, method: &str, path: &str) -> Option<&str> {
        self.find(method, path).map(|(op, _)| op.id.as_str())
    }

    /// Everything about `req` that the description does not allow; empty
    /// when the request is conformant.
    pub fn check_request(&self, req: &Request<'_>) -> Vec<String> {
        let at = format!("{} {}", req.method, req.path);
        let Some((op, path_values)) = self.find(req.method, req.path) else {
            return vec![format!("{at}: no such operation in the description")];
        };
        let mut problems = Vec::new();
        for (name, value) in &path_values {
            if let Some(p) = op
                .params
                .iter()
                .find(|p| p.location == "path" && &p.name == name)
                && let Err(e) = scalar_matches(&p.schema, value)
            {
                problems.push(format!("{at}: path parameter `{name}`: {e}"));
            }
        }
        for (i, (key, value)) in req.query.iter().enumerate() {
            let Some(p) = op
                .params
                .iter()
                .find(|p| p.location == "query" && &p.name == key)
            else {
                problems.push(format!(
                    "{at}: query parameter `{key}` is not a parameter of {}",
                    op.id
                ));
                continue;
            };
            if !p.repeated && req.query[..i].iter().any(|(k, _)| k == key) {
                problems.push(format!(
                    "{at}: query parameter `{key}` is given more than once"
                ));
            }
            let item = if p.repeated {
                p.schema.get("items").cloned().unwrap_or(json!({}))
            } else {
                p.schema.clone()
            };
            if let Err(e) = scalar_matches(&item, value) {
                problems.push(format!("{at}: query parameter `{key}`: {e}"));
            }
        }
        for p in op.params.iter().filter(|p| p.required) {
            let given = match p.location.as_str() {
                "query" => req.query.iter().any(|(k, _)| k == &p.name),
                "path" => path_values.iter().any(|(k, _)| k == &p.name),
                _ => true,
            };
            if !given {
                problems.push(format!(
                    "{at}: required {} parameter `{}` is missing",
                    p.location, p.name
                ));
            }
        }
        match (&op.body, req.body) {
            (None, Some(_)) => problems.push(format!("{at}: {} takes no body", op.id)),
            (Some((true, _)), None) => problems.push(format!("{at}: {} needs a body", op.id)),
            (Some((_, schema)), Some(body)) => {
                for e in self.validate(schema, body, Mode::Request) {
                    problems.push(format!("{at}: body: {e}"));
                }
            }
            _ => {}
        }
        problems
    }

    /// Everything about a response body that its status's schema (or the
    /// `default` one) does not allow. A streaming operation's schema is the
    /// one of each line (`{"result": …}` or `{"error": …}`).
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &Value,
    ) -> Vec<String> {
        let at = format!("{method} {path} → {status}");
        let Some((op, _)) = self.find(method, path) else {
            return vec![format!("{at}: no such operation in the description")];
        };
        let code = status.to_string();
        let schema = op
            .responses
            .iter()
            .find(|(s, _)| *s == code)
            .or_else(|| op.responses.iter().find(|(s, _)| s == "default"));
        let Some((_, schema)) = schema else {
            return vec![format!("{at}: {} documents no such response", op.id)];
        };
        self.validate(schema, body, Mode::Response)
            .into_iter()
            .map(|e| format!("{at}: {e}"))
            .collect()
    }

    /// Everything about `doc` that definition `name` does not allow.
    pub fn check_definition(&self, name: &str, doc: &Value, mode: Mode) -> Vec<String> {
        if !self.definitions.contains_key(name) {
            return vec![format!("no definition `{name}` in the description")];
        }
        let schema = json!({"$ref": format!("#/definitions/{name}")});
        self.validate(&schema, doc, mode)
    }

    fn find(&self, method: &str, path: &str) -> Option<(&Operation, Vec<(String, String)>)> {
        let parts: Vec<String> = path
            .trim_start_matches('/')
            .split('/')
            .map(percent_decode)
            .collect();
        self.operations
            .iter()
            .filter(|op| op.method.eq_ignore_ascii_case(method))
            .filter_map(|op| {
                if op.segments.len() != parts.len() {
                    return None;
                }
                let mut values = Vec::new();
                for (s, part) in op.segments.iter().zip(&parts) {
                    match s {
                        Segment::Literal(l) if l == part => {}
                        Segment::Variable(v) if !part.is_empty() => {
                            values.push((v.clone(), part.clone()));
                        }
                        _ => return None,
                    }
                }
                Some((op, values))
            })
            // A literal segment wins over a variable (`…/{name}` vs `…/submit`).
            .max_by_key(|(op, values)| (op.segments.len() - values.len(), op.template.len()))
    }

    fn validator(&self, schema: &Value, mode: Mode) -> Result<Arc<jsonschema::Validator>, String> {
        let key = (mode, schema.to_string());
        let mut cache = self.validators.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = cache.get(&key) {
            return Ok(v.clone());
        }
        let mut root = schema.clone();
        let mut definitions = Value::Object(self.definitions.clone());
        if mode == Mode::Request {
            close_objects(&mut root);
            close_objects(&mut definitions);
        }
        if let Value::Object(m) = &mut root {
            m.insert("definitions".into(), definitions);
        }
        let v = Arc::new(
            jsonschema::draft4::new(&root)
                .map_err(|e| format!("the schema does not compile: {e}"))?,
        );
        cache.insert(key, v.clone());
        Ok(v)
    }

    fn validate(&self, schema: &Value, doc: &Value, mode: Mode) -> Vec<String> {
        match self.validator(schema, mode) {
            Err(e) => vec![e],
            Ok(v) => v
                .iter_errors(doc)
                .map(|e| {
                    let mut text = e.to_string();
                    if text.len() > 300 {
                        let cut = (0..=300)
                            .rev()
                            .find(|i| text.is_char_boundary(*i))
                            .unwrap_or(0);
                        text.truncate(cut);
                        text.push('…');
                    }
                    match e.instance_path().to_string() {
                        p if p.is_empty() => text,
                        p => format!("at {p}: {text}"),
                    }
                })
                .collect(),
        }
    }
}

fn operation(template: &str, method: &str, op: &Value, shared: &Value) -> Result<Operation, Error> {
    let mut params = Vec::new();
    let mut body = None;
    let all = shared.as_array().into_iter().flatten().chain(
        op.get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten(),
    );
    for p in all {
        let name = p
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| Error(format!("{method} {template}: a parameter without a name")))?;
        let location = p.get("in").and_then(Value::as_str).unwrap_or_default();
        let required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
        if location == "body" {
            body = Some((required, p.get("schema").cloned().unwrap_or(json!({}))));
            continue;
        }
        // A non-body parameter's schema is the parameter object itself.
        let mut schema = Map::new();
        for k in ["type", "format", "enum", "items"] {
            if let Some(v) = p.get(k) {
                schema.insert(k.into(), v.clone());
            }
        }
        params.push(Param {
            name: name.to_owned(),
            location: location.to_owned(),
            schema: Value::Object(schema),
            required,
            repeated: p.get("collectionFormat").and_then(Value::as_str) == Some("multi"),
        });
    }
    let segments = template
        .trim_start_matches('/')
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(v) => Segment::Variable(v.to_owned()),
                None => Segment::Literal(s.to_owned()),
            },
        )
        .collect();
    let responses = op
        .get("responses")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(status, r)| r.get("schema").map(|s| (status.clone(), s.clone())))
        .collect();
    Ok(Operation {
        method: method.to_ascii_uppercase(),
        template: template.to_owned(),
        segments,
        id: op
            .get("operationId")
            .and_then(Value::as_str)
            .unwrap_or(template)
            .to_owned(),
        params,
        body,
        responses,
    })
}

/// Whether a query or path value (text) is of the parameter's type.
fn scalar_matches(schema: &Value, value: &str) -> Result<(), String> {
    let ty = schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("string");
    let format = schema.get("format").and_then(Value::as_str);
    let ok = match (ty, format) {
        ("boolean", _) => matches!(value, "true" | "false"),
        ("integer", _) | ("string", Some("int64" | "uint64" | "int32")) => {
            value.parse::<i64>().is_ok() || value.parse::<u64>().is_ok()
        }
        ("number", _) => value.parse::<f64>().is_ok(),
        _ => true,
    };
    if !ok {
        return Err(format!(
            "`{value}` is not a {ty}{}",
            format.map(|f| format!(" ({f})")).unwrap_or_default()
        ));
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array)
        && !values.iter().any(|v| v.as_str() == Some(value))
    {
        return Err(format!(
            "`{value}` is not one of {}",
            Value::Array(values.clone())
        ));
    }
    Ok(())
}

/// Request mode: an object schema that lists its properties admits no
/// others (unless it says what others may be).
fn close_objects(schema: &mut Value) {
    match schema {
        Value::Object(m) => {
            if m.contains_key("properties") && !m.contains_key("additionalProperties") {
                m.insert("additionalProperties".into(), Value::Bool(false));
            }
            for (k, v) in m.iter_mut() {
                // Property names and enum values are data, not schemas.
                if k != "enum" && k != "required" {
                    close_objects(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// Decodes one percent-encoded path segment.
pub fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Decodes a raw query string (`a=1&b=x%20y`) into pairs, `+` as space.
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The definitions `roots` refer to, transitively, and the operations of
/// `paths` (each `"METHOD /template"`): the part of a large description a
/// test needs, to vendor. Descriptions are dropped (they are most of the
/// size and carry no constraint).
pub fn subset(text: &str, paths: &[&str], roots: &[&str]) -> Result<Value, Error> {
    let doc: Value = serde_json::from_str(text).map_err(|e| Error(format!("not JSON: {e}")))?;
    let mut out_paths = Map::new();
    for spec in paths {
        let (method, template) = spec
            .split_once(' ')
            .ok_or_else(|| Error(format!("`{spec}`: expected `METHOD /path`")))?;
        let method = method.to_ascii_lowercase();
        let op = doc
            .pointer(&format!(
                "/paths/{}/{method}",
                template.replace('~', "~0").replace('/', "~1")
            ))
            .ok_or_else(|| Error(format!("`{spec}` is not in the description")))?;
        let entry = out_paths
            .entry(template.to_owned())
            .or_insert_with(|| json!({}));
        entry[method.as_str()] = op.clone();
    }
    let mut wanted: Vec<String> = roots.iter().map(|r| (*r).to_owned()).collect();
    collect_refs(&Value::Object(out_paths.clone()), &mut wanted);
    let defs = doc
        .get("definitions")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut out_defs = Map::new();
    while let Some(name) = wanted.pop() {
        if out_defs.contains_key(&name) {
            continue;
        }
        let d = defs
            .get(&name)
            .ok_or_else(|| Error(format!("definition `{name}` is not in the description")))?;
        collect_refs(d, &mut wanted);
        out_defs.insert(name, d.clone());
    }
    let mut out = json!({
        "swagger": "2.0",
        "info": doc.get("info").cloned().unwrap_or(json!({})),
        "paths": out_paths,
        "definitions": out_defs,
    });
    strip_descriptions(&mut out);
    Ok(out)
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str)
                && let Some(name) = r.strip_prefix("#/definitions/")
            {
                out.push(name.to_owned());
            }
            m.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

fn strip_descriptions(v: &mut Value) {
    match v {
        Value::Object(m) => {
            // Only where `description`/`title` is a string: a property may
            // itself be named `description`.
            for key in ["description", "title"] {
                if m.get(key).is_some_and(Value::is_string) {
                    m.remove(key);
                }
            }
            m.values_mut().for_each(strip_descriptions);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_descriptions),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
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
        assert!(
            r(&[("field", "x")])[0].contains("query parameter `field` is not a parameter of Get")
        );
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
        let unknown = swagger()
            .with_corrections(r#"{"definitions": {"Nope": {"schema": {}, "reason": "x"}}}"#);
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

    #[test]
    fn queries_are_decoded() {
        assert_eq!(
            parse_query("a=1&b=x%20y+z&c"),
            q(&[("a", "1"), ("b", "x y z"), ("c", "")])
        );
    }
}
