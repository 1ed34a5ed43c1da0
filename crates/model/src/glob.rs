//! The one glob dialect of ferry's configuration: `*` matches any run of
//! characters (newlines included), everything else matches itself, and the
//! pattern must match the whole string. Used for trigger selectors
//! (commit messages, revisions) and Environment namespaces.

/// Whether `pattern` matches all of `text`.
///
/// Linear-time greedy matching with single-star backtracking, so hostile
/// patterns like `*a*a*a*a*b` cannot blow up on long commit messages.
pub fn matches(pattern: &str, text: &str) -> bool {
    let p = pattern.as_bytes();
    let t = text.as_bytes();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::matches;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        assert!(matches("*", ""));
        assert!(matches("*", "anything\nat all"));
        assert!(matches("feat*", "feat: new\n\nbody"));
        assert!(!matches("feat", "feat: new"));
        assert!(matches("feat: new", "feat: new"));
        assert!(matches("*[skip]*", "fix: x [skip] y"));
        assert!(matches("staging-*", "staging-eu"));
        assert!(!matches("staging-*", "prod-staging-eu"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(matches("*.*", "1.2"));
        assert!(matches("ab*", "ab"));
        assert!(matches("héllo*", "héllo wörld"));
    }

    /// Reference implementation: the obvious exponential recursion.
    fn reference(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (None, Some(_)) => false,
            (Some(b'*'), _) => reference(&p[1..], t) || (!t.is_empty() && reference(p, &t[1..])),
            (Some(c), Some(d)) if c == d => reference(&p[1..], &t[1..]),
            _ => false,
        }
    }

    proptest! {
        #[test]
        fn agrees_with_reference(p in "[ab*\n]{0,8}", t in "[ab\n]{0,12}") {
            prop_assert_eq!(matches(&p, &t), reference(p.as_bytes(), t.as_bytes()));
        }

        #[test]
        fn literal_patterns_mean_equality(p in "[a-z0-9 .\n-]{0,12}", t in "[a-z0-9 .\n-]{0,12}") {
            prop_assert_eq!(matches(&p, &t), p == t);
        }

        #[test]
        fn star_wrapped_means_contains(needle in "[ab]{0,4}", t in "[abc]{0,12}") {
            let pattern = format!("*{needle}*");
            prop_assert_eq!(matches(&pattern, &t), t.contains(&needle));
        }
    }
}
