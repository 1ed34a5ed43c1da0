/// Hides the credentials of a URL (`https://user:token@host/…` →
/// `https://***@host/…`) so it can appear in logs and errors.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}://***@{}", &url[..scheme_end], &rest[at + 1..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redacts_userinfo_only() {
        assert_eq!(redact_url("https://x:tok@h/a.git"), "https://***@h/a.git");
        assert_eq!(redact_url("https://tok@h/a@b.git"), "https://***@h/a@b.git");
        assert_eq!(redact_url("https://h/a.git"), "https://h/a.git");
        assert_eq!(
            redact_url("git@github.com:a/b.git"),
            "git@github.com:a/b.git"
        );
        assert_eq!(redact_url("/local/path"), "/local/path");
    }
}
