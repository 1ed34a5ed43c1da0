//! expr-lang's common built-ins and the functions Argo adds (`asInt`,
//! `asFloat`, `toJson`, `jsonpath`).

use base64::Engine as _;

use super::value::Value;
use super::{ExprError, eval};

const NAMES: &[&str] = &[
    "len",
    "abs",
    "ceil",
    "floor",
    "round",
    "int",
    "float",
    "string",
    "asInt",
    "asFloat",
    "toJSON",
    "toJson",
    "fromJSON",
    "jsonpath",
    "trim",
    "trimPrefix",
    "trimSuffix",
    "upper",
    "lower",
    "split",
    "join",
    "replace",
    "repeat",
    "indexOf",
    "lastIndexOf",
    "hasPrefix",
    "hasSuffix",
    "toBase64",
    "fromBase64",
    "keys",
    "values",
    "first",
    "last",
    "max",
    "min",
    "reverse",
    "uniq",
    "concat",
    "flatten",
    "type",
];

pub(super) fn exists(name: &str) -> bool {
    NAMES.contains(&name)
}

fn err(m: impl Into<String>) -> ExprError {
    ExprError::msg(m)
}

fn arity(name: &str, args: &[Value], n: usize) -> Result<(), ExprError> {
    if args.len() == n {
        Ok(())
    } else {
        Err(err(format!(
            "{name} takes {n} argument(s), {} given",
            args.len()
        )))
    }
}

fn string_arg<'a>(name: &str, v: &'a Value) -> Result<&'a str, ExprError> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(err(format!(
            "{name}: expected a string, got {}",
            other.type_name()
        ))),
    }
}

/// expr's `int()` / Argo's `asInt()`: numbers truncated, strings parsed.
pub(super) fn to_int(name: &str, v: &Value) -> Result<i64, ExprError> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Float(f) => Ok(f.trunc() as i64),
        Value::Str(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| err(format!("{name}: {s:?} is not an integer"))),
        other => Err(err(format!(
            "{name}: cannot convert {} to int",
            other.type_name()
        ))),
    }
}

pub(super) fn to_float(name: &str, v: &Value) -> Result<f64, ExprError> {
    match v {
        Value::Int(i) => Ok(*i as f64),
        Value::Float(f) => Ok(*f),
        Value::Str(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| err(format!("{name}: {s:?} is not a number"))),
        other => Err(err(format!(
            "{name}: cannot convert {} to float",
            other.type_name()
        ))),
    }
}

/// Argo's `jsonpath(json, path)`: the matched value for a path that names
/// one place (`$.a.b`, `$[0].value`), the list of matches otherwise.
pub(crate) fn jsonpath(json: &str, path: &str) -> Result<Value, ExprError> {
    let doc: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| err(format!("jsonpath: the first argument is not JSON: {e}")))?;
    let query = serde_json_path::JsonPath::parse(path)
        .map_err(|e| err(format!("jsonpath: invalid path {path:?}: {e}")))?;
    let nodes = query.query(&doc).all();
    let singular = !path.contains(['*', '?', ':', ',']) && !path.contains("..");
    if singular {
        return nodes
            .first()
            .map(|v| Value::from_json(v))
            .ok_or_else(|| err(format!("jsonpath: {path:?} matched nothing")));
    }
    Ok(Value::Array(
        nodes.into_iter().map(Value::from_json).collect(),
    ))
}

