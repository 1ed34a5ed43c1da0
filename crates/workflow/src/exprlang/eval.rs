//! Evaluation of the syntax tree against an [`Env`].

use std::collections::BTreeMap;

use super::parse::Node;
use super::value::Value;
use super::{Env, ExprError, funcs, sprig};

/// A value, or a variable name not looked up yet: member access on a
/// variable extends its name (`steps` → `steps.a` → `steps.a.outputs`),
/// and only using it looks it up.
enum V {
    Val(Value),
    Path(String),
}

struct Ctx<'a> {
    env: &'a dyn Env,
    /// `#` and `#index` of the predicates being evaluated, innermost last.
    pound: Vec<(Value, usize)>,
}

pub(super) fn eval(node: &Node, env: &dyn Env) -> Result<Value, ExprError> {
    Ctx {
        env,
        pound: Vec::new(),
    }
    .val(node)
}

/// Every function the tree calls exists (checked before a run starts).
pub(super) fn check_functions(node: &Node) -> Result<(), ExprError> {
    let mut result = Ok(());
    walk(node, &mut |n| {
        if let Node::Call { name, sprig: s, .. } = n
            && result.is_ok()
        {
            let known = if *s {
                sprig::exists(name)
            } else {
                funcs::exists(name) || PREDICATES.contains(&name.as_str())
            };
            if !known {
                result = Err(ExprError::msg(format!(
                    "unknown function {}{name}",
                    if *s { "sprig." } else { "" }
                )));
            }
        }
    });
    result
}

fn walk(node: &Node, f: &mut dyn FnMut(&Node)) {
    f(node);
    match node {
        Node::Array(items) => items.iter().for_each(|i| walk(i, f)),
        Node::Map(entries) => entries.iter().for_each(|(k, v)| {
            walk(k, f);
            walk(v, f)
        }),
        Node::Member { obj, prop, .. } => {
            walk(obj, f);
            walk(prop, f)
        }
        Node::Slice { obj, from, to } => {
            walk(obj, f);
            from.iter().chain(to).for_each(|n| walk(n, f))
        }
        Node::Call { args, .. } => args.iter().for_each(|a| walk(a, f)),
        Node::Closure(b) | Node::Unary(_, b) => walk(b, f),
        Node::Binary(_, a, b) => {
            walk(a, f);
            walk(b, f)
        }
        Node::Cond(a, b, c) => {
            walk(a, f);
            walk(b, f);
            walk(c, f)
        }
        _ => {}
    }
}

use super::parse::PREDICATE_FUNCS as PREDICATES;

fn err(message: impl Into<String>) -> ExprError {
    ExprError::msg(message)
}

