//! Image references come from promoted values (anyone's YAML): parsing
//! must end and never panic, and what it accepts must print back as the
//! same image.

use ferry_notes::ImageRef;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn parse_never_panics(text in any::<String>()) {
        let _ = ImageRef::parse(&text);
    }

    #[test]
    fn parse_never_panics_on_reference_like_text(text in "[a-zA-Z0-9._:/@-]{0,40}") {
        if let Some(r) = ImageRef::parse(&text) {
            let again = ImageRef::parse(&format!("{}:{}", r.repository(), r.version().replace('@', "x")));
            // The repository part always parses again.
            prop_assert!(again.is_some() || r.tag.is_none(), "{text} → {r:?}");
        }
    }

    #[test]
    fn written_references_round_trip(
        host in proptest::option::of("[a-z]{1,8}\\.(io|com)(:[0-9]{2,5})?"),
        path in "[a-z0-9]{1,6}(/[a-z0-9]{1,6}){0,2}",
        tag in "[a-zA-Z0-9_][a-zA-Z0-9._-]{0,20}",
    ) {
        let written = match &host {
            Some(h) => format!("{h}/{path}:{tag}"),
            None => format!("{path}:{tag}"),
        };
        let r = ImageRef::parse(&written).unwrap();
        prop_assert_eq!(r.tag.as_deref(), Some(tag.as_str()));
        prop_assert_eq!(ImageRef::parse(&format!("{}:{}", r.repository(), tag)), Some(r));
    }
}
