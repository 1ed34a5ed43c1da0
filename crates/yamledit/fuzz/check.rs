// Shared body of the fuzz target; also `include!`d by
// `tests/fuzz_smoke.rs` so the same checks run in `cargo test` on stable.
//
// Input layout: byte 0 picks a JSONPath expression; the rest is split at
// the first NUL into the target text and the source text (both lossily
// decoded as UTF-8). Invariants: nothing panics; a successful apply yields
// text that parses; the editor's self-check never fires.

const EXPRESSIONS: &[&str] = &[
    "$..image",
    "$.a",
    "$.*",
    "$..*",
    "$[\"flask-ui\"].image.tag",
    "$appVersion",
    "$.a.b",
    "$[0]",
    "$..tag",
    "$.dependencies",
    "$[?@.tag]",
    "$.x[1].y",
];

pub fn check(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let expression = EXPRESSIONS[selector as usize % EXPRESSIONS.len()];
    let split = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    let target = String::from_utf8_lossy(&rest[..split]);
    let source = if split < rest.len() {
        String::from_utf8_lossy(&rest[split + 1..])
    } else {
        target.clone()
    };

    // Parsing and querying arbitrary text must never panic.
    if let Ok(doc) = ferry_yamledit::parse(&target)
        && let Some(root) = doc.root() {
            let _ = doc.node(root);
        }
    let _ = ferry_yamledit::query(&target, expression);
    // Stored normalized paths are parsed back from text.
    if let Ok(p) = target.parse::<ferry_yamledit::NormalizedPath>() {
        assert_eq!(p.to_string().parse::<ferry_yamledit::NormalizedPath>().ok(), Some(p));
    }
    let _ = ferry_yamledit::query(&target, &String::from_utf8_lossy(&rest[..split.min(40)]));

    let Ok(snapshot) = ferry_yamledit::snapshot(&source, &[expression]) else {
        return;
    };
    match ferry_yamledit::apply(&target, &snapshot) {
        Ok(edited) => {
            if edited.changed {
                assert!(
                    ferry_yamledit::parse(&edited.text).is_ok(),
                    "edited text does not parse:\n{}",
                    edited.text
                );
            } else {
                assert_eq!(edited.text, target);
            }
        }
        Err(ferry_yamledit::Error::Verification { path, detail }) => {
            panic!("editor self-check failed for {path}: {detail}\n--- target\n{target}\n--- source\n{source}")
        }
        Err(_) => {}
    }
}
