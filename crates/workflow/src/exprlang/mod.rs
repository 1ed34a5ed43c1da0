//! `{{=…}}` expressions, `valueFrom.expression`, `retryStrategy.expression`
//! and hook expressions: the part of expr-lang (<https://expr-lang.org>)
//! Argo Workflows documents — literals, arithmetic, comparison, `&&`/`||`/`!`,
//! `?:`, `??`, `in`, `matches`, `contains`, `startsWith`/`endsWith`, member
//! and index access (`steps['flip-coin'].outputs.result`), slices, predicates
//! (`filter(list, {# > 1})`, `map`, `all` …), expr's common built-ins, Argo's
//! `asInt`, `asFloat`, `toJson` and `jsonpath`, and the `sprig.*` functions.
//!
//! Hand-written: expr-lang is a Go library and no Rust crate implements its
//! language (the Rust "expr" crates are other languages with other
//! semantics), so this evaluator follows expr-lang's documented grammar,
//! operator precedences and typing (`/` always gives a float, `+` joins
//! strings and lists …). Variables are Argo's flat names (`inputs.parameters.x`)
//! resolved lazily through [`Env`], so `steps.a.outputs.result` needs no
//! nested map to be built for every evaluation.

mod eval;
mod funcs;
mod gofmt;
mod lex;
mod parse;
mod sprig;
mod value;

use std::collections::HashMap;
use std::fmt;

pub(crate) use gofmt::{format_go_layout, sprintf_int};
pub(crate) use parse::parse;
pub(crate) use value::Value;

/// What went wrong in an expression, and where (1-based column; 0 when the
/// problem is not tied to a place, e.g. a runtime type error).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) struct ExprError {
    pub(crate) col: usize,
    pub(crate) message: String,
}

impl ExprError {
    pub(crate) fn at(col: usize, message: impl Into<String>) -> Self {
        ExprError {
            col,
            message: message.into(),
        }
    }
    pub(crate) fn msg(message: impl Into<String>) -> Self {
        Self::at(0, message)
    }
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.col > 0 {
            write!(f, "column {}: {}", self.col, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

/// The variables an expression can read, by Argo's flat dotted names.
pub(crate) trait Env {
    /// The value of `path` (`inputs.parameters.x`), if the scope has it.
    fn get(&self, path: &str) -> Option<Value>;
    /// Every variable whose name starts with `prefix.`, as (rest of the name,
    /// value): what a map-valued access such as `inputs.parameters` sees.
    fn children(&self, prefix: &str) -> Vec<(String, Value)>;
}

impl Env for HashMap<String, String> {
    fn get(&self, path: &str) -> Option<Value> {
        HashMap::get(self, path).map(|v| Value::Str(v.clone()))
    }
    fn children(&self, prefix: &str) -> Vec<(String, Value)> {
        let p = format!("{prefix}.");
        self.iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(&p)
                    .map(|r| (r.to_string(), Value::Str(v.clone())))
            })
            .collect()
    }
}

/// Parses and evaluates `src`.
pub(crate) fn eval(src: &str, env: &dyn Env) -> Result<Value, ExprError> {
    eval::eval(&parse(src)?, env)
}

/// Parses and evaluates `src` as a condition: it must give a boolean.
#[cfg(test)]
pub(crate) fn eval_bool(src: &str, env: &dyn Env) -> Result<bool, ExprError> {
    match eval(src, env)? {
        Value::Bool(b) => Ok(b),
        other => Err(ExprError::msg(format!(
            "expected a boolean, the expression gave {}",
            other.type_name()
        ))),
    }
}

/// Checks the syntax and the function names, without evaluating.
pub(crate) fn check(src: &str) -> Result<(), ExprError> {
    let node = parse(src)?;
    eval::check_functions(&node)
}

/// The text a `{{=…}}` tag is replaced with, as Argo writes it: strings as
/// they are, numbers and booleans as JSON, lists and maps as compact JSON.
/// A nil result is an error (Argo leaves such a tag unresolved and the step
/// fails on it).
pub(crate) fn render(v: &Value) -> Result<String, ExprError> {
    match v {
        Value::Nil => Err(ExprError::msg("the expression evaluated to nil")),
        Value::Str(s) => Ok(s.clone()),
        other => Ok(other.to_go_json()),
    }
}

#[cfg(test)]
mod tests;
