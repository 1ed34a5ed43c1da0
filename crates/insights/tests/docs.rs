//! docs/insights.md carries every definition the page shows, word for
//! word, and DORA's published band values.

use ferry_insights::band::PUBLISHED;
use ferry_insights::definitions::{MEASURES, PERCENTILES, PHASES, PRODUCTION};

#[test]
fn the_docs_hold_the_definitions_word_for_word() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/insights.md");
    let doc = std::fs::read_to_string(&path).expect("docs/insights.md");
    for (_, title, text) in MEASURES {
        assert!(doc.contains(&format!("### {title}")), "{title}");
        assert!(doc.contains(text), "the definition of {title} differs");
    }
    for text in [PHASES, PRODUCTION, PERCENTILES] {
        assert!(doc.contains(text), "{text}");
    }
    for (band, frequency, lead, rate, recovery) in PUBLISHED {
        let row = format!(
            "| {} | {frequency} | {lead} | {rate} | {recovery} |",
            band.as_str()
        );
        assert!(doc.contains(&row), "{row}");
    }
}
