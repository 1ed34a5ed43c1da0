//! A serde `Deserializer` over [`Node`]s that knows where it is.
//!
//! Two things make configuration errors useful and this module provides
//! both: every error carries the position and field path of the node it
//! happened on (`spec.steps[1].dependsOn`, 12:9), and keys that a struct
//! does not know are collected as warnings (Kubernetes tools tolerate extra
//! fields, so ferry must too, but a typo should not pass unnoticed).
//! Unknown-field detection relies on serde passing the struct's field list
//! to `deserialize_struct`; resource types therefore avoid `#[serde(flatten)]`.

use std::cell::RefCell;
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Expected, IntoDeserializer, MapAccess, SeqAccess,
    Unexpected, Visitor,
};

use super::{Node, NodeKind, Pos, Resolved, ScalarStyle, resolve_plain};

/// A field that the resource type does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownField {
    pub pos: Pos,
    /// Path of the unknown key, e.g. `spec.steps[0].polcy`.
    pub field: String,
    /// The type it appeared in, e.g. `PromotionFlowStep`.
    pub within: &'static str,
    /// The fields that type does know, to suggest the right one.
    pub expected: &'static [&'static str],
}

/// A deserialisation error located at a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeError {
    pub pos: Option<Pos>,
    /// Field path, e.g. `spec.steps[1].dependsOn`; empty for the document root.
    pub field: String,
    pub message: String,
    missing: Option<&'static str>,
    /// Raised by serde's `invalid_type` (a value of the wrong kind).
    invalid_type: bool,
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for DeError {}

impl DeError {
    fn new(message: String) -> Self {
        DeError {
            pos: None,
            field: String::new(),
            message,
            missing: None,
            invalid_type: false,
        }
    }

    /// Attaches the innermost location only: an error raised deep inside
    /// keeps its own position when it bubbles through the parents.
    fn at(self, pos: Pos, path: &Path<'_>) -> Self {
        if self.pos.is_some() {
            return self;
        }
        self.at_str(pos, &path.render())
    }

    fn at_str(mut self, pos: Pos, path: &str) -> Self {
        if self.pos.is_none() {
            self.pos = Some(pos);
            self.field = match self.missing.take() {
                Some(name) => child(path, name),
                None => path.to_owned(),
            };
        }
        self
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new(msg.to_string())
    }

    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        DeError {
            invalid_type: true,
            ..DeError::new(format!("expected {exp}, found {unexp}"))
        }
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        DeError::new(format!("invalid value {unexp}: expected {exp}"))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DeError::new(format!(
            "unknown value `{variant}`, expected one of {}",
            one_of(expected)
        ))
    }

    fn missing_field(field: &'static str) -> Self {
        DeError {
            pos: None,
            field: String::new(),
            message: "required field is missing".into(),
            missing: Some(field),
            invalid_type: false,
        }
    }
}

/// `a`, `b` or `c`, for messages that say what is expected.
pub fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.len() {
        0 => "nothing".into(),
        1 => quoted[0].clone(),
        n => format!("{} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

/// The path of a mapping key below `path`. Keys with dots or slashes (e.g.
/// annotation names) are bracketed so the path stays readable.
pub fn child(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (true, false) => format!("[{key:?}]"),
        (false, true) => format!("{path}.{key}"),
        (false, false) => format!("{path}[{key:?}]"),
    }
}

/// The field path of the node being deserialised, as a chain of borrowed
/// segments: rendered to a string only when an error or an unknown field
/// needs it, so the common path allocates nothing per node.
#[derive(Clone, Copy)]
enum Path<'p> {
    Root(&'p str),
    /// A field of a struct.
    Key(&'p Path<'p>, &'p str),
    /// An entry of a map whose keys are data (file names, label names).
    Entry(&'p Path<'p>, &'p str),
    Index(&'p Path<'p>, usize),
}

impl Path<'_> {
    fn render(&self) -> String {
        match self {
            Path::Root(base) => (*base).to_owned(),
            Path::Key(parent, key) | Path::Entry(parent, key) => child(&parent.render(), key),
            Path::Index(parent, i) => format!("{}[{i}]", parent.render()),
        }
    }

    /// The path with every list index written `[]` and every data-keyed map
    /// entry written `*`: the same for every document, so it can name a row
    /// of the configuration reference (`spec.steps[].policy.action`,
    /// `spec.promotion.*.jsonPaths`).
    fn pattern(&self) -> String {
        match self {
            Path::Root(base) => (*base).to_owned(),
            Path::Key(parent, key) => child(&parent.pattern(), key),
            Path::Entry(parent, _) => {
                let parent = parent.pattern();
                if parent.is_empty() {
                    "*".to_owned()
                } else {
                    format!("{parent}.*")
                }
            }
            Path::Index(parent, _) => format!("{}[]", parent.pattern()),
        }
    }
}

/// One struct reached while deserialising under [`record_fields`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedStruct {
    /// Path pattern of the struct (see the reference's `[]` and `*` forms);
    /// empty for a document root.
    pub path: String,
    /// The Rust type's name, e.g. `FlowStep`.
    pub name: &'static str,
    /// Every field the type accepts, in declaration order.
    pub fields: &'static [&'static str],
    /// The fields this occurrence actually had in the YAML.
    pub present: Vec<&'static str>,
}

