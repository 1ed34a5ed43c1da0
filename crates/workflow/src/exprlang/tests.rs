//! The expressions of Argo's documentation and examples, evaluated.

use std::collections::HashMap;

use super::*;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn text(src: &str, e: &HashMap<String, String>) -> String {
    render(&eval(src, e).unwrap_or_else(|err| panic!("{src}: {err}"))).unwrap()
}

#[test]
fn arithmetic_comparison_and_conditionals() {
    let e = env(&[
        ("inputs.parameters.n", "7"),
        ("inputs.parameters.my-float", "2.5"),
    ]);
    assert_eq!(text("1 + 2 * 3", &e), "7");
    assert_eq!(text("7 / 2", &e), "3.5");
    assert_eq!(text("7 % 4", &e), "3");
    assert_eq!(text("2 ** 10", &e), "1024");
    assert_eq!(text("asInt(inputs.parameters.n) * 10", &e), "70");
    assert_eq!(text("asFloat(inputs.parameters['my-float']) * 2", &e), "5");
    assert_eq!(
        text("asInt(inputs.parameters.n) > 5 ? 'big' : 'small'", &e),
        "big"
    );
    assert_eq!(text("'a' + 'b' == 'ab' && !(1 > 2) || false", &e), "true");
    assert_eq!(
        text("inputs.parameters.missing ?? 'fallback'", &e),
        "fallback"
    );
    assert_eq!(text("'heads' in ['heads', 'tails']", &e), "true");
    assert_eq!(
        text(
            "'imminent node shutdown' matches 'imminent node shutdown|pod deleted'",
            &e
        ),
        "true"
    );
    assert_eq!(text("string(1)", &e), "1");
    assert_eq!(text("len([1, 2, 3])", &e), "3");
}

