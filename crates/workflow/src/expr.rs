//! The small boolean language of DAG `depends` and of `when`: `&&`, `||`, `!`,
//! parentheses, and for `when` the comparisons `==`, `!=`, `<`, `>`, `<=`, `>=`
//! and the regular-expression matches `=~`, `!~` (govaluate's, which Argo
//! evaluates `when` with after substituting `{{…}}`).
//! One parser serves both; the caller decides what an operand means.

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A bare word (`task.Succeeded`, `true`, `42`) or a quoted string.
    Atom {
        text: String,
        quoted: bool,
    },
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
}

/// A comparison operator of `when`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    /// `=~`: the left side matches the regular expression on the right.
    Matches,
    /// `!~`: the left side does not match.
    NotMatches,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Cmp(CmpOp),
    Word(String),
    Quoted(String),
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            '&' if next == Some('&') => {
                out.push(Tok::And);
                i += 2
            }
            '|' if next == Some('|') => {
                out.push(Tok::Or);
                i += 2
            }
            '=' if next == Some('~') => {
                out.push(Tok::Cmp(CmpOp::Matches));
                i += 2
            }
            '!' if next == Some('~') => {
                out.push(Tok::Cmp(CmpOp::NotMatches));
                i += 2
            }
            '=' if next == Some('=') => {
                out.push(Tok::Cmp(CmpOp::Eq));
                i += 2
            }
            '!' if next == Some('=') => {
                out.push(Tok::Cmp(CmpOp::Ne));
                i += 2
            }
            '!' => {
                out.push(Tok::Not);
                i += 1
            }
            '<' | '>' => {
                let eq = next == Some('=');
                out.push(Tok::Cmp(match (c, eq) {
                    ('<', false) => CmpOp::Lt,
                    ('<', true) => CmpOp::Le,
                    ('>', false) => CmpOp::Gt,
                    _ => CmpOp::Ge,
                }));
                i += if eq { 2 } else { 1 };
            }
            '"' | '\'' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&d| d == c)
                    .ok_or_else(|| format!("unterminated string starting at column {}", i + 1))?;
                out.push(Tok::Quoted(chars[i + 1..i + 1 + end].iter().collect()));
                i += end + 2;
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !"()&|=!<>~\"'".contains(chars[i])
                {
                    i += 1;
                }
                if start == i {
                    return Err(format!("unexpected {c:?} at column {}", i + 1));
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.cmp()?;
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.cmp()?));
        }
        Ok(left)
    }
    fn cmp(&mut self) -> Result<Expr, String> {
        let left = self.unary()?;
        if let Some(Tok::Cmp(op)) = self.peek().cloned() {
            self.pos += 1;
            return Ok(Expr::Cmp(op, Box::new(left), Box::new(self.unary()?)));
        }
        Ok(left)
    }
    fn unary(&mut self) -> Result<Expr, String> {
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Not) => {
                self.pos += 1;
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Some(Tok::LParen) => {
                self.pos += 1;
                let e = self.or()?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err("missing ')'".into());
                }
                self.pos += 1;
                Ok(e)
            }
            Some(Tok::Word(w)) => {
                self.pos += 1;
                Ok(Expr::Atom {
                    text: w,
                    quoted: false,
                })
            }
            Some(Tok::Quoted(w)) => {
                self.pos += 1;
                Ok(Expr::Atom {
                    text: w,
                    quoted: true,
                })
            }
            Some(t) => Err(format!("unexpected {t:?}")),
            None => Err("unexpected end of expression".into()),
        }
    }
}

/// Parses an expression; the error says what is wrong, the caller adds where.
pub fn parse(s: &str) -> Result<Expr, String> {
    let toks = tokenize(s)?;
    let mut p = Parser { toks, pos: 0 };
    let e = p.or()?;
    if p.pos != p.toks.len() {
        return Err(format!(
            "unexpected {:?} after a complete expression",
            p.toks[p.pos]
        ));
    }
    Ok(e)
}

