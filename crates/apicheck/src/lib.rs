//! Checks HTTP requests and JSON documents against a published API
//! description: Swagger 2.0 (OpenAPI v2), such as Argo CD's
//! `assets/swagger.json` or Argo Workflows' `api/openapi-spec/swagger.json`,
//! or OpenAPI 3.0/3.1, such as the document ferry generates for its own API.
//!
//! ferry's clients of those APIs are otherwise tested only against fakes
//! written beside them, which agree with them by construction. With this
//! crate a test checks what a client sends (method, path, query parameters,
//! body) and what a fake answers against the vendor's own description:
//!
//! - a request must match a documented operation; its query parameters must
//!   be declared, well typed and not repeated unless the parameter is a
//!   `multi` array (an exploded array in OpenAPI 3); its body must match the
//!   body schema **with every object closed** (a property the schema does not
//!   declare is an error, because the server would drop it silently — a
//!   misspelt option is a no-op);
//! - a response body must match the schema of its status (or `default`),
//!   as published: objects stay open, as the vendor adds fields — unless the
//!   description is [`Swagger::strict`], as ferry's own is: there a property
//!   the document does not declare is an error in answers too (a field the
//!   server writes but the document omits).
//!
//! Swagger 2.0 schemas are JSON Schema draft 4, OpenAPI 3.0's draft 4 with
//! `nullable`, OpenAPI 3.1's draft 2020-12; every `$ref` is resolved inside
//! the document (`#/definitions/...`, `#/components/schemas/...`).
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
/// responses open (as published) unless the description is strict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Request,
    Response,
}

/// Which kind of description, and so which JSON Schema dialect and where
/// its named schemas live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// Swagger 2.0: draft 4, `#/definitions/`.
    Swagger2,
    /// OpenAPI 3.0: draft 4 plus `nullable`, `#/components/schemas/`.
    OpenApi30,
    /// OpenAPI 3.1: draft 2020-12, `#/components/schemas/`.
    OpenApi31,
}

impl Dialect {
    fn ref_prefix(self) -> &'static str {
        match self {
            Dialect::Swagger2 => "#/definitions/",
            Dialect::OpenApi30 | Dialect::OpenApi31 => "#/components/schemas/",
        }
    }
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
    /// Status (`"200"`, `"default"`) → schema of its JSON body.
    responses: Vec<(String, Value)>,
    /// Statuses documented without a JSON body (`204`, `304`, a stream).
    other_responses: Vec<String>,
}

/// A parsed description (Swagger 2.0 or OpenAPI 3).
pub struct Swagger {
    dialect: Dialect,
    definitions: Map<String, Value>,
    operations: Vec<Operation>,
    /// Responses are checked closed, as requests are.
    strict: bool,
    validators: Mutex<HashMap<(Mode, String), Arc<jsonschema::Validator>>>,
}

