//! `{{ … }}` parameter substitution, Argo style. An unknown variable is an error
//! rather than an empty string: a typo in a workflow must not run a command with
//! a blank argument. `{{=expr}}` tags are evaluated by the caller's evaluator.

/// Replaces every `{{ name }}` in `text` with `lookup(name)` and every
/// `{{=expr}}` with `expr_eval(expr)`. Returns the first variable `lookup`
/// does not know, or the expression's error.
pub fn substitute(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    expr_eval: &dyn Fn(&str) -> Result<String, String>,
) -> Result<String, String> {
    if !text.contains("{{") {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let inner = &after[..end];
        let name = inner.trim();
        if let Some(expr) = inner.trim_start().strip_prefix('=') {
            let v = expr_eval(expr).map_err(|e| format!("expression {{{{{name}}}}}: {e}"))?;
            out.push_str(&v);
        } else {
            match lookup(name) {
                Some(v) => out.push_str(&v),
                None => return Err(format!("unresolved variable {{{{{name}}}}}")),
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Every `{{ … }}` tag of `text`: (is an expression, its text without `=`).
pub fn tags(text: &str) -> Vec<(bool, &str)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let inner = after[..end].trim_start();
        match inner.strip_prefix('=') {
            Some(e) => out.push((true, e)),
            None => out.push((false, inner.trim())),
        }
        rest = &after[end + 2..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn look(n: &str) -> Option<String> {
        match n {
            "inputs.parameters.who" => Some("world".into()),
            "workflow.parameters.n" => Some("3".into()),
            _ => None,
        }
    }

    fn no_expr(e: &str) -> Result<String, String> {
        Err(format!("cannot evaluate {e}"))
    }

    #[test]
    fn replaces_known_variables() {
        assert_eq!(
            substitute(
                "hello {{inputs.parameters.who}} x{{ workflow.parameters.n }}",
                &look,
                &no_expr
            )
            .unwrap(),
            "hello world x3"
        );
        assert_eq!(
            substitute("no tags, }} {", &look, &no_expr).unwrap(),
            "no tags, }} {"
        );
    }

    #[test]
    fn expressions_go_to_the_evaluator() {
        let upper = |e: &str| Ok(e.trim().to_uppercase());
        assert_eq!(substitute("a {{= b }} c", &look, &upper).unwrap(), "a B c");
        assert_eq!(
            substitute("{{=x}}", &look, &no_expr).unwrap_err(),
            "expression {{=x}}: cannot evaluate x"
        );
        assert_eq!(tags("{{a}} {{= b}}"), [(false, "a"), (true, " b")]);
    }

    #[test]
    fn unknown_variables_fail() {
        assert_eq!(
            substitute("{{steps.x.outputs.result}}", &look, &no_expr).unwrap_err(),
            "unresolved variable {{steps.x.outputs.result}}"
        );
    }
}
