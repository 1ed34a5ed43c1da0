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
//! # Rules (decisions the callers can rely on)
//!
//! - **First document only.** Queries and edits address the first
//!   document of a stream; bytes of later documents are never touched.
//! - **Typing** follows the YAML 1.2 core schema; quoted and block scalars
//!   are strings (`tag: "1.20"` is the string `1.20`), a core tag
//!   (`!!str`, ...) wins. A [`Scalar`] keeps the exact text, so
//!   `version: 54.10` is promoted as `54.10`.
//! - **Equal values are not rewritten**: scalars compare by kind and exact
//!   text (all spellings of null are equal), so an up-to-date target comes
//!   back with `changed == false` and identical bytes.
//! - **Quoting**: an edited scalar keeps its style (plain, `'single'`,
//!   `"double"`, `|`/`>` block) when that style can hold the new value
//!   with the same type. A plain target whose new string would read as
//!   something else (`1.20`, `true`, `0123`, `yes`, `a: b`) is
//!   double-quoted — we check YAML 1.1 readings too because Helm's YAML
//!   reader still honours some of them. A number/bool/null replaces a
//!   quoted string unquoted, since the type follows the source.
//! - **Mappings merge**: a promoted mapping gets the source's keys and
//!   values; keys that exist only in the target are kept (as files that
//!   exist only in the target are kept). Missing keys are inserted after
//!   the mapping's last entry with the indentation of its keys and the
//!   file's line ending (CRLF stays CRLF); missing intermediate mappings
//!   are created. Into flow mappings keys are appended inline.
//! - **Sequences**: same length → element by element; a block sequence of
//!   another length gets items appended (same dash column) or trailing
//!   items removed; a flow sequence is rewritten inline.
//! - **Type changes** (e.g. scalar → mapping) rewrite just that node, in
//!   block style when it was a block collection, else inline flow style.
//! - **Aliases**: reads follow aliases. An edit that would have to go
//!   *through* an alias (`*name`) is refused with
//!   [`Error::ThroughAlias`] since it would silently change every other
//!   use of the anchor; an alias that is itself the promoted value is
//!   replaced by the value when it differs. Anchors, tags and comments
//!   around edited values stay. Merge keys (`<<`) are ordinary keys here.
//! - **Creating paths**: a missing key is created when its parent mapping
//!   exists; a missing sequence index, or a parent that is a scalar, is an
//!   [`Error::PathNotCreatable`] naming the path.
//! - **Self-check**: after editing, the result is parsed again and every
//!   promoted path is compared with the snapshot; a mismatch is returned as
//!   [`Error::Verification`] instead of writing a wrong file.

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
