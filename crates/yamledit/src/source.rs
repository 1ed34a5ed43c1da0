//! Byte/character bookkeeping for one YAML text.
//!
//! The parser reports positions in characters; edits need byte offsets
//! and errors need line:col. This module owns those conversions.

use crate::error::Location;

/// Position helpers over one source text.
pub(crate) struct Source<'a> {
    pub text: &'a str,
    /// Byte offset of every char index, present only for non-ASCII text
    /// (for ASCII text a char index is a byte offset).
    char_to_byte: Option<Vec<usize>>,
    /// The line break used by the file (`"\r\n"` if its first line break
    /// is CRLF), used for inserted lines.
    pub newline: &'static str,
}

impl<'a> Source<'a> {
    pub fn new(text: &'a str) -> Self {
        let char_to_byte = if text.is_ascii() {
            None
        } else {
            let mut v: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
            v.push(text.len());
            Some(v)
        };
        let newline = match text.find('\n') {
            Some(i) if i > 0 && text.as_bytes()[i - 1] == b'\r' => "\r\n",
            _ => "\n",
        };
        Source {
            text,
            char_to_byte,
            newline,
        }
    }

    /// Byte offset of a parser char index (clamped to the text).
    pub fn byte(&self, char_index: usize) -> usize {
        match &self.char_to_byte {
            None => char_index.min(self.text.len()),
            Some(v) => v.get(char_index).copied().unwrap_or(self.text.len()),
        }
    }

    /// 1-based line:col of a byte offset.
    pub fn location(&self, byte: usize) -> Location {
        location_in(self.text, byte)
    }
}

/// 1-based line:col (columns in characters) of a byte offset in `text`.
pub(crate) fn location_in(text: &str, byte: usize) -> Location {
    let byte = floor_char_boundary(text, byte.min(text.len()));
    let before = &text[..byte];
    let b = before.as_bytes();
    // YAML line breaks are LF, CRLF and a lone CR.
    let line = b
        .iter()
        .enumerate()
        .filter(|&(i, &c)| c == b'\n' || (c == b'\r' && b.get(i + 1) != Some(&b'\n')))
        .count()
        + 1;
    let col = before[line_start(text, byte)..].chars().count() + 1;
    Location { line, col }
}

pub(crate) fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Byte offset where the line containing `pos` starts (after LF, CRLF
/// or a lone CR).
pub(crate) fn line_start(text: &str, pos: usize) -> usize {
    text[..pos].rfind(['\n', '\r']).map_or(0, |i| i + 1)
}

/// Byte offset of the line break ending the line that contains `pos`
/// (the `\r` of a CRLF or a lone CR), or the end of the text.
pub(crate) fn line_end(text: &str, pos: usize) -> usize {
    text[pos..]
        .find(['\n', '\r'])
        .map_or(text.len(), |i| pos + i)
}

/// Column (in characters) of `pos` within its line.
pub(crate) fn column(text: &str, pos: usize) -> usize {
    text[line_start(text, pos)..pos].chars().count()
}