thread_local! {
    /// `Some` only inside [`record_fields`]; `deserialize_struct` checks it
    /// once per struct, so loading without a recorder costs one
    /// thread-local read per struct and allocates nothing.
    static RECORDER: RefCell<Option<Vec<RecordedStruct>>> = const { RefCell::new(None) };
}

/// Runs `f` (typically [`crate::load`]) and returns, beside its result,
/// every struct the deserialiser reached on this thread, with its accepted
/// and present fields. This is how the configuration reference is checked
/// against the types the parser really uses: the documentation test loads
/// each example under the recorder and compares fields with the tables.
/// Loading spreads large inputs over threads; only work done on the calling
/// thread is recorded, which covers every input below the parallel threshold.
pub fn record_fields<R>(f: impl FnOnce() -> R) -> (R, Vec<RecordedStruct>) {
    let outer = RECORDER.with(|r| r.borrow_mut().replace(Vec::new()));
    let result = f();
    let recorded = RECORDER.with(|r| {
        let mut slot = r.borrow_mut();
        let mine = slot.take().unwrap_or_default();
        *slot = outer;
        mine
    });
    (result, recorded)
}

fn record(
    path: &Path<'_>,
    name: &'static str,
    fields: &'static [&'static str],
    entries: &[(Node, Node)],
) {
    RECORDER.with(|r| {
        if let Some(list) = r.borrow_mut().as_mut() {
            let present = fields
                .iter()
                .copied()
                .filter(|f| entries.iter().any(|(k, _)| k.as_str() == Some(f)))
                .collect();
            list.push(RecordedStruct {
                path: path.pattern(),
                name,
                fields,
                present,
            });
        }
    });
}

/// Deserialises `T` from `node`; `path` is the node's field path (empty for
/// a document root). Unknown fields are appended to `unknown`.
pub fn from_node<T: DeserializeOwned>(
    node: &Node,
    path: &str,
    unknown: &mut Vec<UnknownField>,
) -> Result<T, DeError> {
    let sink = RefCell::new(std::mem::take(unknown));
    let root = Path::Root(path);
    let result = T::deserialize(NodeDe {
        node,
        path: &root,
        unknown: &sink,
    });
    *unknown = sink.into_inner();
    result
}

struct NodeDe<'a, 'p, 'u> {
    node: &'a Node,
    path: &'p Path<'p>,
    unknown: &'u RefCell<Vec<UnknownField>>,
}

impl<'a, 'p, 'u> NodeDe<'a, 'p, 'u> {
    fn mismatch(&self, expected: &str) -> DeError {
        let found = match &self.node.kind {
            NodeKind::Scalar { text, .. } => {
                let shown: String = text.chars().take(40).collect();
                format!("{} `{shown}`", self.node.describe())
            }
            _ => self.node.describe().to_owned(),
        };
        DeError::new(format!("expected {expected}, found {found}")).at(self.node.pos, self.path)
    }

