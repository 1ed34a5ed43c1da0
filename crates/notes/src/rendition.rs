//! The notes as served: each format's response body, rendered once when
//! the notes are computed, kept gzip-compressed and as it is, with a
//! strong ETag of the uncompressed body. A cached read is then one row
//! fetch and no work: a client that accepts gzip gets the compressed body
//! (a release of 10,000 commits is ~5 MB of JSON, ~7× less compressed),
//! the others the plain one — decompressing 5 MB per request would cost
//! them several times the goal.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use crate::document::ReleaseNotes;
use crate::error::{Error, Result};

/// The formats the notes are served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotesFormat {
    Json,
    Markdown,
}

impl NotesFormat {
    /// Every format, rendered together when the notes are computed.
    pub const ALL: [NotesFormat; 2] = [NotesFormat::Json, NotesFormat::Markdown];

    /// The name in the store and in `?format=`.
    pub fn key(self) -> &'static str {
        match self {
            NotesFormat::Json => "json",
            NotesFormat::Markdown => "markdown",
        }
    }

    /// `json`, `markdown` (or `md`), any case.
    pub fn parse(text: &str) -> Option<NotesFormat> {
        match text.to_ascii_lowercase().as_str() {
            "json" => Some(NotesFormat::Json),
            "markdown" | "md" => Some(NotesFormat::Markdown),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            NotesFormat::Json => "application/json",
            NotesFormat::Markdown => "text/markdown; charset=utf-8",
        }
    }
}

/// A body's content coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotesEncoding {
    Gzip,
    Identity,
}

impl NotesEncoding {
    /// The name in the store (and in `Content-Encoding`, for gzip).
    pub fn key(self) -> &'static str {
        match self {
            NotesEncoding::Gzip => "gzip",
            NotesEncoding::Identity => "identity",
        }
    }
}

/// One format of the notes, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub format: NotesFormat,
    /// Strong ETag of the uncompressed body, quoted.
    pub etag: String,
    /// Length of the uncompressed body.
    pub size: usize,
    pub gzip: Vec<u8>,
    pub identity: Vec<u8>,
}

impl Rendered {
    pub fn body(&self, encoding: NotesEncoding) -> &[u8] {
        match encoding {
            NotesEncoding::Gzip => &self.gzip,
            NotesEncoding::Identity => &self.identity,
        }
    }
}

/// Every format of `notes`: the JSON document (exactly what the API has
/// always served) and the Markdown of [`crate::render::markdown`].
pub fn render_all(notes: &ReleaseNotes) -> Result<Vec<Rendered>> {
    NotesFormat::ALL
        .iter()
        .map(|&format| {
            let body = match format {
                NotesFormat::Json => serde_json::to_vec(notes)?,
                NotesFormat::Markdown => crate::render::markdown(notes).into_bytes(),
            };
            Ok(Rendered {
                format,
                etag: etag(&body),
                size: body.len(),
                gzip: gzip(&body)?,
                identity: body,
            })
        })
        .collect()
}

/// A strong entity tag of `body`: 128 bits of its SHA-256, quoted.
pub fn etag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let mut tag = String::with_capacity(34);
    tag.push('"');
    for b in &digest[..16] {
        tag.push_str(&format!("{b:02x}"));
    }
    tag.push('"');
    tag
}

/// The ETag of the gzip representation of a body whose ETag is `etag`: a
/// different representation needs a different strong tag (RFC 9110
/// §8.8.3), so `"…"` becomes `"…-gzip"`.
pub fn gzip_etag(etag: &str) -> String {
    match etag.strip_suffix('"') {
        Some(open) => format!("{open}-gzip\""),
        None => format!("{etag}-gzip"),
    }
}

/// Compressed once per computation and read many times, so the default
/// level (smaller reads) rather than the fastest.
pub fn gzip(body: &[u8]) -> Result<Vec<u8>> {
    let mut enc = GzEncoder::new(Vec::with_capacity(body.len() / 8), Compression::default());
    enc.write_all(body)
        .and_then(|()| enc.finish())
        .map_err(|e| Error::Cache(format!("compressing the notes: {e}")))
}

/// The body of a stored rendition; `size` (the stored uncompressed length)
/// sizes the buffer and bounds what is inflated.
pub fn gunzip(gzip: &[u8], size: usize) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(size);
    let limit = u64::try_from(size).unwrap_or(u64::MAX).saturating_add(1);
    GzDecoder::new(gzip)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| Error::Cache(format!("decompressing the cached notes: {e}")))?;
    if out.len() != size {
        return Err(Error::Cache(format!(
            "the cached notes are {} bytes, {size} were stored",
            out.len()
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_round_trip_and_etags() {
        let body = b"{\"notes\":[]}".repeat(100);
        let z = gzip(&body).unwrap();
        assert!(z.len() < body.len() / 5);
        assert_eq!(gunzip(&z, body.len()).unwrap(), body);
        // A wrong stored size is a cache error, not a wrong answer.
        assert!(matches!(gunzip(&z, body.len() - 1), Err(Error::Cache(_))));
        assert!(matches!(gunzip(b"not gzip", 3), Err(Error::Cache(_))));
        let tag = etag(&body);
        assert_eq!(tag.len(), 34);
        assert!(tag.starts_with('"') && tag.ends_with('"'));
        assert_ne!(tag, etag(b"other"));
        assert_eq!(gzip_etag(&tag), format!("{}-gzip\"", &tag[..33]));
        assert_eq!(NotesFormat::parse("MD"), Some(NotesFormat::Markdown));
        assert_eq!(NotesFormat::parse("xml"), None);
    }
}