impl Expr {
    /// Evaluates as a boolean, asking `atom` for the truth of bare operands.
    /// Comparisons compare numerically when both sides are numbers, else as text.
    pub fn eval(&self, atom: &mut dyn FnMut(&str) -> Result<bool, String>) -> Result<bool, String> {
        match self {
            Expr::Atom {
                text,
                quoted: false,
            } => atom(text),
            Expr::Atom { text, quoted: true } => Err(format!("string {text:?} is not a condition")),
            Expr::Not(e) => Ok(!e.eval(atom)?),
            Expr::And(a, b) => Ok(a.eval(atom)? && b.eval(atom)?),
            Expr::Or(a, b) => Ok(a.eval(atom)? || b.eval(atom)?),
            Expr::Cmp(op @ (CmpOp::Matches | CmpOp::NotMatches), a, b) => {
                let (a, b) = (a.text()?, b.text()?);
                let re = regex::Regex::new(b)
                    .map_err(|e| format!("invalid regular expression {b:?}: {e}"))?;
                Ok(re.is_match(a) == (*op == CmpOp::Matches))
            }
            Expr::Cmp(op, a, b) => {
                let (a, b) = (a.text()?, b.text()?);
                Ok(match (a.parse::<f64>(), b.parse::<f64>()) {
                    (Ok(x), Ok(y)) => match op {
                        CmpOp::Eq => x == y,
                        CmpOp::Ne => x != y,
                        CmpOp::Lt => x < y,
                        CmpOp::Gt => x > y,
                        CmpOp::Le => x <= y,
                        CmpOp::Ge => x >= y,
                        CmpOp::Matches | CmpOp::NotMatches => false,
                    },
                    _ => match op {
                        CmpOp::Eq => a == b,
                        CmpOp::Ne => a != b,
                        CmpOp::Lt => a < b,
                        CmpOp::Gt => a > b,
                        CmpOp::Le => a <= b,
                        CmpOp::Ge => a >= b,
                        CmpOp::Matches | CmpOp::NotMatches => false,
                    },
                })
            }
        }
    }

    fn text(&self) -> Result<&str, String> {
        match self {
            Expr::Atom { text, .. } => Ok(text),
            _ => Err("a comparison needs a value on each side".into()),
        }
    }

    /// Every bare operand, in order (the task references of a `depends`).
    pub fn atoms(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.walk(&mut out);
        out
    }

    fn walk<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Expr::Atom {
                text,
                quoted: false,
            } => out.push(text),
            Expr::Atom { .. } => {}
            Expr::Not(e) => e.walk(out),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Cmp(_, a, b) => {
                a.walk(out);
                b.walk(out);
            }
        }
    }

    /// True when the expression contains a comparison (not allowed in `depends`).
    pub fn has_comparison(&self) -> bool {
        match self {
            Expr::Atom { .. } => false,
            Expr::Not(e) => e.has_comparison(),
            Expr::And(a, b) | Expr::Or(a, b) => a.has_comparison() || b.has_comparison(),
            Expr::Cmp(..) => true,
        }
    }
}

/// Evaluates a substituted `when` condition: bare `true`/`false`, comparisons,
/// and their combinations.
pub fn eval_when(s: &str) -> Result<bool, String> {
    parse(s)?.eval(&mut |w| match w {
        "true" | "True" => Ok(true),
        "false" | "False" => Ok(false),
        other => Err(format!("{other:?} is not a condition")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deps(s: &str, ok: &[&str]) -> bool {
        parse(s)
            .unwrap()
            .eval(&mut |a| Ok(ok.contains(&a)))
            .unwrap()
    }

    #[test]
    fn precedence_and_parentheses() {
        assert!(deps("a && b || c", &["c"]));
        assert!(!deps("a && (b || c)", &["c"]));
        assert!(deps(
            "!a.Failed && (b.Succeeded || b.Skipped)",
            &["b.Skipped"]
        ));
        assert!(!deps("!(a.Succeeded)", &["a.Succeeded"]));
        assert_eq!(
            parse("a && (b || c.Failed)").unwrap().atoms(),
            ["a", "b", "c.Failed"]
        );
    }

    #[test]
    fn when_comparisons() {
        assert!(eval_when("heads == heads").unwrap());
        assert!(eval_when("'prod' != \"dev\" && 10 > 9").unwrap());
        assert!(!eval_when("10 < 9.5 || false").unwrap());
        assert!(eval_when("2 == 2.0").unwrap());
        assert!(eval_when("maybe").is_err());
        assert!(eval_when("heads =~ hea").unwrap());
        assert!(!eval_when("tails =~ ^hea").unwrap());
        assert!(eval_when("tails !~ hea && (x == x)").unwrap());
        assert!(eval_when("a =~ '('").is_err());
    }

    #[test]
    fn syntax_errors_are_reported() {
        assert!(parse("a &&").is_err());
        assert!(parse("(a || b").is_err());
        assert!(parse("a b").is_err());
        assert!(parse("'open").is_err());
        assert!(parse("a & b").is_err());
    }
}
