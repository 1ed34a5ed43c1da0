//! The OpenAPI 3 document, maintained by hand next to the router (a
//! generator would add a heavy dependency); the test below keeps the two
//! in step: every route is documented with its path parameters, and the
//! document names no route that does not exist.

pub const DOCUMENT: &str = include_str!("openapi.json");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_lists_exactly_the_routes() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let mut documented = Vec::new();
        for (path, ops) in paths {
            for (method, op) in ops.as_object().unwrap() {
                documented.push((method.clone(), path.clone()));
                // Every `{param}` of the path is declared as a path parameter.
                for seg in path.split('/').filter(|s| s.starts_with('{')) {
                    let name = seg.trim_matches(|c| c == '{' || c == '}');
                    let declared = op["parameters"].as_array().is_some_and(|ps| {
                        ps.iter().any(|p| p["name"] == name && p["in"] == "path")
                    });
                    assert!(
                        declared,
                        "{method} {path}: path parameter {name} undeclared"
                    );
                }
                assert!(
                    op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                    "{method} {path}"
                );
            }
        }
        documented.sort();
        let mut routes: Vec<(String, String)> = crate::api::table()
            .into_iter()
            .map(|(m, p, _)| (m.to_string(), p.to_string()))
            .collect();
        routes.sort();
        assert_eq!(documented, routes);
        // Every schema reference resolves.
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for r in DOCUMENT.match_indices("#/components/schemas/") {
            let rest = &DOCUMENT[r.0 + r.1.len()..];
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric()).collect();
            assert!(schemas.contains_key(&name), "unresolved $ref {name}");
        }
    }
}
