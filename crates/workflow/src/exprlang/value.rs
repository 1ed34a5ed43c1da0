//! Values of expressions and their conversions to and from JSON, written
//! the way Go's `encoding/json` and `fmt` write them (what Argo produces).

use std::collections::BTreeMap;

/// A value of an expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Array(Vec<Value>),
    Map(BTreeMap<String, Value>),
}

impl Value {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Array(_) => "array",
            Value::Map(_) => "map",
        }
    }

    pub(crate) fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::Str(s.clone()),
            serde_json::Value::Array(a) => Value::Array(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(m) => Value::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    pub(crate) fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Nil => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Int(i) => (*i).into(),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Str(s) => s.clone().into(),
            Value::Array(a) => a.iter().map(Value::to_json).collect(),
            Value::Map(m) => {
                serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }

    /// Compact JSON as Go's `json.Marshal` writes it: keys sorted, floats in
    /// their shortest form (`35.8`, `3`, `1e+21`), and `<`, `>`, `&` escaped.
    pub(crate) fn to_go_json(&self) -> String {
        let mut out = String::new();
        self.write_go_json(&mut out);
        out
    }

    fn write_go_json(&self, out: &mut String) {
        match self {
            Value::Nil => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::Float(f) => out.push_str(&go_json_float(*f)),
            Value::Str(s) => {
                let quoted = serde_json::Value::String(s.clone()).to_string();
                out.push_str(
                    &quoted
                        .replace('<', "\\u003c")
                        .replace('>', "\\u003e")
                        .replace('&', "\\u0026")
                        .replace('\u{2028}', "\\u2028")
                        .replace('\u{2029}', "\\u2029"),
                );
            }
            Value::Array(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write_go_json(out);
                }
                out.push(']');
            }
            Value::Map(m) => {
                out.push('{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    Value::Str(k.clone()).write_go_json(out);
                    out.push(':');
                    v.write_go_json(out);
                }
                out.push('}');
            }
        }
    }

    /// The text Go's `fmt.Sprint` gives (`string(x)` in expr, sprig's `toString`).
    pub(crate) fn to_go_string(&self) -> String {
        match self {
            Value::Nil => "<nil>".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => go_g_float(*f),
            Value::Str(s) => s.clone(),
            Value::Array(a) => format!(
                "[{}]",
                a.iter()
                    .map(Value::to_go_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Value::Map(m) => format!(
                "map[{}]",
                m.iter()
                    .map(|(k, v)| format!("{k}:{}", v.to_go_string()))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        }
    }
}

/// Go's JSON float form: shortest digits, exponent only below 1e-6 or from 1e21.
fn go_json_float(f: f64) -> String {
    if !f.is_finite() {
        return "null".into();
    }
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        go_exponent(format!("{f:e}"))
    } else {
        format!("{f}")
    }
}

/// Go's `%v` for floats (`strconv.FormatFloat(f, 'g', -1, 64)`): exponent
/// when it is below -4 or at least 21.
fn go_g_float(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".into()
        } else if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let a = f.abs();
    if a != 0.0 && !(1e-4..1e21).contains(&a) {
        go_exponent(format!("{f:e}"))
    } else {
        format!("{f}")
    }
}

/// `1.5e-7` → `1.5e-07`, `1e21` → `1e+21` (Go writes at least two exponent digits).
fn go_exponent(rust: String) -> String {
    let Some((mant, exp)) = rust.split_once('e') else {
        return rust;
    };
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    format!("{mant}e{sign}{digits:0>2}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_like_go() {
        let v = Value::Map(BTreeMap::from([
            ("min".into(), Value::Int(15)),
            ("avg".into(), Value::Float(35.8)),
            ("s".into(), Value::Str("<a&b>".into())),
        ]));
        assert_eq!(
            v.to_go_json(),
            r#"{"avg":35.8,"min":15,"s":"\u003ca\u0026b\u003e"}"#
        );
        assert_eq!(Value::Float(3.0).to_go_json(), "3");
        assert_eq!(Value::Float(1e21).to_go_json(), "1e+21");
        assert_eq!(Value::Float(1.5e-7).to_go_json(), "1.5e-07");
        assert_eq!(Value::Float(0.5).to_go_string(), "0.5");
        assert_eq!(
            Value::Array(vec![Value::Int(1), Value::Str("a".into())]).to_go_string(),
            "[1 a]"
        );
    }
}
