//! Property tests of the commit-message parser: messages are input from
//! anyone who can push, so it must never panic, and what it reads from a
//! well-formed header must be exactly what was written.

use ferry_notes::message::{IssueRules, conventional, parse, pull_request};
use proptest::prelude::*;
use regex::Regex;

fn rules() -> IssueRules {
    IssueRules {
        key_pattern: Some(Regex::new(r"\b[A-Z]{2,6}-[0-9]{1,6}\b").unwrap()),
        url_template: Some("https://issues.example.com/browse/{key}".into()),
        repo_web_url: Some("https://git.example.com/acme/api".into()),
    }
}

fn kind() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9-]{0,10}"
}

fn scope() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[a-z0-9][a-z0-9/._-]{0,12}")
}

/// A description without the characters that end a header or start a
/// squash suffix.
fn description() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9 ,.'-]{0,40}[A-Za-z0-9.]"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics(message in any::<String>()) {
        let p = parse(&message, &rules());
        // Whatever it found, each issue key is listed once.
        let mut keys: Vec<_> = p.issues.iter().map(|i| i.key.clone()).collect();
        keys.sort();
        keys.dedup();
        prop_assert_eq!(keys.len(), p.issues.len());
    }

    #[test]
    fn never_panics_on_header_like_text(
        head in "[a-z!():# -]{0,12}",
        rest in "[ -~\n]{0,60}",
    ) {
        let _ = parse(&format!("{head}: {rest}"), &rules());
    }

    #[test]
    fn headers_round_trip(
        k in kind(), s in scope(), bang in any::<bool>(), d in description(),
    ) {
        let header = format!(
            "{k}{}{}: {d}",
            s.as_ref().map(|s| format!("({s})")).unwrap_or_default(),
            if bang { "!" } else { "" }
        );
        let c = conventional(&header).expect("a well-formed header parses");
        prop_assert_eq!(c.kind, k.to_ascii_lowercase());
        prop_assert_eq!(c.scope, s);
        prop_assert_eq!(c.bang, bang);
        prop_assert_eq!(c.description, d.trim().to_owned());
        let p = parse(&header, &IssueRules::default());
        prop_assert_eq!(p.breaking, bang);
    }

    #[test]
    fn breaking_footer_anywhere_in_the_body(
        k in kind(), d in description(), before in "[a-z .]{0,30}", what in description(),
        dash in any::<bool>(),
    ) {
        let token = if dash { "BREAKING-CHANGE" } else { "BREAKING CHANGE" };
        let msg = format!("{k}: {d}\n\n{before}\n{token}: {what}\n");
        prop_assert!(parse(&msg, &rules()).breaking);
    }

    #[test]
    fn squash_suffix_is_the_pull_request(d in description(), n in 1u64..1_000_000_000) {
        let subject = format!("{d} (#{n})");
        prop_assert_eq!(pull_request(&subject, ""), Some(n));
        let p = parse(&format!("{subject}\n\nbody"), &rules());
        prop_assert_eq!(p.pull_request, Some(n));
        // The pull request is not also an issue.
        let own = format!("#{n}");
        prop_assert!(p.issues.iter().all(|i| i.key != own), "{:?}", p.issues);
    }

    #[test]
    fn github_merges_name_their_pull_request(n in 1u64..1_000_000_000, branch in "[a-z]{1,8}/[a-z-]{1,12}") {
        let msg = format!("Merge pull request #{n} from {branch}\n\nfeat: something");
        prop_assert_eq!(parse(&msg, &rules()).pull_request, Some(n));
    }

    #[test]
    fn referenced_issues_are_found(
        d in description(), n in 1u64..1_000_000, key in "[A-Z]{2,6}-[1-9][0-9]{0,5}",
    ) {
        let msg = format!("fix: {d}\n\nCloses #{n}; see {key}.");
        let p = parse(&msg, &rules());
        let hash = p.issues.iter().find(|i| i.key == format!("#{n}"));
        prop_assert!(hash.is_some(), "{:?}", p.issues);
        let expected_hash_url = format!("https://git.example.com/acme/api/issues/{n}");
        prop_assert_eq!(hash.and_then(|i| i.url.as_deref()), Some(expected_hash_url.as_str()));
        let jira = p.issues.iter().find(|i| i.key == key);
        let expected = format!("https://issues.example.com/browse/{key}");
        prop_assert_eq!(jira.and_then(|i| i.url.as_deref()), Some(expected.as_str()));
    }

    #[test]
    fn free_form_subjects_have_no_type(words in "[A-Z][a-z]{1,8}( [a-z]{1,8}){0,6}") {
        prop_assert_eq!(conventional(&words), None);
    }
}
