//! Database URLs: which backend they name, and their printable form.

/// The backend a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

impl BackendKind {
    pub fn of(url: &str) -> Option<BackendKind> {
        if url.starts_with("sqlite:") {
            Some(BackendKind::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(BackendKind::Postgres)
        } else {
            None
        }
    }
}

/// The URL with any password replaced by `***`, for logs and errors:
/// `postgres://ferry:secret@db/ferry` → `postgres://ferry:***@db/ferry`.
/// A `password=` query parameter is masked too.
pub fn redact(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                let from = rest_start + colon + 1;
                out.replace_range(from..rest_start + at, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let masked: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out = format!("{head}{}", masked.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(
            BackendKind::of("sqlite::memory:"),
            Some(BackendKind::Sqlite)
        );
        assert_eq!(
            BackendKind::of("sqlite:///data/ferry.db?mode=rwc"),
            Some(BackendKind::Sqlite)
        );
        assert_eq!(
            BackendKind::of("postgres://h/db"),
            Some(BackendKind::Postgres)
        );
        assert_eq!(
            BackendKind::of("postgresql://h/db"),
            Some(BackendKind::Postgres)
        );
        assert_eq!(BackendKind::of("mysql://h/db"), None);
    }

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            redact("postgres://ferry:s3cr%40t@db:5432/ferry?sslmode=disable"),
            "postgres://ferry:***@db:5432/ferry?sslmode=disable"
        );
        assert_eq!(
            redact("postgres://ferry@db/ferry"),
            "postgres://ferry@db/ferry"
        );
        assert_eq!(
            redact("postgres://db/ferry?user=a&password=hunter2"),
            "postgres://db/ferry?user=a&password=***"
        );
        assert_eq!(
            redact("sqlite:///tmp/x.db?mode=rwc"),
            "sqlite:///tmp/x.db?mode=rwc"
        );
    }
}