impl Ctx<'_> {
    fn val(&mut self, n: &Node) -> Result<Value, ExprError> {
        let v = self.ev(n)?;
        Ok(self.resolve(v))
    }

    fn resolve(&self, v: V) -> Value {
        match v {
            V::Val(v) => v,
            V::Path(p) => {
                if let Some(v) = self.env.get(&p) {
                    return v;
                }
                let children = self.env.children(&p);
                if children.is_empty() {
                    return Value::Nil;
                }
                let mut root = BTreeMap::new();
                for (rest, value) in children {
                    insert_nested(&mut root, &rest, value);
                }
                Value::Map(root)
            }
        }
    }

    fn ev(&mut self, n: &Node) -> Result<V, ExprError> {
        Ok(V::Val(match n {
            Node::Nil => Value::Nil,
            Node::Bool(b) => Value::Bool(*b),
            Node::Int(i) => Value::Int(*i),
            Node::Float(f) => Value::Float(*f),
            Node::Str(s) => Value::Str(s.clone()),
            Node::Ident(name) => return Ok(V::Path(name.clone())),
            Node::Pound(name) => {
                let (item, index) = self
                    .pound
                    .last()
                    .ok_or_else(|| err(format!("#{name} is only defined inside a predicate")))?;
                match name.as_str() {
                    "" => item.clone(),
                    "index" => Value::Int(*index as i64),
                    other => return Err(err(format!("unknown variable #{other}"))),
                }
            }
            Node::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| self.val(i))
                    .collect::<Result<_, _>>()?,
            ),
            Node::Map(entries) => {
                let mut m = BTreeMap::new();
                for (k, v) in entries {
                    let key = match self.val(k)? {
                        Value::Str(s) => s,
                        other => other.to_go_string(),
                    };
                    m.insert(key, self.val(v)?);
                }
                Value::Map(m)
            }
            Node::Member {
                obj,
                prop,
                optional,
            } => {
                let base = self.ev(obj)?;
                let key = self.val(prop)?;
                if let (V::Path(p), Value::Str(k)) = (&base, &key) {
                    return Ok(V::Path(format!("{p}.{k}")));
                }
                let base = self.resolve(base);
                return member(base, &key, *optional).map(V::Val);
            }
            Node::Slice { obj, from, to } => {
                let base = self.val(obj)?;
                let from = from.as_ref().map(|f| self.val(f)).transpose()?;
                let to = to.as_ref().map(|t| self.val(t)).transpose()?;
                slice(base, from, to)?
            }
            Node::Closure(_) => {
                return Err(err("a predicate is only allowed as a function argument"));
            }
            Node::Unary(op, operand) => {
                let v = self.val(operand)?;
                match (*op, v) {
                    ("!", Value::Bool(b)) => Value::Bool(!b),
                    ("-", Value::Int(i)) => Value::Int(-i),
                    ("-", Value::Float(f)) => Value::Float(-f),
                    ("+", v @ (Value::Int(_) | Value::Float(_))) => v,
                    (op, v) => {
                        return Err(err(format!("invalid operation: {op}{}", v.type_name())));
                    }
                }
            }
            Node::Binary(op, a, b) => self.binary(op, a, b)?,
            Node::Cond(c, yes, no) => match self.val(c)? {
                Value::Bool(true) => self.val(yes)?,
                Value::Bool(false) => self.val(no)?,
                other => {
                    return Err(err(format!(
                        "the condition of ?: must be a boolean, not {}",
                        other.type_name()
                    )));
                }
            },
            Node::Call {
                name,
                sprig: true,
                args,
            } => {
                let args = args
                    .iter()
                    .map(|a| self.val(a))
                    .collect::<Result<Vec<_>, _>>()?;
                sprig::call(name, &args)?
            }
            Node::Call { name, args, .. } => {
                if PREDICATES.contains(&name.as_str()) {
                    self.predicate(name, args)?
                } else {
                    let args = args
                        .iter()
                        .map(|a| self.val(a))
                        .collect::<Result<Vec<_>, _>>()?;
                    funcs::call(name, &args)?
                }
            }
        }))
    }

    fn binary(&mut self, op: &str, a: &Node, b: &Node) -> Result<Value, ExprError> {
        match op {
            "&&" | "||" => {
                let left = match self.val(a)? {
                    Value::Bool(x) => x,
                    other => {
                        return Err(err(format!(
                            "invalid operation: {} {op} …",
                            other.type_name()
                        )));
                    }
                };
                if (op == "&&" && !left) || (op == "||" && left) {
                    return Ok(Value::Bool(left));
                }
                return match self.val(b)? {
                    Value::Bool(y) => Ok(Value::Bool(y)),
                    other => Err(err(format!(
                        "invalid operation: bool {op} {}",
                        other.type_name()
                    ))),
                };
            }
            "??" => {
                let left = self.ev(a);
                return match left.map(|l| self.resolve(l)) {
                    Ok(Value::Nil) | Err(_) => self.val(b),
                    Ok(v) => Ok(v),
                };
            }
            _ => {}
        }
        let x = self.val(a)?;
        let y = self.val(b)?;
        binary_values(op, x, y)
    }

    fn predicate(&mut self, name: &str, args: &[Node]) -> Result<Value, ExprError> {
        let [list, Node::Closure(body), rest @ ..] = args else {
            return Err(err(format!("{name} takes a list and a predicate")));
        };
        let items = match self.val(list)? {
            Value::Array(a) => a,
            Value::Nil => Vec::new(),
            Value::Map(m) => m.into_values().collect(),
            other => {
                return Err(err(format!(
                    "{name}: cannot iterate over {}",
                    other.type_name()
                )));
            }
        };
        let mut results = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            self.pound.push((item.clone(), i));
            let r = self.val(body);
            self.pound.pop();
            results.push(r?);
        }
        let truth = |v: &Value| -> Result<bool, ExprError> {
            match v {
                Value::Bool(b) => Ok(*b),
                other => Err(err(format!(
                    "{name}: the predicate gave {}, not a boolean",
                    other.type_name()
                ))),
            }
        };
        let _ = rest;
        let truths = || results.iter().map(truth).collect::<Result<Vec<bool>, _>>();
        Ok(match name {
            "map" => Value::Array(results),
            "filter" => {
                let mut out = Vec::new();
                for (item, r) in items.into_iter().zip(&results) {
                    if truth(r)? {
                        out.push(item);
                    }
                }
                Value::Array(out)
            }
            "all" => Value::Bool(truths()?.iter().all(|b| *b)),
            "any" => Value::Bool(truths()?.iter().any(|b| *b)),
            "none" => Value::Bool(!truths()?.iter().any(|b| *b)),
            "one" => Value::Bool(truths()?.iter().filter(|b| **b).count() == 1),
            "count" => Value::Int(truths()?.iter().filter(|b| **b).count() as i64),
            "sum" => results
                .into_iter()
                .try_fold(Value::Int(0), |acc, v| binary_values("+", acc, v))?,
            "find" | "findIndex" | "findLast" | "findLastIndex" => {
                let truths = truths()?;
                let pos = if name.contains("Last") {
                    truths.iter().rposition(|b| *b)
                } else {
                    truths.iter().position(|b| *b)
                };
                match (pos, name.ends_with("Index")) {
                    (Some(i), true) => Value::Int(i as i64),
                    (None, true) => Value::Int(-1),
                    (Some(i), false) => items[i].clone(),
                    (None, false) => Value::Nil,
                }
            }
            "groupBy" => {
                let mut groups: BTreeMap<String, Value> = BTreeMap::new();
                for (item, key) in items.into_iter().zip(results) {
                    let key = match key {
                        Value::Str(s) => s,
                        other => other.to_go_string(),
                    };
                    if let Value::Array(a) = groups
                        .entry(key)
                        .or_insert_with(|| Value::Array(Vec::new()))
                    {
                        a.push(item);
                    }
                }
                Value::Map(groups)
            }
            "sortBy" => {
                let mut pairs: Vec<(Value, Value)> = results.into_iter().zip(items).collect();
                let mut failure = None;
                pairs.sort_by(|(a, _), (b, _)| match compare(a, b) {
                    Ok(o) => o,
                    Err(e) => {
                        failure.get_or_insert(e);
                        std::cmp::Ordering::Equal
                    }
                });
                if let Some(e) = failure {
                    return Err(e);
                }
                Value::Array(pairs.into_iter().map(|(_, v)| v).collect())
            }
            _ => return Err(err(format!("unknown function {name}"))),
        })
    }
}

