//! `{{ … }}` parameter substitution, Argo style. An unknown variable is an error
//! rather than an empty string: a typo in a workflow must not run a command with
//! a blank argument.

/// Replaces every `{{ name }}` in `text` with `lookup(name)`. Returns the name of
/// the first variable `lookup` does not know, or the first `{{=expr}}` tag.
pub fn substitute(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = after[..end].trim();
        if name.starts_with('=') {
            return Err(format!(
                "expression tag {{{{{name}}}}} is not supported by the local executor"
            ));
        }
        match lookup(name) {
            Some(v) => out.push_str(&v),
            None => return Err(format!("unresolved variable {{{{{name}}}}}")),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
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

    #[test]
    fn replaces_known_variables() {
        assert_eq!(
            substitute(
                "hello {{inputs.parameters.who}} x{{ workflow.parameters.n }}",
                &look
            )
            .unwrap(),
            "hello world x3"
        );
        assert_eq!(substitute("no tags, }} {", &look).unwrap(), "no tags, }} {");
    }

    #[test]
    fn unknown_and_expression_tags_fail() {
        assert_eq!(
            substitute("{{steps.x.outputs.result}}", &look).unwrap_err(),
            "unresolved variable {{steps.x.outputs.result}}"
        );
        assert!(
            substitute("{{=sprig.upper('a')}}", &look)
                .unwrap_err()
                .contains("expression tag")
        );
    }
}