impl Swagger {
    /// Reads a Swagger 2.0 or an OpenAPI 3.0/3.1 document.
    pub fn parse(text: &str) -> Result<Swagger, Error> {
        let doc: Value = serde_json::from_str(text).map_err(|e| Error(format!("not JSON: {e}")))?;
        let dialect = match (
            doc.get("swagger").and_then(Value::as_str),
            doc.get("openapi").and_then(Value::as_str),
        ) {
            (Some("2.0"), _) => Dialect::Swagger2,
            (_, Some(v)) if v.starts_with("3.0.") => Dialect::OpenApi30,
            (_, Some(v)) if v.starts_with("3.1.") => Dialect::OpenApi31,
            _ => {
                return Err(Error(
                    "not a Swagger 2.0 or OpenAPI 3.0/3.1 document".into(),
                ));
            }
        };
        let definitions = match dialect {
            Dialect::Swagger2 => doc.get("definitions"),
            _ => doc.pointer("/components/schemas"),
        }
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
                if !HTTP_METHODS.contains(&method.as_str()) {
                    continue;
                }
                operations.push(match dialect {
                    Dialect::Swagger2 => operation(template, method, op, &shared)?,
                    _ => operation3(&doc, template, method, op, &shared)?,
                });
            }
        }
        Ok(Swagger {
            dialect,
            definitions,
            operations,
            strict: false,
            validators: Mutex::new(HashMap::new()),
        })
    }

    /// Responses are checked like requests, every object closed: for a
    /// description that must name every field its server writes (ferry's
    /// own), where an undeclared property is an undocumented one.
    pub fn strict(mut self) -> Swagger {
        self.strict = true;
        self.validators
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self
    }

    /// `(method, path template)` of every operation, methods in upper case.
    pub fn operations(&self) -> impl Iterator<Item = (&str, &str)> {
        self.operations
            .iter()
            .map(|op| (op.method.as_str(), op.template.as_str()))
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
            let what = if op.other_responses.contains(&code) {
                "no JSON body for this status"
            } else {
                "no such response"
            };
            return vec![format!("{at}: {} documents {what}", op.id)];
        };
        self.validate(schema, body, Mode::Response)
            .into_iter()
            .map(|e| format!("{at}: {e}"))
            .collect()
    }

    /// Whether the operation of `method path` documents `status` (with or
    /// without a JSON body).
    pub fn documents_status(&self, method: &str, path: &str, status: u16) -> bool {
        let code = status.to_string();
        self.find(method, path).is_some_and(|(op, _)| {
            op.responses
                .iter()
                .any(|(s, _)| *s == code || s == "default")
                || op.other_responses.contains(&code)
        })
    }

    /// Everything about `doc` that definition `name` does not allow.
    pub fn check_definition(&self, name: &str, doc: &Value, mode: Mode) -> Vec<String> {
        if !self.definitions.contains_key(name) {
            return vec![format!("no definition `{name}` in the description")];
        }
        let schema = json!({"$ref": format!("{}{name}", self.dialect.ref_prefix())});
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
        if self.dialect == Dialect::OpenApi30 {
            nullable_as_type(&mut root);
            nullable_as_type(&mut definitions);
        }
        if mode == Mode::Request || self.strict {
            let named = definitions.clone();
            merge_all_of(&mut root, &named);
            merge_all_of(&mut definitions, &named);
            close_objects(&mut root);
            close_objects(&mut definitions);
        }
        // A `$ref` next to other keywords is honoured by 2020-12 only; the
        // root's own schema goes under `allOf` so the named schemas can sit
        // beside it where the references expect them.
        let mut root = match self.dialect {
            Dialect::Swagger2 => {
                if let Value::Object(m) = &mut root {
                    m.insert("definitions".into(), definitions);
                }
                root
            }
            _ => json!({"allOf": [root], "components": {"schemas": definitions}}),
        };
        // Formats (`date-time`) are checked in ferry's own descriptions;
        // Swagger 2.0 keeps the draft's default.
        let options = match self.dialect {
            Dialect::OpenApi31 => jsonschema::draft202012::options().should_validate_formats(true),
            Dialect::OpenApi30 => jsonschema::draft4::options().should_validate_formats(true),
            Dialect::Swagger2 => jsonschema::draft4::options(),
        };
        if let Value::Object(m) = &mut root {
            // OpenAPI's `example(s)` and `discriminator` are annotations.
            m.remove("$schema");
        }
        let v = Arc::new(
            options
                .build(&root)
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
    new_operation(template, method, op, params, body, |r| {
        Ok(r.get("schema").cloned())
    })
}

/// The operation, its responses sorted into those with a JSON body (by
/// `json_body`) and those without.
fn new_operation(
    template: &str,
    method: &str,
    op: &Value,
    params: Vec<Param>,
    body: Option<(bool, Value)>,
    json_body: impl Fn(&Value) -> Result<Option<Value>, Error>,
) -> Result<Operation, Error> {
    let mut responses = Vec::new();
    let mut other_responses = Vec::new();
    for (status, r) in op
        .get("responses")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        match json_body(r)? {
            Some(schema) => responses.push((status.clone(), schema)),
            None => other_responses.push(status.clone()),
        }
    }
    Ok(Operation {
        method: method.to_ascii_uppercase(),
        template: template.to_owned(),
        segments: segments(template),
        id: op
            .get("operationId")
            .and_then(Value::as_str)
            .unwrap_or(template)
            .to_owned(),
        params,
        body,
        responses,
        other_responses,
    })
}

const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn segments(template: &str) -> Vec<Segment> {
    template
        .trim_start_matches('/')
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(v) => Segment::Variable(v.to_owned()),
                None => Segment::Literal(s.to_owned()),
            },
        )
        .collect()
}

/// Follows a local `$ref` (`#/components/parameters/x`) to what it names.
fn deref<'a>(doc: &'a Value, v: &'a Value) -> Result<&'a Value, Error> {
    match v.get("$ref").and_then(Value::as_str) {
        None => Ok(v),
        Some(r) => r
            .strip_prefix('#')
            .and_then(|pointer| doc.pointer(pointer))
            .ok_or_else(|| Error(format!("unresolved $ref {r}"))),
    }
}

/// The JSON schema of a media-type map (`content`): `application/json` or
/// another JSON type (`…+json`).
fn json_schema(content: Option<&Value>) -> Option<Value> {
    let content = content?.as_object()?;
    content
        .iter()
        .find(|(t, _)| {
            let t = t.split(';').next().unwrap_or("").trim();
            t == "application/json" || t.ends_with("+json")
        })
        .map(|(_, media)| media.get("schema").cloned().unwrap_or(json!({})))
}

