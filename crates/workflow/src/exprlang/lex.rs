//! Tokens of the expr-lang subset (see the module documentation).

use super::ExprError;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Int(i64),
    Float(f64),
    Str(String),
    Ident(String),
    /// `#`, `#index`, `#acc` inside predicates.
    Pound(String),
    Op(&'static str),
}

/// A token and the 1-based column where it starts.
pub(super) type Spanned = (Tok, usize);

const OPS: &[&str] = &[
    "...", "?.", "??", "==", "!=", "<=", ">=", "&&", "||", "**", "..", "(", ")", "[", "]", "{",
    "}", ",", ":", ".", "?", "+", "-", "*", "/", "%", "^", "<", ">", "!", "|",
];

pub(super) fn tokenize(src: &str) -> Result<Vec<Spanned>, ExprError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            if c == '0' && matches!(chars.get(i + 1), Some('x' | 'X')) {
                i += 2;
                while i < chars.len() && (chars[i].is_ascii_hexdigit() || chars[i] == '_') {
                    i += 1;
                }
                let text: String = chars[start + 2..i].iter().filter(|c| **c != '_').collect();
                let n = i64::from_str_radix(&text, 16)
                    .map_err(|_| ExprError::at(col, format!("invalid number 0x{text}")))?;
                out.push((Tok::Int(n), col));
                continue;
            }
            let mut float = false;
            while i < chars.len() {
                let d = chars[i];
                if d.is_ascii_digit() || d == '_' {
                    i += 1;
                } else if d == '.' && !float && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit())
                {
                    float = true;
                    i += 1;
                } else if matches!(d, 'e' | 'E') {
                    float = true;
                    i += 1;
                    if matches!(chars.get(i), Some('+' | '-')) {
                        i += 1;
                    }
                } else {
                    break;
                }
            }
            let text: String = chars[start..i].iter().filter(|c| **c != '_').collect();
            let tok = if float {
                Tok::Float(
                    text.parse()
                        .map_err(|_| ExprError::at(col, format!("invalid number {text}")))?,
                )
            } else {
                Tok::Int(
                    text.parse()
                        .map_err(|_| ExprError::at(col, format!("invalid number {text}")))?,
                )
            };
            out.push((tok, col));
            continue;
        }
        if c == '"' || c == '\'' {
            let (s, next) = string(&chars, i, c)?;
            out.push((Tok::Str(s), col));
            i = next;
            continue;
        }
        if c == '`' {
            let end = chars[i + 1..]
                .iter()
                .position(|&d| d == '`')
                .ok_or_else(|| ExprError::at(col, "unterminated raw string"))?;
            out.push((Tok::Str(chars[i + 1..i + 1 + end].iter().collect()), col));
            i += end + 2;
            continue;
        }
        if c.is_alphabetic() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            out.push((Tok::Ident(chars[start..i].iter().collect()), col));
            continue;
        }
        if c == '#' {
            let start = i + 1;
            i += 1;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((Tok::Pound(chars[start..i].iter().collect()), col));
            continue;
        }
        let rest: String = chars[i..chars.len().min(i + 3)].iter().collect();
        match OPS.iter().find(|op| rest.starts_with(**op)) {
            Some(op) => {
                out.push((Tok::Op(op), col));
                i += op.chars().count();
            }
            None => return Err(ExprError::at(col, format!("unexpected character {c:?}"))),
        }
    }
    Ok(out)
}

fn string(chars: &[char], start: usize, quote: char) -> Result<(String, usize), ExprError> {
    let mut s = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        if c == quote {
            return Ok((s, i + 1));
        }
        if c == '\\' {
            let e = chars
                .get(i + 1)
                .ok_or_else(|| ExprError::at(i + 1, "unterminated string"))?;
            i += 2;
            match e {
                'n' => s.push('\n'),
                't' => s.push('\t'),
                'r' => s.push('\r'),
                '0' => s.push('\0'),
                'u' => {
                    let hex: String = chars.get(i..i + 4).unwrap_or_default().iter().collect();
                    let ch = u32::from_str_radix(&hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or_else(|| ExprError::at(i, format!("invalid escape \\u{hex}")))?;
                    s.push(ch);
                    i += 4;
                }
                other => s.push(*other),
            }
            continue;
        }
        s.push(c);
        i += 1;
    }
    Err(ExprError::at(start + 1, "unterminated string"))
}