fn insert_nested(map: &mut BTreeMap<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            map.entry(path.to_string()).or_insert(value);
        }
        Some((head, rest)) => {
            let entry = map
                .entry(head.to_string())
                .or_insert_with(|| Value::Map(BTreeMap::new()));
            if let Value::Map(inner) = entry {
                insert_nested(inner, rest, value);
            }
        }
    }
}

fn member(base: Value, key: &Value, optional: bool) -> Result<Value, ExprError> {
    match (base, key) {
        (Value::Nil, _) if optional => Ok(Value::Nil),
        (Value::Map(m), Value::Str(k)) => Ok(m.get(k).cloned().unwrap_or(Value::Nil)),
        (Value::Array(a), Value::Int(i)) => {
            index(a.len(), *i).map(|i| a[i].clone()).ok_or_else(|| {
                err(format!(
                    "index out of range: {i} (array of length {})",
                    a.len()
                ))
            })
        }
        (Value::Str(s), Value::Int(i)) => {
            let chars: Vec<char> = s.chars().collect();
            index(chars.len(), *i)
                .map(|i| Value::Str(chars[i].to_string()))
                .ok_or_else(|| {
                    err(format!(
                        "index out of range: {i} (string of length {})",
                        chars.len()
                    ))
                })
        }
        (base, key) => Err(err(format!(
            "cannot fetch {} from {}",
            key.to_go_string(),
            base.type_name()
        ))),
    }
}

fn index(len: usize, i: i64) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    (0..len as i64).contains(&i).then_some(i as usize)
}

fn slice(base: Value, from: Option<Value>, to: Option<Value>) -> Result<Value, ExprError> {
    let bound = |v: Option<Value>, default: usize, len: usize| -> Result<usize, ExprError> {
        match v {
            None => Ok(default),
            Some(Value::Int(i)) => {
                let i = if i < 0 { len as i64 + i } else { i };
                Ok(i.clamp(0, len as i64) as usize)
            }
            Some(other) => Err(err(format!(
                "a slice bound must be an int, not {}",
                other.type_name()
            ))),
        }
    };
    match base {
        Value::Array(a) => {
            let (f, t) = (bound(from, 0, a.len())?, bound(to, a.len(), a.len())?);
            Ok(Value::Array(if f < t {
                a[f..t].to_vec()
            } else {
                Vec::new()
            }))
        }
        Value::Str(s) => {
            let chars: Vec<char> = s.chars().collect();
            let (f, t) = (
                bound(from, 0, chars.len())?,
                bound(to, chars.len(), chars.len())?,
            );
            Ok(Value::Str(if f < t {
                chars[f..t].iter().collect()
            } else {
                String::new()
            }))
        }
        other => Err(err(format!("cannot slice {}", other.type_name()))),
    }
}