#[test]
fn argo_examples() {
    // conditional-parameters.yaml: the unchosen branch is not evaluated.
    let e = env(&[
        ("steps.flip-coin.outputs.result", "heads"),
        ("steps.heads.outputs.result", "heads"),
    ]);
    assert_eq!(
        text(
            "steps['flip-coin'].outputs.result == 'heads' ? steps.heads.outputs.result : steps.tails.outputs.result",
            &e
        ),
        "heads"
    );
    // conditionals.yaml
    let e = env(&[
        ("inputs.parameters.should-print", "true"),
        (
            "workflow.parameters.json",
            r#"[{"name":"should-print","value":"true"}]"#,
        ),
    ]);
    assert_eq!(
        text(r#"inputs.parameters["should-print"] == 'true'"#, &e),
        "true"
    );
    assert_eq!(
        text(
            "jsonpath(workflow.parameters.json, '$[0].value') == 'true'",
            &e
        ),
        "true"
    );
    // expression-tag-template-workflow.yaml
    assert_eq!(text("toJson(filter([1, 3], {# > 1}))", &e), "[3]");
    assert_eq!(text("map([1, 2], { # * 2 })", &e), "[2,4]");
    // expression-destructure-json-complex.yaml
    let e = env(&[(
        "workflow.parameters.config",
        r#"{"employees": [{"name": "Baris", "age":43},{"name": "Mo", "age": 42}, {"name": "Jai", "age" :44}]}"#,
    )]);
    assert_eq!(
        text(
            r#"jsonpath(workflow.parameters.config, '$.employees[?(@.name=="Baris")].age')"#,
            &e
        ),
        "[43]"
    );
    assert_eq!(
        text(
            "jsonpath(workflow.parameters.config, '$.employees[?(@.age>42 && @.age<44)].age')",
            &e
        ),
        "[43]"
    );
    assert_eq!(
        text(
            "jsonpath(workflow.parameters.config, '$.employees[0:1]')",
            &e
        ),
        r#"[{"age":43,"name":"Baris"}]"#
    );
    assert_eq!(
        text(
            "jsonpath(workflow.parameters.config, '$.employees[*].name')",
            &e
        ),
        r#"["Baris","Mo","Jai"]"#
    );
    // expression-reusing-verbose-snippets.yaml
    let e = env(&[(
        "workflow.parameters.weather",
        r#"{"weekWeather": "eyJ0ZW1wcyI6IFszNCwgMjcsIDE1LCA1NywgNDZdfQo="}"#,
    )]);
    let src = "map([
                    jsonpath(sprig.b64dec(jsonpath(workflow.parameters.weather, '$.weekWeather')), '$.temps')
                  ], {
                    toJson({
                      avg: sprig.add(#[0], #[1], #[2], #[3], #[4]) / 5,
                      min: sprig.min(#[0], #[1], #[2], #[3], #[4]),
                      max: sprig.max(#[0], #[1], #[2], #[3], #[4])
                    })
                })[0]";
    assert_eq!(text(src, &e), r#"{"avg":35.8,"max":57,"min":15}"#);
    // retry-conditional.yaml
    let e = env(&[
        ("lastRetry.exitCode", "2"),
        ("lastRetry.status", "Failed"),
        ("lastRetry.duration", "3"),
        ("lastRetry.message", ""),
    ]);
    assert!(eval_bool(
        "asInt(lastRetry.exitCode) > 1 && lastRetry.status != \"Error\" && asInt(lastRetry.duration) < 120 && (true == true || lastRetry.message matches 'imminent node shutdown|pod deleted')",
        &e
    )
    .unwrap());
    // life-cycle hooks
    let e = env(&[("steps.step-1.status", "Running")]);
    assert!(eval_bool(r#"steps["step-1"].status == "Running""#, &e).unwrap());
}

#[test]
fn sprig_string_functions() {
    let e = env(&[("inputs.parameters.s", "  Hello World  ")]);
    assert_eq!(text("sprig.trim(inputs.parameters.s)", &e), "Hello World");
    assert_eq!(text("sprig.upper('abc')", &e), "ABC");
    assert_eq!(text("sprig.replace('-', '_', 'a-b-c')", &e), "a_b_c");
    assert_eq!(text("sprig.trimPrefix('v', 'v1.2')", &e), "1.2");
    assert_eq!(text("sprig.b64enc('hi')", &e), "aGk=");
    assert_eq!(text("sprig.int('nope')", &e), "0");
    assert_eq!(text("sprig.snakecase('HelloWorld')", &e), "hello_world");
    assert_eq!(text("sprig.join(',', ['a', 'b'])", &e), "a,b");
    assert_eq!(text("sprig.default('x', '')", &e), "x");
    assert_eq!(
        text("sprig.regexReplaceAll('a(x*)b', '-ab-axxb-', '${1}W')", &e),
        "-W-xxW-"
    );
    assert_eq!(
        text("len(sprig.date('2006', workflow.creationTimestamp))", &e),
        "4"
    );
}

#[test]
fn maps_slices_and_predicates() {
    let e = env(&[("item.a", "1"), ("item.b", "2")]);
    assert_eq!(text("item", &e), r#"{"a":"1","b":"2"}"#);
    assert_eq!(text("keys({x: 1, y: 2})", &e), r#"["x","y"]"#);
    assert_eq!(text("[1,2,3,4][1:3]", &e), "[2,3]");
    assert_eq!(text("'hello'[1:]", &e), "ello");
    assert_eq!(text("all([1, 2], {# > 0})", &e), "true");
    assert_eq!(text("count([1, 2, 3], # > 1)", &e), "2");
    assert_eq!(text("filter([{n: 1}, {n: 5}], .n > 2)[0].n", &e), "5");
    assert_eq!(text("sum([1, 2, 3.5], #)", &e), "6.5");
}

#[test]
fn errors_are_typed_and_name_the_problem() {
    let e = env(&[]);
    assert!(
        eval("1 +", &e)
            .unwrap_err()
            .to_string()
            .starts_with("column 4:")
    );
    assert!(
        eval("'a' - 1", &e)
            .unwrap_err()
            .message
            .contains("invalid operation")
    );
    assert!(eval("1 ? 2 : 3", &e).is_err());
    assert!(eval("asInt('x')", &e).is_err());
    assert!(eval_bool("1", &e).is_err());
    assert_eq!(
        check("sprig.nosuch(1)").unwrap_err().message,
        "unknown function sprig.nosuch"
    );
    assert_eq!(
        check("nosuch(1)").unwrap_err().message,
        "unknown function nosuch"
    );
    assert!(check("filter([1], # > 0) && sprig.trim('a') == 'a'").is_ok());
    assert!(render(&eval("nil", &e).unwrap()).is_err());
    assert!(
        eval("[1][5]", &e)
            .unwrap_err()
            .message
            .contains("out of range")
    );
}
