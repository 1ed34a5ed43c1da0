//! Format-preserving YAML editing and JSONPath over YAML with byte spans.
//!
//! This is the engine behind a promotion's `commit` action (SPEC §4.1,
//! §4.2): read the values at the promotable paths of a source file (the
//! *snapshot*) and write them into the same paths of a target file,
//! changing only the bytes of the values that differ. Comments, quoting,
//! anchors, document markers, flow style and CRLF line endings elsewhere
//! stay byte for byte.
//!
//! ```
//! let source = "image:\n  tag: main-abc # built by CI\n";
//! let target = "image:\n  tag: main-old # built by CI\n  pullPolicy: Always\n";
//! let snap = ferry_yamledit::snapshot(source, &["$.image.tag"]).unwrap();
//! let edited = ferry_yamledit::apply(target, &snap).unwrap();
//! assert!(edited.changed);
//! assert_eq!(edited.text, "image:\n  tag: main-abc # built by CI\n  pullPolicy: Always\n");
//! ```
//!
//! Only the first document of a multi-document file is read and edited.

mod apply;
mod error;
mod path;
mod render;
mod scalar;
mod source;
mod tree;
mod value;

pub use apply::{Edited, PathValue, apply};
pub use error::{Error, Location, Result};
pub use path::{Located, NormalizedPath, PathElement, Query};
pub use scalar::{ScalarKind, ScalarStyle};
pub use tree::{BlockScalar, Document, Node, NodeId, NodeKind, parse};
pub use value::{Scalar, Value};

/// Parse and run one JSONPath expression over the first document.
pub fn query(text: &str, jsonpath: &str) -> Result<Vec<Located>> {
    let q = Query::parse(jsonpath)?;
    parse(text)?.query(&q)
}

/// The snapshot of one file: the value at every location matched by any
/// of `jsonpaths`, in expression order then document order, without
/// duplicates (a location matched twice is listed once).
pub fn snapshot<S: AsRef<str>>(text: &str, jsonpaths: &[S]) -> Result<Vec<PathValue>> {
    let queries = jsonpaths
        .iter()
        .map(|p| Query::parse(p.as_ref()))
        .collect::<Result<Vec<_>>>()?;
    let doc = parse(text)?;
    let mut out: Vec<PathValue> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for q in &queries {
        for located in doc.query(q)? {
            if seen.insert(located.path.clone()) {
                out.push(PathValue {
                    path: located.path,
                    value: located.value,
                });
            }
        }
    }
    Ok(out)
}
