//! CSRF protection for the UI's forms.
//!
//! Every state-changing form carries a token that a page of another site
//! cannot read: signed-in forms carry the session's own random token
//! (synchroniser pattern); the sign-in form, which has no session yet,
//! carries a random value that must equal a cookie set with the form
//! (double submit), so another site cannot sign a victim in to its own
//! session. Comparisons take constant time.

use axum::http::StatusCode;

use crate::error::ApiError;

/// The form field holding the token.
pub const FIELD: &str = "csrf";
/// Cookie of the sign-in form's double-submit value.
pub const SIGNIN_COOKIE: &str = "ferry_signin";

/// A fresh random token (32 bytes, hex).
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw)?;
    Ok(hex::encode(raw))
}

/// Whether `presented` equals `expected`, without an early exit. An empty
/// expected token never matches.
pub fn matches(expected: &str, presented: &str) -> bool {
    if expected.is_empty() || expected.len() != presented.len() {
        return false;
    }
    expected
        .bytes()
        .zip(presented.bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// The check of a signed-in form: `presented` must be the session's
/// token `expected`, else 403 with a message that says what to do.
pub fn check(expected: &str, presented: &str) -> Result<(), ApiError> {
    if matches(expected, presented) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the form's CSRF token is missing or wrong: reload the page and try again",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_token_matches() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.len(), 64);
        assert!(matches(&a, &a.clone()));
        assert!(!matches(&a, &b));
        assert!(!matches(&a, ""));
        assert!(!matches("", ""));
        assert!(!matches(&a, &a[..63]));
    }
}