    fn plain_text(&self) -> Option<&'a str> {
        match &self.node.kind {
            NodeKind::Scalar {
                text,
                style: ScalarStyle::Plain,
            } => Some(text),
            _ => None,
        }
    }

    fn int(&self) -> Result<i64, DeError> {
        match self.plain_text().map(resolve_plain) {
            Some(Resolved::Int(i)) => Ok(i),
            _ => Err(self.mismatch("an integer")),
        }
    }
}

macro_rules! int_methods {
    ($($method:ident => $visit:ident : $ty:ty),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
                let i = self.int()?;
                let v = <$ty>::try_from(i).map_err(|_| {
                    DeError::new(format!("{i} is out of range for {}", stringify!($ty)))
                        .at(self.node.pos, self.path)
                })?;
                visitor.$visit::<DeError>(v).map_err(|e| e.at(self.node.pos, self.path))
            }
        )*
    };
}

impl<'de, 'a, 'p, 'u> de::Deserializer<'de> for NodeDe<'a, 'p, 'u> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let (pos, path) = (self.node.pos, self.path);
        let result = match &self.node.kind {
            NodeKind::Empty => visitor.visit_unit::<DeError>(),
            NodeKind::Scalar {
                text,
                style: ScalarStyle::Plain,
            } => match resolve_plain(text) {
                Resolved::Null => visitor.visit_unit::<DeError>(),
                Resolved::Bool(b) => visitor.visit_bool::<DeError>(b),
                Resolved::Int(i) => visitor.visit_i64::<DeError>(i),
                Resolved::Float(f) => visitor.visit_f64::<DeError>(f),
                Resolved::Str(s) => visitor.visit_str::<DeError>(s),
            },
            NodeKind::Scalar { text, .. } => visitor.visit_str::<DeError>(text),
            NodeKind::Seq(_) => return self.deserialize_seq(visitor),
            NodeKind::Map(_) => return self.deserialize_map(visitor),
        };
        result.map_err(|e| e.at(pos, path))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.plain_text().map(resolve_plain) {
            Some(Resolved::Bool(b)) => visitor
                .visit_bool::<DeError>(b)
                .map_err(|e| e.at(self.node.pos, self.path)),
            _ => Err(self.mismatch("a boolean (`true` or `false`)")),
        }
    }

    int_methods! {
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let f = match self.plain_text().map(resolve_plain) {
            Some(Resolved::Float(f)) => f,
            #[allow(clippy::cast_precision_loss)]
            Some(Resolved::Int(i)) => i as f64,
            _ => return Err(self.mismatch("a number")),
        };
        visitor
            .visit_f64::<DeError>(f)
            .map_err(|e| e.at(self.node.pos, self.path))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    /// Any scalar reads as a string, as written: `version: 54.1` gives
    /// "54.1". Kubernetes would reject an unquoted number where a string is
    /// expected; ferry accepts it because the text is unambiguous.
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Scalar { text, .. } => visitor
                .visit_str::<DeError>(text)
                .map_err(|e| e.at(self.node.pos, self.path)),
            _ => Err(self.mismatch("a string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let is_null = match &self.node.kind {
            NodeKind::Empty => true,
            NodeKind::Scalar {
                text,
                style: ScalarStyle::Plain,
            } => resolve_plain(text) == Resolved::Null,
            _ => false,
        };
        if is_null {
            visitor
                .visit_none::<DeError>()
                .map_err(|e| e.at(self.node.pos, self.path))
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Empty => visitor
                .visit_unit::<DeError>()
                .map_err(|e| e.at(self.node.pos, self.path)),
            _ => Err(self.mismatch("an empty value")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Seq(items) => {
                let access = SeqAcc {
                    items: items.iter().enumerate(),
                    path: self.path,
                    unknown: self.unknown,
                };
                visitor
                    .visit_seq(access)
                    .map_err(|e| e.at(self.node.pos, self.path))
            }
            _ => Err(self.mismatch("a list")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Map(entries) => {
                let access = MapAcc {
                    entries: entries.iter(),
                    value: None,
                    path: self.path,
                    unknown: self.unknown,
                    is_struct: false,
                };
                visitor
                    .visit_map(access)
                    .map_err(|e| e.at(self.node.pos, self.path))
            }
            _ => Err(self.mismatch("a mapping")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let entries = match &self.node.kind {
            NodeKind::Map(entries) => entries,
            // A type that also has a short scalar form (e.g. Codefresh's
            // `concurrency: queue`) takes it through `visit_str`; for every
            // other struct that is a type error, reported as before.
            NodeKind::Scalar { text, .. } => {
                return visitor.visit_str::<DeError>(text).map_err(|e| {
                    if e.invalid_type {
                        self.mismatch("a mapping")
                    } else {
                        e.at(self.node.pos, self.path)
                    }
                });
            }
            _ => return Err(self.mismatch("a mapping")),
        };
        {
            let mut unknown = self.unknown.borrow_mut();
            for (key, _) in entries {
                let key_text = key.as_str().unwrap_or_default();
                if !fields.contains(&key_text) {
                    unknown.push(UnknownField {
                        pos: key.pos,
                        field: child(&self.path.render(), key_text),
                        within: name,
                        expected: fields,
                    });
                }
            }
        }
        record(self.path, name, fields, entries);
        let access = MapAcc {
            entries: entries.iter(),
            value: None,
            path: self.path,
            unknown: self.unknown,
            is_struct: true,
        };
        visitor
            .visit_map(access)
            .map_err(|e| e.at(self.node.pos, self.path))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Scalar { text, .. } => {
                let de: de::value::StrDeserializer<'_, DeError> = text.as_str().into_deserializer();
                visitor
                    .visit_enum(de)
                    .map_err(|e| e.at(self.node.pos, self.path))
            }
            _ => Err(self.mismatch(&format!("one of {}", one_of(variants)))),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit::<DeError>()
    }
}

struct SeqAcc<'a, 'p, 'u> {
    items: std::iter::Enumerate<std::slice::Iter<'a, Node>>,
    path: &'p Path<'p>,
    unknown: &'u RefCell<Vec<UnknownField>>,
}

impl<'de, 'a, 'p, 'u> SeqAccess<'de> for SeqAcc<'a, 'p, 'u> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            None => Ok(None),
            Some((i, node)) => {
                let path = Path::Index(self.path, i);
                seed.deserialize(NodeDe {
                    node,
                    path: &path,
                    unknown: self.unknown,
                })
                .map(Some)
                .map_err(|e| e.at(node.pos, &path))
            }
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapAcc<'a, 'p, 'u> {
    entries: std::slice::Iter<'a, (Node, Node)>,
    value: Option<(&'a Node, &'a str)>,
    path: &'p Path<'p>,
    unknown: &'u RefCell<Vec<UnknownField>>,
    /// Keys are field names (a struct) rather than data (a map).
    is_struct: bool,
}

impl<'de, 'a, 'p, 'u> MapAccess<'de> for MapAcc<'a, 'p, 'u> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        let key_text = key.as_str().unwrap_or_default();
        let key_path = Path::Key(self.path, key_text);
        let key_de = NodeDe {
            node: key,
            path: &key_path,
            unknown: self.unknown,
        };
        let k = match &key.kind {
            NodeKind::Scalar { .. } => seed.deserialize(key_de)?,
            _ => {
                return Err(DeError::new(format!(
                    "mapping keys must be strings, found {}",
                    key.describe()
                ))
                .at(key.pos, self.path));
            }
        };
        self.value = Some((value, key_text));
        Ok(Some(k))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some((node, key)) = self.value.take() else {
            return Err(DeError::new("value requested before key".into()));
        };
        let path = if self.is_struct {
            Path::Key(self.path, key)
        } else {
            Path::Entry(self.path, key)
        };
        seed.deserialize(NodeDe {
            node,
            path: &path,
            unknown: self.unknown,
        })
        .map_err(|e| e.at(node.pos, &path))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_documents;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Step {
        environment: String,
        #[serde(default)]
        depends_on: Vec<String>,
        #[serde(default)]
        parallel: Option<bool>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Spec {
        steps: Vec<Step>,
        #[serde(default)]
        labels: BTreeMap<String, String>,
        #[serde(default)]
        count: Option<u32>,
    }

    fn de<T: DeserializeOwned>(text: &str) -> (Result<T, DeError>, Vec<UnknownField>) {
        let docs = parse_documents(text).unwrap();
        let mut unknown = Vec::new();
        let r = from_node(&docs[0].root, "spec", &mut unknown);
        (r, unknown)
    }

    #[test]
    fn happy_path_and_unknown_fields() {
        let (spec, unknown) = de::<Spec>(
            "steps:\n  - environment: qa\n    dependsOn: [dev]\n    polcy: x\nlabels:\n  v: 54.1\n",
        );
        let spec = spec.unwrap();
        assert_eq!(spec.steps[0].depends_on, vec!["dev"]);
        assert_eq!(spec.labels["v"], "54.1");
        assert_eq!(unknown.len(), 1);
        assert_eq!(unknown[0].field, "spec.steps[0].polcy");
        assert_eq!(unknown[0].pos, Pos { line: 4, col: 5 });
    }

    #[test]
    fn missing_field_names_the_field_and_its_parent() {
        let (spec, _) = de::<Spec>("steps:\n  - dependsOn: [dev]\n");
        let err = spec.unwrap_err();
        assert_eq!(err.field, "spec.steps[0].environment");
        assert_eq!(err.pos, Some(Pos { line: 2, col: 5 }));
        assert_eq!(err.message, "required field is missing");
    }

    #[test]
    fn type_errors_point_at_the_value() {
        let (spec, _) = de::<Spec>("steps:\n  - environment: qa\n    parallel: yes\n");
        let err = spec.unwrap_err();
        assert_eq!(err.field, "spec.steps[0].parallel");
        assert_eq!(err.pos, Some(Pos { line: 3, col: 15 }));
        assert!(err.message.contains("expected a boolean"), "{err}");

        let (spec, _) = de::<Spec>("steps: {}\n");
        let err = spec.unwrap_err();
        assert_eq!(err.field, "spec.steps");
        assert_eq!(err.message, "expected a list, found a mapping");

        let (spec, _) = de::<Spec>("steps: []\ncount: -3\n");
        let err = spec.unwrap_err();
        assert_eq!(err.field, "spec.count");
        assert!(err.message.contains("out of range"), "{err}");
    }

    #[test]
    fn recorder_sees_every_struct_with_pattern_paths_and_is_off_by_default() {
        #[derive(Debug, Deserialize)]
        struct File {
            #[serde(rename = "jsonPaths")]
            _json_paths: Vec<String>,
        }
        #[derive(Debug, Deserialize)]
        struct Outer {
            _steps: Vec<Step>,
            #[serde(default)]
            _files: BTreeMap<String, File>,
        }
        let text = "_steps:\n  - environment: qa\n  - environment: prod\n    dependsOn: [qa]\n_files:\n  a.yaml: {jsonPaths: [x]}\n";
        let ((outer, _), recorded) = record_fields(|| de::<Outer>(text));
        outer.unwrap();
        let seen: Vec<(&str, &str, Vec<&str>)> = recorded
            .iter()
            .map(|r| (r.path.as_str(), r.name, r.present.clone()))
            .collect();
        assert_eq!(
            seen,
            [
                ("spec", "Outer", vec!["_steps", "_files"]),
                ("spec._steps[]", "Step", vec!["environment"]),
                ("spec._steps[]", "Step", vec!["environment", "dependsOn"]),
                ("spec._files.*", "File", vec!["jsonPaths"]),
            ]
        );
        assert_eq!(recorded[1].fields, ["environment", "dependsOn", "parallel"]);
        // Outside the recorder nothing is kept, and a nested call restores the outer one.
        let (_, outer_rec) = record_fields(|| {
            let (_, inner) = record_fields(|| de::<Step>("environment: x\n"));
            assert_eq!(inner.len(), 1);
            de::<Step>("environment: y\n")
        });
        assert_eq!(outer_rec.len(), 1);
        RECORDER.with(|r| assert!(r.borrow().is_none()));
    }

    #[test]
    fn child_paths_bracket_dotted_keys() {
        assert_eq!(
            child("metadata.annotations", "codefresh.io/product"),
            "metadata.annotations[\"codefresh.io/product\"]"
        );
        assert_eq!(child("", "spec"), "spec");
        assert_eq!(one_of(&["a", "b", "c"]), "`a`, `b` or `c`");
    }
}
