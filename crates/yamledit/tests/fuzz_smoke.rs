//! The fuzz target's checks (`fuzz/check.rs`), run on stable as part of
//! `cargo test`: over the seed corpus, over every input the fuzzer once
//! crashed on (`fuzz/regressions/`), and over bounded random inputs.

mod fuzz_check {
    include!("../fuzz/check.rs");
}

use proptest::prelude::*;

fn files_in(dir: &str) -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn seeds_and_regressions_hold() {
    let mut files: Vec<_> = files_in("fuzz/corpus/parse_query_apply")
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("seed"))
        })
        .collect();
    files.extend(files_in("fuzz/regressions"));
    assert!(files.len() >= 5, "seed corpus missing: {files:?}");
    for f in files {
        let data = std::fs::read(&f).unwrap();
        fuzz_check::check(&data);
    }
}

fn yamlish() -> impl Strategy<Value = Vec<u8>> {
    let token = proptest::sample::select(vec![
        "a", "image", "tag", ":", ": ", "\n", "\r\n", "  ", "- ", "-", "[", "]", "{", "}", ",",
        "#", " # c", "\"", "'", "|", ">", "|-", "&x ", "*x", "!!str ", "---", "...", "? ", "1.20",
        "true", "~", "\t", "\0", "ü", "flask-ui", "\\", "\r",
    ]);
    (any::<u8>(), proptest::collection::vec(token, 0..40)).prop_map(|(sel, toks)| {
        let mut v = vec![sel];
        for t in toks {
            v.extend_from_slice(t.as_bytes());
        }
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        fuzz_check::check(&data);
    }

    #[test]
    fn yaml_like_tokens_never_panic(data in yamlish()) {
        fuzz_check::check(&data);
    }
}
