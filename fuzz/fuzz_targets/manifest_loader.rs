//! The manifest loader on arbitrary bytes: it must never panic, and every
//! diagnostic must point inside the input.
#![no_main]

use ferry_model::{Membership, SourceFile, load};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // YAML counts `\n`, `\r\n` and a lone `\r` as line breaks.
    let breaks = text.matches('\n').count() + text.matches('\r').count() - text.matches("\r\n").count();
    // End-of-input errors may point one line past the last break.
    let lines = breaks as u32 + 2;
    let loaded = load(&[SourceFile { path: "fuzz.yaml".into(), text: text.to_owned() }]);
    for d in &loaded.diagnostics {
        assert!(d.line <= lines, "diagnostic beyond the input: {d}");
    }
    // Derived views must not panic either.
    let membership = Membership::compute(&loaded.config);
    for p in membership.products.keys() {
        for e in &loaded.config.environments {
            let _ = ferry_model::evaluate(&loaded.config, p, e.name(), None, membership.product(p));
        }
    }
    for f in &loaded.config.flows {
        let _ = ferry_model::FlowGraph::build(f);
    }
});
