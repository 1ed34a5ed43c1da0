//! Promotable-path expressions: RFC 9535 JSONPath plus the legacy
//! Codefresh form `$appVersion` (no dot), which means `$.appVersion`.

/// Rewrites the legacy form to RFC 9535; other expressions are returned as is.
pub fn normalize(expr: &str) -> String {
    let e = expr.trim();
    match e.strip_prefix('$') {
        Some(rest) if !rest.is_empty() && !rest.starts_with('.') && !rest.starts_with('[') => {
            format!("$.{rest}")
        }
        _ => e.to_owned(),
    }
}

/// Checks that `expr` (after [`normalize`]) is valid RFC 9535 JSONPath.
pub fn check(expr: &str) -> Result<(), String> {
    let normalized = normalize(expr);
    serde_json_path::JsonPath::parse(&normalized)
        .map(|_| ())
        .map_err(|e| format!("`{expr}` is not a valid JSONPath (RFC 9535): {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_and_standard_forms() {
        assert_eq!(normalize("$appVersion"), "$.appVersion");
        assert_eq!(normalize("$.appVersion"), "$.appVersion");
        assert_eq!(normalize("$..image"), "$..image");
        assert_eq!(
            normalize("$[\"flask-ui\"].image.tag"),
            "$[\"flask-ui\"].image.tag"
        );
        assert!(check("$appVersion").is_ok());
        assert!(check("$.x.*").is_ok());
        assert!(check("$[\"flask-ui\"].image.tag").is_ok());
        assert!(check("$..[?@.tag]").is_ok());
        assert!(check("$.a[").unwrap_err().contains("not a valid JSONPath"));
        assert!(check("image.tag").is_err());
    }
}
