//! Parser of the expr-lang subset: a Pratt parser with expr-lang's
//! operator precedences.

use super::ExprError;
use super::lex::{Spanned, Tok, tokenize};

/// The syntax tree of an expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A variable of the environment (`inputs`, `steps`, `workflow` …).
    Ident(String),
    /// `#` (empty name), `#index`, `#acc` inside a predicate.
    Pound(String),
    Array(Vec<Node>),
    Map(Vec<(Node, Node)>),
    Member {
        obj: Box<Node>,
        prop: Box<Node>,
        optional: bool,
    },
    Slice {
        obj: Box<Node>,
        from: Option<Box<Node>>,
        to: Option<Box<Node>>,
    },
    /// A call of a built-in (`len(x)`) or of `sprig.NAME(…)`.
    Call {
        name: String,
        sprig: bool,
        args: Vec<Node>,
    },
    /// The body of a predicate (`{ # > 1 }`), evaluated per element.
    Closure(Box<Node>),
    Unary(&'static str, Box<Node>),
    Binary(&'static str, Box<Node>, Box<Node>),
    Cond(Box<Node>, Box<Node>, Box<Node>),
}

/// Built-ins whose second argument is a predicate.
pub(super) const PREDICATE_FUNCS: &[&str] = &[
    "all",
    "any",
    "none",
    "one",
    "filter",
    "map",
    "count",
    "find",
    "findIndex",
    "findLast",
    "findLastIndex",
    "sum",
    "groupBy",
    "sortBy",
];

fn binary(tok: &Tok) -> Option<(&'static str, u16, bool)> {
    // (operator, precedence, right-associative) — expr-lang's table.
    Some(match tok {
        Tok::Op("||") => ("||", 10, false),
        Tok::Ident(w) if w == "or" => ("||", 10, false),
        Tok::Op("&&") => ("&&", 15, false),
        Tok::Ident(w) if w == "and" => ("&&", 15, false),
        Tok::Op("==") => ("==", 20, false),
        Tok::Op("!=") => ("!=", 20, false),
        Tok::Op("<") => ("<", 20, false),
        Tok::Op(">") => (">", 20, false),
        Tok::Op("<=") => ("<=", 20, false),
        Tok::Op(">=") => (">=", 20, false),
        Tok::Ident(w) if w == "in" => ("in", 20, false),
        Tok::Ident(w) if w == "matches" => ("matches", 20, false),
        Tok::Ident(w) if w == "contains" => ("contains", 20, false),
        Tok::Ident(w) if w == "startsWith" => ("startsWith", 20, false),
        Tok::Ident(w) if w == "endsWith" => ("endsWith", 20, false),
        Tok::Op("..") => ("..", 25, false),
        Tok::Op("+") => ("+", 30, false),
        Tok::Op("-") => ("-", 30, false),
        Tok::Op("*") => ("*", 60, false),
        Tok::Op("/") => ("/", 60, false),
        Tok::Op("%") => ("%", 60, false),
        Tok::Op("**") | Tok::Op("^") => ("**", 100, true),
        Tok::Op("??") => ("??", 500, false),
        _ => return None,
    })
}

struct Parser {
    toks: Vec<Spanned>,
    pos: usize,
    end_col: usize,
}

/// Parses an expression; errors name the column.
pub(crate) fn parse(src: &str) -> Result<Node, ExprError> {
    let toks = tokenize(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        end_col: src.chars().count() + 1,
    };
    let node = p.expr()?;
    if let Some((t, col)) = p.toks.get(p.pos) {
        return Err(ExprError::at(
            *col,
            format!("unexpected {} after a complete expression", show(t)),
        ));
    }
    Ok(node)
}

fn show(t: &Tok) -> String {
    match t {
        Tok::Int(n) => n.to_string(),
        Tok::Float(f) => f.to_string(),
        Tok::Str(s) => format!("{s:?}"),
        Tok::Ident(s) => format!("`{s}`"),
        Tok::Pound(s) => format!("`#{s}`"),
        Tok::Op(o) => format!("`{o}`"),
    }
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }
    fn col(&self) -> usize {
        self.toks
            .get(self.pos)
            .map(|(_, c)| *c)
            .unwrap_or(self.end_col)
    }
    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if *o == op)
    }
    fn expect(&mut self, op: &str) -> Result<(), ExprError> {
        if self.is_op(op) {
            self.pos += 1;
            Ok(())
        } else {
            let found = self
                .peek()
                .map(show)
                .unwrap_or_else(|| "end of expression".into());
            Err(ExprError::at(
                self.col(),
                format!("expected `{op}`, found {found}"),
            ))
        }
    }

    fn expr(&mut self) -> Result<Node, ExprError> {
        let cond = self.binary(0)?;
        if self.is_op("?") {
            self.pos += 1;
            let yes = self.expr()?;
            self.expect(":")?;
            let no = self.expr()?;
            return Ok(Node::Cond(Box::new(cond), Box::new(yes), Box::new(no)));
        }
        Ok(cond)
    }

    fn binary(&mut self, min: u16) -> Result<Node, ExprError> {
        let mut left = self.unary()?;
        loop {
            // `not in`
            let negated_in = matches!(self.peek(), Some(Tok::Ident(w)) if w == "not")
                && matches!(self.toks.get(self.pos + 1), Some((Tok::Ident(w), _)) if w == "in");
            let (op, prec, right) = if negated_in {
                ("not in", 20, false)
            } else {
                match self.peek().and_then(binary) {
                    Some(b) => b,
                    None => break,
                }
            };
            if prec < min {
                break;
            }
            self.pos += if negated_in { 2 } else { 1 };
            let rhs = self.binary(if right { prec } else { prec + 1 })?;
            left = Node::Binary(op, Box::new(left), Box::new(rhs));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Node, ExprError> {
        let (op, prec) = match self.peek() {
            Some(Tok::Op("!")) => ("!", 50),
            Some(Tok::Ident(w)) if w == "not" => ("!", 50),
            Some(Tok::Op("-")) => ("-", 90),
            Some(Tok::Op("+")) => ("+", 90),
            _ => return self.postfix(),
        };
        self.pos += 1;
        let operand = self.binary(prec)?;
        Ok(Node::Unary(op, Box::new(operand)))
    }

    fn postfix(&mut self) -> Result<Node, ExprError> {
        let mut node = self.primary()?;
        loop {
            if self.is_op(".") || self.is_op("?.") {
                let optional = self.is_op("?.");
                self.pos += 1;
                match self.peek().cloned() {
                    Some(Tok::Ident(name)) => {
                        self.pos += 1;
                        if self.is_op("(") {
                            if node == Node::Ident("sprig".into()) {
                                self.pos += 1;
                                let args = self.args(&name)?;
                                node = Node::Call {
                                    name,
                                    sprig: true,
                                    args,
                                };
                                continue;
                            }
                            return Err(ExprError::at(
                                self.col(),
                                format!("method calls (`.{name}(…)`) are not supported"),
                            ));
                        }
                        node = Node::Member {
                            obj: Box::new(node),
                            prop: Box::new(Node::Str(name)),
                            optional,
                        };
                    }
                    _ => return Err(ExprError::at(self.col(), "expected a field name after `.`")),
                }
            } else if self.is_op("[") {
                self.pos += 1;
                if self.is_op(":") {
                    self.pos += 1;
                    let to = if self.is_op("]") {
                        None
                    } else {
                        Some(Box::new(self.expr()?))
                    };
                    self.expect("]")?;
                    node = Node::Slice {
                        obj: Box::new(node),
                        from: None,
                        to,
                    };
                    continue;
                }
                let index = self.expr()?;
                if self.is_op(":") {
                    self.pos += 1;
                    let to = if self.is_op("]") {
                        None
                    } else {
                        Some(Box::new(self.expr()?))
                    };
                    self.expect("]")?;
                    node = Node::Slice {
                        obj: Box::new(node),
                        from: Some(Box::new(index)),
                        to,
                    };
                    continue;
                }
                self.expect("]")?;
                node = Node::Member {
                    obj: Box::new(node),
                    prop: Box::new(index),
                    optional: false,
                };
            } else {
                break;
            }
        }
        Ok(node)
    }

    fn args(&mut self, name: &str) -> Result<Vec<Node>, ExprError> {
        let mut args = Vec::new();
        let predicate = PREDICATE_FUNCS.contains(&name);
        while !self.is_op(")") {
            if !args.is_empty() {
                self.expect(",")?;
            }
            if predicate && args.len() == 1 {
                let body = if self.is_op("{") {
                    self.pos += 1;
                    let b = self.expr()?;
                    self.expect("}")?;
                    b
                } else {
                    self.expr()?
                };
                args.push(Node::Closure(Box::new(body)));
            } else {
                args.push(self.expr()?);
            }
        }
        self.expect(")")?;
        Ok(args)
    }

    fn primary(&mut self) -> Result<Node, ExprError> {
        let col = self.col();
        let Some(tok) = self.peek().cloned() else {
            return Err(ExprError::at(col, "unexpected end of expression"));
        };
        self.pos += 1;
        Ok(match tok {
            Tok::Int(n) => Node::Int(n),
            Tok::Float(f) => Node::Float(f),
            Tok::Str(s) => Node::Str(s),
            Tok::Pound(name) => Node::Pound(name),
            Tok::Ident(w) => match w.as_str() {
                "true" => Node::Bool(true),
                "false" => Node::Bool(false),
                "nil" => Node::Nil,
                _ if self.is_op("(") => {
                    self.pos += 1;
                    let args = self.args(&w)?;
                    Node::Call {
                        name: w,
                        sprig: false,
                        args,
                    }
                }
                _ => Node::Ident(w),
            },
            Tok::Op("(") => {
                let e = self.expr()?;
                self.expect(")")?;
                e
            }
            Tok::Op("[") => {
                let mut items = Vec::new();
                while !self.is_op("]") {
                    if !items.is_empty() {
                        self.expect(",")?;
                        if self.is_op("]") {
                            break;
                        }
                    }
                    items.push(self.expr()?);
                }
                self.expect("]")?;
                Node::Array(items)
            }
            Tok::Op("{") => {
                let mut entries = Vec::new();
                while !self.is_op("}") {
                    if !entries.is_empty() {
                        self.expect(",")?;
                        if self.is_op("}") {
                            break;
                        }
                    }
                    let key = match self.peek().cloned() {
                        Some(Tok::Ident(k)) | Some(Tok::Str(k)) => {
                            self.pos += 1;
                            Node::Str(k)
                        }
                        Some(Tok::Int(n)) => {
                            self.pos += 1;
                            Node::Str(n.to_string())
                        }
                        Some(Tok::Op("(")) => {
                            self.pos += 1;
                            let k = self.expr()?;
                            self.expect(")")?;
                            k
                        }
                        _ => return Err(ExprError::at(self.col(), "expected a map key")),
                    };
                    self.expect(":")?;
                    entries.push((key, self.expr()?));
                }
                self.expect("}")?;
                Node::Map(entries)
            }
            // `.field` inside a predicate: a field of `#`.
            Tok::Op(".") => match self.peek().cloned() {
                Some(Tok::Ident(name)) => {
                    self.pos += 1;
                    Node::Member {
                        obj: Box::new(Node::Pound(String::new())),
                        prop: Box::new(Node::Str(name)),
                        optional: false,
                    }
                }
                _ => return Err(ExprError::at(col, "expected a field name after `.`")),
            },
            other => return Err(ExprError::at(col, format!("unexpected {}", show(&other)))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_follows_expr_lang() {
        let n = parse("1 + 2 * 3 == 7 && !false").unwrap();
        let Node::Binary("&&", l, _) = n else {
            panic!("{n:?}")
        };
        let Node::Binary("==", l, _) = *l else {
            panic!()
        };
        assert!(matches!(*l, Node::Binary("+", _, _)));
        assert!(matches!(
            parse("a ?? b + 1").unwrap(),
            Node::Binary("+", _, _)
        ));
        assert!(
            matches!(parse("2 ** 3 ** 2").unwrap(), Node::Binary("**", _, r) if matches!(*r, Node::Binary("**", _, _)))
        );
        assert!(matches!(
            parse("x not in [1]").unwrap(),
            Node::Binary("not in", _, _)
        ));
    }

    #[test]
    fn members_calls_closures_and_literals() {
        assert!(matches!(
            parse("steps['flip-coin'].outputs.result").unwrap(),
            Node::Member { .. }
        ));
        assert!(matches!(
            parse("sprig.trim(' x ')").unwrap(),
            Node::Call { sprig: true, .. }
        ));
        let Node::Call { args, .. } = parse("filter([1, 3], {# > 1})").unwrap() else {
            panic!()
        };
        assert!(matches!(args[1], Node::Closure(_)));
        assert!(matches!(parse("{a: 1, 'b': [2,]}").unwrap(), Node::Map(e) if e.len() == 2));
        assert!(matches!(parse("x[1:]").unwrap(), Node::Slice { .. }));
        assert!(matches!(parse("c ? 1 : 2").unwrap(), Node::Cond(..)));
    }

    #[test]
    fn errors_name_the_column() {
        let e = parse("1 +").unwrap_err();
        assert_eq!(e.col, 4);
        assert_eq!(parse("a b").unwrap_err().col, 3);
        assert!(parse("'open").is_err());
        assert!(
            parse("x.y(1)")
                .unwrap_err()
                .message
                .contains("method calls")
        );
    }
}