/// An OpenAPI 3 operation: parameters with a `schema`, a `requestBody`,
/// and responses by media type.
fn operation3(
    doc: &Value,
    template: &str,
    method: &str,
    op: &Value,
    shared: &Value,
) -> Result<Operation, Error> {
    let at = format!("{method} {template}");
    let mut params = Vec::new();
    let all = shared.as_array().into_iter().flatten().chain(
        op.get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten(),
    );
    for p in all {
        let p = deref(doc, p)?;
        let name = p
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| Error(format!("{at}: a parameter without a name")))?;
        let location = p.get("in").and_then(Value::as_str).unwrap_or_default();
        let schema = p.get("schema").cloned().unwrap_or(json!({}));
        // Query arrays are `form`-style and exploded unless they say not.
        let is_array = schema.get("type").and_then(Value::as_str) == Some("array");
        let explode = p.get("explode").and_then(Value::as_bool).unwrap_or(true);
        params.push(Param {
            name: name.to_owned(),
            location: location.to_owned(),
            required: p.get("required").and_then(Value::as_bool).unwrap_or(false),
            repeated: location == "query" && is_array && explode,
            schema,
        });
    }
    let body = match op.get("requestBody") {
        None => None,
        Some(b) => {
            let b = deref(doc, b)?;
            let required = b.get("required").and_then(Value::as_bool).unwrap_or(false);
            Some((required, json_schema(b.get("content")).unwrap_or(json!({}))))
        }
    };
    new_operation(template, method, op, params, body, |r| {
        Ok(json_schema(deref(doc, r)?.get("content")))
    })
}

/// OpenAPI 3.0's `nullable: true` as draft 4 says it: `null` among the
/// types (and the enum).
fn nullable_as_type(schema: &mut Value) {
    match schema {
        Value::Object(m) => {
            if m.remove("nullable") == Some(Value::Bool(true)) {
                match m.get_mut("type") {
                    Some(Value::String(t)) => {
                        let t = std::mem::take(t);
                        m.insert("type".into(), json!([t, "null"]));
                    }
                    Some(Value::Array(ts)) => ts.push(json!("null")),
                    _ => {}
                }
                if let Some(Value::Array(values)) = m.get_mut("enum") {
                    values.push(Value::Null);
                }
            }
            for (k, v) in m.iter_mut() {
                if k != "enum" && k != "required" && k != "example" {
                    nullable_as_type(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(nullable_as_type),
        _ => {}
    }
}

/// Whether a query or path value (text) is of the parameter's type.
fn scalar_matches(schema: &Value, value: &str) -> Result<(), String> {
    // OpenAPI 3.1 writes an optional value's type as `["integer", "null"]`.
    let ty = match schema.get("type") {
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("string"),
        other => other.and_then(Value::as_str).unwrap_or("string"),
    };
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

/// Before objects are closed, an object composed of parts (`allOf`, as
/// generated for a flattened field) becomes one object with the parts'
/// properties: closed one by one, each part would refuse the others'.
/// Parts are plain objects or local `$ref`s to them (`named` are the
/// document's named schemas); other compositions are left as they are.
fn merge_all_of(schema: &mut Value, named: &Value) {
    match schema {
        Value::Object(m) => {
            let parts: Option<Vec<&Map<String, Value>>> = m
                .get("allOf")
                .and_then(Value::as_array)
                .filter(|parts| parts.len() > 1)
                .and_then(|parts| {
                    parts
                        .iter()
                        .map(|p| {
                            let p = match p.get("$ref").and_then(Value::as_str) {
                                Some(r) => named.get(r.rsplit('/').next()?)?,
                                None => p,
                            };
                            p.as_object().filter(|o| {
                                o.contains_key("properties")
                                    && !["allOf", "oneOf", "anyOf", "$ref"]
                                        .iter()
                                        .any(|k| o.contains_key(*k))
                            })
                        })
                        .collect()
                });
            if let Some(parts) = parts {
                let mut properties = Map::new();
                let mut required = Vec::new();
                for part in parts {
                    if let Some(p) = part.get("properties").and_then(Value::as_object) {
                        properties.extend(p.clone());
                    }
                    if let Some(r) = part.get("required").and_then(Value::as_array) {
                        required.extend(r.iter().cloned());
                    }
                }
                m.remove("allOf");
                m.insert("type".into(), json!("object"));
                m.insert("properties".into(), Value::Object(properties));
                m.insert("required".into(), Value::Array(required));
            }
            for (k, v) in m.iter_mut() {
                if !matches!(
                    k.as_str(),
                    "enum" | "required" | "example" | "examples" | "default" | "const"
                ) {
                    merge_all_of(v, named);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| merge_all_of(v, named)),
        _ => {}
    }
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
                // Property names, enum values and examples are data, not schemas.
                if !matches!(
                    k.as_str(),
                    "enum" | "required" | "example" | "examples" | "default" | "const"
                ) {
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
mod tests;