pub(super) fn call(name: &str, args: &[Value]) -> Result<Value, ExprError> {
    use Value::*;
    Ok(match name {
        "len" => {
            arity(name, args, 1)?;
            Int(match &args[0] {
                Str(s) => s.chars().count(),
                Array(a) => a.len(),
                Map(m) => m.len(),
                other => {
                    return Err(err(format!(
                        "len: invalid argument of type {}",
                        other.type_name()
                    )));
                }
            } as i64)
        }
        "abs" | "ceil" | "floor" | "round" => {
            arity(name, args, 1)?;
            match (&args[0], name) {
                (Int(i), "abs") => Int(i.abs()),
                (Int(i), _) => Float(*i as f64),
                (v, _) => {
                    let f = to_float(name, v)?;
                    Float(match name {
                        "abs" => f.abs(),
                        "ceil" => f.ceil(),
                        "floor" => f.floor(),
                        _ => f.round(),
                    })
                }
            }
        }
        "int" | "asInt" => {
            arity(name, args, 1)?;
            Int(to_int(name, &args[0])?)
        }
        "float" | "asFloat" => {
            arity(name, args, 1)?;
            Float(to_float(name, &args[0])?)
        }
        "string" => {
            arity(name, args, 1)?;
            Str(args[0].to_go_string())
        }
        "type" => {
            arity(name, args, 1)?;
            Str(args[0].type_name().into())
        }
        "toJson" => {
            arity(name, args, 1)?;
            Str(args[0].to_go_json())
        }
        "toJSON" => {
            arity(name, args, 1)?;
            Str(serde_json::to_string_pretty(&args[0].to_json()).map_err(|e| err(e.to_string()))?)
        }
        "fromJSON" => {
            arity(name, args, 1)?;
            let s = string_arg(name, &args[0])?;
            Value::from_json(&serde_json::from_str(s).map_err(|e| err(format!("fromJSON: {e}")))?)
        }
        "jsonpath" => {
            arity(name, args, 2)?;
            jsonpath(string_arg(name, &args[0])?, string_arg(name, &args[1])?)?
        }
        "trim" | "trimPrefix" | "trimSuffix" => {
            let s = string_arg(name, args.first().unwrap_or(&Nil))?;
            match (name, args.get(1)) {
                ("trim", None) => Str(s.trim().into()),
                ("trim", Some(c)) => {
                    let cut = string_arg(name, c)?;
                    Str(s.trim_matches(|ch| cut.contains(ch)).into())
                }
                ("trimPrefix", Some(p)) => {
                    Str(s.strip_prefix(string_arg(name, p)?).unwrap_or(s).into())
                }
                ("trimSuffix", Some(p)) => {
                    Str(s.strip_suffix(string_arg(name, p)?).unwrap_or(s).into())
                }
                _ => return Err(err(format!("{name} takes 2 arguments"))),
            }
        }
        "upper" | "lower" => {
            arity(name, args, 1)?;
            let s = string_arg(name, &args[0])?;
            Str(if name == "upper" {
                s.to_uppercase()
            } else {
                s.to_lowercase()
            })
        }
        "split" => {
            let s = string_arg(name, args.first().unwrap_or(&Nil))?;
            let sep = string_arg(name, args.get(1).unwrap_or(&Nil))?;
            Array(s.split(sep).map(|p| Str(p.into())).collect())
        }
        "join" => {
            let Some(Array(items)) = args.first() else {
                return Err(err("join: expected a list"));
            };
            let sep = match args.get(1) {
                Some(v) => string_arg(name, v)?,
                None => "",
            };
            Str(items
                .iter()
                .map(Value::to_go_string)
                .collect::<Vec<_>>()
                .join(sep))
        }
        "replace" => {
            arity(name, args, 3)?;
            let s = string_arg(name, &args[0])?;
            Str(s.replace(string_arg(name, &args[1])?, string_arg(name, &args[2])?))
        }
        "repeat" => {
            arity(name, args, 2)?;
            let n = to_int(name, &args[1])?;
            Str(string_arg(name, &args[0])?.repeat(n.clamp(0, 1_000_000) as usize))
        }
        "indexOf" | "lastIndexOf" => {
            arity(name, args, 2)?;
            let s = string_arg(name, &args[0])?;
            let t = string_arg(name, &args[1])?;
            let found = if name == "indexOf" {
                s.find(t)
            } else {
                s.rfind(t)
            };
            Int(found.map(|b| s[..b].chars().count() as i64).unwrap_or(-1))
        }
        "hasPrefix" | "hasSuffix" => {
            arity(name, args, 2)?;
            let s = string_arg(name, &args[0])?;
            let t = string_arg(name, &args[1])?;
            Bool(if name == "hasPrefix" {
                s.starts_with(t)
            } else {
                s.ends_with(t)
            })
        }
        "toBase64" => {
            arity(name, args, 1)?;
            Str(base64::engine::general_purpose::STANDARD.encode(string_arg(name, &args[0])?))
        }
        "fromBase64" => {
            arity(name, args, 1)?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(string_arg(name, &args[0])?)
                .map_err(|e| err(format!("fromBase64: {e}")))?;
            Str(String::from_utf8_lossy(&bytes).into_owned())
        }
        "keys" | "values" => {
            arity(name, args, 1)?;
            let Map(m) = &args[0] else {
                return Err(err(format!(
                    "{name}: expected a map, got {}",
                    args[0].type_name()
                )));
            };
            Array(if name == "keys" {
                m.keys().map(|k| Str(k.clone())).collect()
            } else {
                m.values().cloned().collect()
            })
        }
        "first" | "last" => {
            arity(name, args, 1)?;
            match &args[0] {
                Array(a) => (if name == "first" { a.first() } else { a.last() })
                    .cloned()
                    .unwrap_or(Nil),
                other => {
                    return Err(err(format!(
                        "{name}: expected a list, got {}",
                        other.type_name()
                    )));
                }
            }
        }
        "max" | "min" => {
            let items: Vec<Value> = match args {
                [Array(a)] => a.clone(),
                _ => args.to_vec(),
            };
            let mut best: Option<Value> = None;
            for v in items {
                best = Some(match best {
                    None => v,
                    Some(b) => {
                        let o = eval::compare(&v, &b)?;
                        if (name == "max" && o.is_gt()) || (name == "min" && o.is_lt()) {
                            v
                        } else {
                            b
                        }
                    }
                });
            }
            best.ok_or_else(|| err(format!("{name}: no values")))?
        }
        "reverse" => match args {
            [Array(a)] => Array(a.iter().rev().cloned().collect()),
            _ => return Err(err("reverse: expected a list")),
        },
        "uniq" => match args {
            [Array(a)] => {
                let mut out: Vec<Value> = Vec::new();
                for v in a {
                    if !out.iter().any(|o| eval::equal(o, v)) {
                        out.push(v.clone());
                    }
                }
                Array(out)
            }
            _ => return Err(err("uniq: expected a list")),
        },
        "concat" => {
            let mut out = Vec::new();
            for a in args {
                match a {
                    Array(items) => out.extend(items.iter().cloned()),
                    other => {
                        return Err(err(format!(
                            "concat: expected lists, got {}",
                            other.type_name()
                        )));
                    }
                }
            }
            Array(out)
        }
        "flatten" => match args {
            [Array(a)] => {
                fn flat(v: &[Value], out: &mut Vec<Value>) {
                    for i in v {
                        match i {
                            Value::Array(inner) => flat(inner, out),
                            other => out.push(other.clone()),
                        }
                    }
                }
                let mut out = Vec::new();
                flat(a, &mut out);
                Array(out)
            }
            _ => return Err(err("flatten: expected a list")),
        },
        other => return Err(err(format!("unknown function {other}"))),
    })
}