pub(super) fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering, ExprError> {
    use Value::*;
    let o = match (a, b) {
        (Int(x), Int(y)) => x.cmp(y),
        (Int(x), Float(y)) => (*x as f64)
            .partial_cmp(y)
            .unwrap_or(std::cmp::Ordering::Equal),
        (Float(x), Int(y)) => x
            .partial_cmp(&(*y as f64))
            .unwrap_or(std::cmp::Ordering::Equal),
        (Float(x), Float(y)) => x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Equal),
        (Str(x), Str(y)) => x.cmp(y),
        _ => {
            return Err(err(format!(
                "invalid operation: cannot compare {} and {}",
                a.type_name(),
                b.type_name()
            )));
        }
    };
    Ok(o)
}

pub(super) fn equal(a: &Value, b: &Value) -> bool {
    use Value::*;
    match (a, b) {
        (Int(x), Float(y)) | (Float(y), Int(x)) => *x as f64 == *y,
        (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b)),
        (Map(x), Map(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

pub(super) fn binary_values(op: &str, x: Value, y: Value) -> Result<Value, ExprError> {
    use Value::*;
    let bad = |x: &Value, y: &Value| {
        err(format!(
            "invalid operation: {} {op} {}",
            x.type_name(),
            y.type_name()
        ))
    };
    Ok(match op {
        "==" => Bool(equal(&x, &y)),
        "!=" => Bool(!equal(&x, &y)),
        "<" => Bool(compare(&x, &y)?.is_lt()),
        ">" => Bool(compare(&x, &y)?.is_gt()),
        "<=" => Bool(compare(&x, &y)?.is_le()),
        ">=" => Bool(compare(&x, &y)?.is_ge()),
        "+" => match (x, y) {
            (Int(a), Int(b)) => Int(a.checked_add(b).ok_or_else(|| err("integer overflow"))?),
            (Str(a), Str(b)) => Str(a + &b),
            (Array(mut a), Array(b)) => {
                a.extend(b);
                Array(a)
            }
            (a, b) => match (num(&a), num(&b)) {
                (Some(p), Some(q)) => Float(p + q),
                _ => return Err(bad(&a, &b)),
            },
        },
        "-" | "*" => match (&x, &y) {
            (Int(a), Int(b)) => Int(if op == "-" {
                a.checked_sub(*b)
            } else {
                a.checked_mul(*b)
            }
            .ok_or_else(|| err("integer overflow"))?),
            _ => match (num(&x), num(&y)) {
                (Some(p), Some(q)) => Float(if op == "-" { p - q } else { p * q }),
                _ => return Err(bad(&x, &y)),
            },
        },
        "/" => match (num(&x), num(&y)) {
            (Some(p), Some(q)) => Float(p / q),
            _ => return Err(bad(&x, &y)),
        },
        "%" => match (&x, &y) {
            (Int(_), Int(0)) => return Err(err("integer divide by zero")),
            (Int(a), Int(b)) => Int(a % b),
            _ => return Err(bad(&x, &y)),
        },
        "**" => match (num(&x), num(&y)) {
            (Some(p), Some(q)) => Float(p.powf(q)),
            _ => return Err(bad(&x, &y)),
        },
        ".." => match (&x, &y) {
            (Int(a), Int(b)) => Array((*a..=*b).map(Int).collect()),
            _ => return Err(bad(&x, &y)),
        },
        "in" | "not in" => {
            let found = match &y {
                Array(items) => items.iter().any(|i| equal(i, &x)),
                Map(m) => match &x {
                    Str(k) => m.contains_key(k),
                    _ => false,
                },
                Nil => false,
                _ => return Err(bad(&x, &y)),
            };
            Bool(found == (op == "in"))
        }
        "matches" => match (&x, &y) {
            (Str(s), Str(re)) => {
                let re = regex::Regex::new(re)
                    .map_err(|e| err(format!("invalid regular expression {re:?}: {e}")))?;
                Bool(re.is_match(s))
            }
            _ => return Err(bad(&x, &y)),
        },
        "contains" | "startsWith" | "endsWith" => match (&x, &y) {
            (Str(s), Str(t)) => Bool(match op {
                "contains" => s.contains(t.as_str()),
                "startsWith" => s.starts_with(t.as_str()),
                _ => s.ends_with(t.as_str()),
            }),
            _ => return Err(bad(&x, &y)),
        },
        _ => return Err(err(format!("unknown operator {op}"))),
    })
}
