//! `sprig.NAME(…)`: the Sprig template functions Argo puts in expressions
//! (<http://masterminds.github.io/sprig/>), with Sprig's lenient casts
//! (`int` of something that is not a number is 0, as the Argo docs warn).
//! `env`/`expandenv` are left out as on Argo; functions that depend on
//! randomness or the clock other than `date` are not offered.

use std::collections::BTreeMap;

use base64::Engine as _;

use super::value::Value;
use super::{ExprError, eval, gofmt};
use crate::timestamp::Timestamp;

const NAMES: &[&str] = &[
    "trim",
    "trimAll",
    "trimPrefix",
    "trimSuffix",
    "upper",
    "lower",
    "title",
    "untitle",
    "repeat",
    "substr",
    "nospace",
    "trunc",
    "abbrev",
    "initials",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "quote",
    "squote",
    "cat",
    "indent",
    "nindent",
    "replace",
    "snakecase",
    "camelcase",
    "kebabcase",
    "swapcase",
    "plural",
    "toString",
    "toStrings",
    "atoi",
    "int",
    "int64",
    "float64",
    "add",
    "add1",
    "sub",
    "mul",
    "div",
    "mod",
    "max",
    "min",
    "floor",
    "ceil",
    "round",
    "b64enc",
    "b64dec",
    "default",
    "empty",
    "coalesce",
    "ternary",
    "list",
    "first",
    "last",
    "rest",
    "initial",
    "uniq",
    "has",
    "join",
    "splitList",
    "split",
    "sortAlpha",
    "regexMatch",
    "regexFind",
    "regexFindAll",
    "regexReplaceAll",
    "regexReplaceAllLiteral",
    "regexSplit",
    "date",
    "toJson",
    "toPrettyJson",
    "fromJson",
    "dict",
    "get",
    "hasKey",
    "keys",
    "until",
    "len",
];

pub(super) fn exists(name: &str) -> bool {
    NAMES.contains(&name)
}

fn err(m: impl Into<String>) -> ExprError {
    ExprError::msg(m)
}

/// Sprig's `strval`: strings as they are, anything else as `fmt.Sprint`.
fn s(v: &Value) -> String {
    v.to_go_string()
}

/// Sprig's `toInt64` (spf13/cast): invalid input gives 0.
fn i(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Float(f) => *f as i64,
        Value::Bool(b) => *b as i64,
        Value::Str(t) => t
            .trim()
            .parse::<i64>()
            .ok()
            .or_else(|| t.trim().parse::<f64>().ok().map(|f| f as i64))
            .unwrap_or(0),
        _ => 0,
    }
}

fn f(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => *b as i64 as f64,
        Value::Str(t) => t.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

fn empty(v: &Value) -> bool {
    match v {
        Value::Nil => true,
        Value::Bool(b) => !b,
        Value::Int(i) => *i == 0,
        Value::Float(x) => *x == 0.0,
        Value::Str(t) => t.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Map(m) => m.is_empty(),
    }
}

fn list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Nil => Vec::new(),
        other => vec![other.clone()],
    }
}

fn regex(re: &Value) -> Result<regex::Regex, ExprError> {
    regex::Regex::new(&s(re))
        .map_err(|e| err(format!("invalid regular expression {:?}: {e}", s(re))))
}

