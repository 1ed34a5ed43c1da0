//! The final stage of the project's `Dockerfile`, read the way Docker
//! reads it, for the tests that hold the packaging to it (`deploy.rs`:
//! the Kubernetes manifests; `image.rs`: the image `scripts/image` builds).
//! Included with `#[path]` by each of them.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

/// The instructions of the final stage: instruction (upper case) → the
/// argument text of each occurrence, in order.
pub struct FinalStage(BTreeMap<String, Vec<String>>);

impl FinalStage {
    pub fn read(root: &Path) -> FinalStage {
        let path = root.join("Dockerfile");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        FinalStage::parse(&text)
    }

    pub fn parse(text: &str) -> FinalStage {
        // Comment lines go first (Docker drops them even inside a
        // continued instruction), then continuation lines are joined.
        let uncommented: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        let joined = uncommented.replace("\\\n", " ");
        let mut stage: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in joined.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (instr, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let instr = instr.to_ascii_uppercase();
            if instr == "FROM" {
                stage.clear();
            }
            stage.entry(instr).or_default().push(rest.trim().to_owned());
        }
        FinalStage(stage)
    }

    pub fn all(&self, instr: &str) -> &[String] {
        self.0.get(instr).map(Vec::as_slice).unwrap_or_default()
    }

    /// The argument of the last `instr` (the one in effect).
    pub fn last(&self, instr: &str) -> &str {
        self.all(instr)
            .last()
            .unwrap_or_else(|| panic!("the Dockerfile's final stage has no {instr}"))
    }

    /// `ENV` or `LABEL` pairs (`k=v k2="v 2"`), later ones winning.
    pub fn pairs(&self, instr: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for args in self.all(instr) {
            for word in words(args) {
                let (k, v) = word
                    .split_once('=')
                    .unwrap_or_else(|| panic!("{instr} {args}: {word} is not key=value"));
                out.insert(k.to_owned(), v.to_owned());
            }
        }
        out
    }

    /// An exec-form (JSON array) instruction such as `ENTRYPOINT`.
    pub fn exec_form(&self, instr: &str) -> Vec<String> {
        let text = self.last(instr);
        serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("{instr} {text}: not an exec-form JSON array: {e}"))
    }

    /// Every word of every `RUN`.
    pub fn run_words(&self) -> Vec<String> {
        self.all("RUN").iter().flat_map(|r| words(r)).collect()
    }
}

/// Splits on blanks outside double quotes, dropping the quotes.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    assert!(!quoted, "unbalanced quotes in {text}");
    if any {
        out.push(word);
    }
    out
}

#[test]
fn parses_continued_quoted_and_commented_instructions() {
    let stage = FinalStage::parse(
        "FROM a AS b\nENV X=1\nFROM scratch\n# note\nLABEL a=\"x y\" \\\n  # inside\n  b=2\n\
         ENV P=/bin X=2\nENV X=3\nENTRYPOINT [\"/f\"]\n",
    );
    assert_eq!(
        stage.pairs("LABEL"),
        BTreeMap::from([("a".into(), "x y".into()), ("b".into(), "2".into())])
    );
    assert_eq!(stage.pairs("ENV")["X"], "3");
    assert_eq!(stage.pairs("ENV")["P"], "/bin");
    assert_eq!(stage.exec_form("ENTRYPOINT"), ["/f"]);
    assert!(stage.all("RUN").is_empty());
}