fn words(t: &str) -> Vec<String> {
    // Splits camelCase, snake_case, kebab-case and spaces into lower-case words.
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = t.chars().collect();
    for (k, c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let boundary = c.is_uppercase()
            && k > 0
            && (chars[k - 1].is_lowercase()
                || chars.get(k + 1).is_some_and(|n| n.is_lowercase())
                    && chars[k - 1].is_uppercase());
        if boundary && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

pub(super) fn call(name: &str, a: &[Value]) -> Result<Value, ExprError> {
    use Value::*;
    let need = |n: usize| -> Result<(), ExprError> {
        if a.len() < n {
            Err(err(format!(
                "sprig.{name} takes {n} argument(s), {} given",
                a.len()
            )))
        } else {
            Ok(())
        }
    };
    let last = |k: usize| -> Result<&Value, ExprError> {
        need(k)?;
        Ok(&a[a.len() - 1])
    };
    Ok(match name {
        "trim" => Str(s(last(1)?).trim().into()),
        "trimAll" => {
            need(2)?;
            let cut = s(&a[0]);
            Str(s(&a[1]).trim_matches(|c| cut.contains(c)).into())
        }
        "trimPrefix" => {
            need(2)?;
            let t = s(&a[1]);
            Str(t.strip_prefix(s(&a[0]).as_str()).unwrap_or(&t).into())
        }
        "trimSuffix" => {
            need(2)?;
            let t = s(&a[1]);
            Str(t.strip_suffix(s(&a[0]).as_str()).unwrap_or(&t).into())
        }
        "upper" => Str(s(last(1)?).to_uppercase()),
        "lower" => Str(s(last(1)?).to_lowercase()),
        "title" => Str(s(last(1)?)
            .split(' ')
            .map(capitalize)
            .collect::<Vec<_>>()
            .join(" ")),
        "untitle" => Str(s(last(1)?)
            .split(' ')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|x| x.to_lowercase().chain(c).collect())
                    .unwrap_or_default()
            })
            .collect::<Vec<String>>()
            .join(" ")),
        "repeat" => {
            need(2)?;
            Str(s(&a[1]).repeat(i(&a[0]).clamp(0, 1_000_000) as usize))
        }
        "substr" => {
            need(3)?;
            let t: Vec<char> = s(&a[2]).chars().collect();
            let (mut st, mut en) = (i(&a[0]), i(&a[1]));
            if st < 0 {
                st = 0;
            }
            if en < 0 || en as usize > t.len() {
                en = t.len() as i64;
            }
            Str(if st < en {
                t[st as usize..en as usize].iter().collect()
            } else {
                String::new()
            })
        }
        "nospace" => Str(s(last(1)?).chars().filter(|c| !c.is_whitespace()).collect()),
        "trunc" => {
            need(2)?;
            let t: Vec<char> = s(&a[1]).chars().collect();
            let n = i(&a[0]);
            Str(if n >= 0 {
                t[..(n as usize).min(t.len())].iter().collect()
            } else {
                t[t.len().saturating_sub(n.unsigned_abs() as usize)..]
                    .iter()
                    .collect()
            })
        }
        "abbrev" => {
            need(2)?;
            let t: Vec<char> = s(&a[1]).chars().collect();
            let w = i(&a[0]).max(0) as usize;
            Str(if t.len() <= w || w < 4 {
                t.iter().collect()
            } else {
                t[..w - 3].iter().collect::<String>() + "..."
            })
        }
        "initials" => Str(s(last(1)?)
            .split_whitespace()
            .filter_map(|w| w.chars().next())
            .collect()),
        "contains" => {
            need(2)?;
            Bool(s(&a[1]).contains(s(&a[0]).as_str()))
        }
        "hasPrefix" => {
            need(2)?;
            Bool(s(&a[1]).starts_with(s(&a[0]).as_str()))
        }
        "hasSuffix" => {
            need(2)?;
            Bool(s(&a[1]).ends_with(s(&a[0]).as_str()))
        }
        "quote" => Str(a
            .iter()
            .filter(|v| **v != Nil)
            .map(|v| format!("{:?}", s(v)))
            .collect::<Vec<_>>()
            .join(" ")),
        "squote" => Str(a
            .iter()
            .filter(|v| **v != Nil)
            .map(|v| format!("'{}'", s(v)))
            .collect::<Vec<_>>()
            .join(" ")),
        "cat" => Str(a
            .iter()
            .filter(|v| **v != Nil)
            .map(s)
            .collect::<Vec<_>>()
            .join(" ")),
        "indent" | "nindent" => {
            need(2)?;
            let pad = " ".repeat(i(&a[0]).clamp(0, 10_000) as usize);
            let body = format!("{pad}{}", s(&a[1]).replace('\n', &format!("\n{pad}")));
            Str(if name == "nindent" {
                format!("\n{body}")
            } else {
                body
            })
        }
        "replace" => {
            need(3)?;
            Str(s(&a[2]).replace(s(&a[0]).as_str(), &s(&a[1])))
        }
        "snakecase" => Str(words(&s(last(1)?)).join("_")),
        "kebabcase" => Str(words(&s(last(1)?)).join("-")),
        "camelcase" => Str(words(&s(last(1)?)).iter().map(|w| capitalize(w)).collect()),
        "swapcase" => Str(s(last(1)?)
            .chars()
            .flat_map(|c| {
                if c.is_uppercase() {
                    c.to_lowercase().collect::<Vec<_>>()
                } else {
                    c.to_uppercase().collect()
                }
            })
            .collect()),
        "plural" => {
            need(3)?;
            Str(if i(&a[2]) == 1 { s(&a[0]) } else { s(&a[1]) })
        }
        "toString" => Str(s(last(1)?)),
        "toStrings" => Array(list(last(1)?).iter().map(|v| Str(s(v))).collect()),
        "atoi" => Int(s(last(1)?).trim().parse().unwrap_or(0)),
        "int" | "int64" => Int(i(last(1)?)),
        "float64" => Float(f(last(1)?)),
        "add" => Int(a.iter().map(i).sum()),
        "add1" => Int(i(last(1)?) + 1),
        "sub" => {
            need(2)?;
            Int(i(&a[0]) - i(&a[1]))
        }
        "mul" => Int(a.iter().map(i).product()),
        "div" | "mod" => {
            need(2)?;
            let d = i(&a[1]);
            if d == 0 {
                return Err(err(format!("sprig.{name}: integer divide by zero")));
            }
            Int(if name == "div" {
                i(&a[0]) / d
            } else {
                i(&a[0]) % d
            })
        }
        "max" => Int(a
            .iter()
            .map(i)
            .max()
            .ok_or_else(|| err("sprig.max: no values"))?),
        "min" => Int(a
            .iter()
            .map(i)
            .min()
            .ok_or_else(|| err("sprig.min: no values"))?),
        "floor" => Float(f(last(1)?).floor()),
        "ceil" => Float(f(last(1)?).ceil()),
        "round" => {
            need(2)?;
            let p = 10f64.powi(i(&a[1]) as i32);
            Float((f(&a[0]) * p).round() / p)
        }
        "b64enc" => Str(base64::engine::general_purpose::STANDARD.encode(s(last(1)?))),
        "b64dec" => {
            let bytes = base64::engine::general_purpose::STANDARD.decode(s(last(1)?));
            // Sprig returns the error text instead of failing.
            Str(match bytes {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) => e.to_string(),
            })
        }
        "default" => {
            need(1)?;
            match a.get(1) {
                Some(v) if !empty(v) => v.clone(),
                _ => a[0].clone(),
            }
        }
        "empty" => Bool(empty(last(1)?)),
        "coalesce" => a.iter().find(|v| !empty(v)).cloned().unwrap_or(Nil),
        "ternary" => {
            need(3)?;
            if a[2] == Bool(true) {
                a[0].clone()
            } else {
                a[1].clone()
            }
        }
        "list" => Array(a.to_vec()),
        "first" => list(last(1)?).first().cloned().unwrap_or(Nil),
        "last" => list(last(1)?).last().cloned().unwrap_or(Nil),
        "rest" => Array(list(last(1)?).into_iter().skip(1).collect()),
        "initial" => {
            let mut l = list(last(1)?);
            l.pop();
            Array(l)
        }
        "uniq" => {
            let mut out: Vec<Value> = Vec::new();
            for v in list(last(1)?) {
                if !out.iter().any(|o| eval::equal(o, &v)) {
                    out.push(v);
                }
            }
            Array(out)
        }
        "has" => {
            need(2)?;
            Bool(list(&a[1]).iter().any(|v| eval::equal(v, &a[0])))
        }
        "join" => {
            need(2)?;
            Str(list(&a[1])
                .iter()
                .map(s)
                .collect::<Vec<_>>()
                .join(&s(&a[0])))
        }
        "splitList" => {
            need(2)?;
            Array(
                s(&a[1])
                    .split(s(&a[0]).as_str())
                    .map(|p| Str(p.into()))
                    .collect(),
            )
        }
        "split" => {
            need(2)?;
            Map(s(&a[1])
                .split(s(&a[0]).as_str())
                .enumerate()
                .map(|(k, p)| (format!("_{k}"), Str(p.into())))
                .collect())
        }
        "sortAlpha" => {
            let mut l: Vec<String> = list(last(1)?).iter().map(s).collect();
            l.sort();
            Array(l.into_iter().map(Str).collect())
        }
        "regexMatch" => {
            need(2)?;
            Bool(regex(&a[0])?.is_match(&s(&a[1])))
        }
        "regexFind" => {
            need(2)?;
            Str(regex(&a[0])?
                .find(&s(&a[1]))
                .map(|m| m.as_str().to_string())
                .unwrap_or_default())
        }
        "regexFindAll" => {
            need(3)?;
            let n = i(&a[2]);
            let t = s(&a[1]);
            let all = regex(&a[0])?
                .find_iter(&t)
                .map(|m| Str(m.as_str().into()))
                .collect::<Vec<_>>();
            Array(if n < 0 {
                all
            } else {
                all.into_iter().take(n as usize).collect()
            })
        }
        "regexReplaceAll" | "regexReplaceAllLiteral" => {
            need(3)?;
            let re = regex(&a[0])?;
            let t = s(&a[1]);
            let rep = s(&a[2]);
            Str(if name == "regexReplaceAll" {
                // Go's `${1}` and `$1` expansion matches the regex crate's.
                re.replace_all(&t, rep.as_str()).into_owned()
            } else {
                re.replace_all(&t, regex::NoExpand(&rep)).into_owned()
            })
        }
        "regexSplit" => {
            need(3)?;
            let n = i(&a[2]);
            let t = s(&a[1]);
            let re = regex(&a[0])?;
            Array(if n < 0 {
                re.split(&t).map(|p| Str(p.into())).collect()
            } else {
                re.splitn(&t, n as usize).map(|p| Str(p.into())).collect()
            })
        }
        "date" => {
            need(2)?;
            // Sprig formats time values; given anything else (Argo's
            // timestamps are strings) it formats the current time. UTC here.
            let when = match &a[1] {
                Int(secs) => Timestamp::from(
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs((*secs).max(0) as u64),
                ),
                _ => Timestamp::now(),
            };
            Str(gofmt::format_go_layout(&s(&a[0]), when))
        }
        "toJson" => Str(last(1)?.to_go_json()),
        "toPrettyJson" => {
            Str(serde_json::to_string_pretty(&last(1)?.to_json())
                .map_err(|e| err(e.to_string()))?)
        }
        "fromJson" => {
            Value::from_json(&serde_json::from_str(&s(last(1)?)).unwrap_or(serde_json::Value::Null))
        }
        "dict" => {
            let mut m = BTreeMap::new();
            for pair in a.chunks(2) {
                m.insert(
                    s(&pair[0]),
                    pair.get(1).cloned().unwrap_or(Str(String::new())),
                );
            }
            Map(m)
        }
        "get" => {
            need(2)?;
            match &a[0] {
                Map(m) => m.get(&s(&a[1])).cloned().unwrap_or(Str(String::new())),
                _ => Str(String::new()),
            }
        }
        "hasKey" => {
            need(2)?;
            Bool(matches!(&a[0], Map(m) if m.contains_key(&s(&a[1]))))
        }
        "keys" => {
            let mut out = Vec::new();
            for d in a {
                if let Map(m) = d {
                    out.extend(m.keys().map(|k| Str(k.clone())));
                }
            }
            Array(out)
        }
        "until" => Array((0..i(last(1)?).clamp(0, 100_000)).map(Int).collect()),
        "len" => Int(match last(1)? {
            Str(t) => t.len(),
            Array(l) => l.len(),
            Map(m) => m.len(),
            _ => 0,
        } as i64),
        other => return Err(err(format!("unknown function sprig.{other}"))),
    })
}
