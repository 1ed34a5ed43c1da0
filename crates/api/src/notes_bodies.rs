//! The most recently served release-notes bodies, in memory.
//!
//! Why: notes of a large release are megabytes (10,000 commits: 4.8 MB of
//! JSON). Reading that back from the database for every client that does
//! not accept gzip costs several milliseconds; the stored ETag (a
//! sub-millisecond query) says whether a body kept here is still current,
//! so a repeated read costs the ETag check and the transfer. The store
//! stays the source of truth: a body is only served while its ETag is the
//! stored one, so a refresh (new ETag) on any replica retires it.

use std::collections::VecDeque;
use std::sync::Mutex;

use axum::body::Bytes;
use ferry_notes::{NotesEncoding, NotesFormat};

/// Bytes kept at most; the oldest bodies go first.
const CAPACITY: usize = 64 * 1024 * 1024;

#[derive(Clone, PartialEq, Eq)]
struct Key {
    release: String,
    format: &'static str,
    gzip: bool,
}

struct Entry {
    key: Key,
    etag: String,
    body: Bytes,
}

/// Bodies by (release, format, encoding), each with the ETag it was served under.
#[derive(Default)]
pub struct NotesBodies {
    entries: Mutex<VecDeque<Entry>>,
}

fn key(release: &str, format: NotesFormat, encoding: NotesEncoding) -> Key {
    Key {
        release: release.to_owned(),
        format: format.key(),
        gzip: encoding == NotesEncoding::Gzip,
    }
}

impl NotesBodies {
    /// The body kept for this release, format and encoding if it was
    /// served under `etag` (the stored, current one).
    pub fn get(
        &self,
        release: &str,
        format: NotesFormat,
        encoding: NotesEncoding,
        etag: &str,
    ) -> Option<Bytes> {
        let k = key(release, format, encoding);
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .iter()
            .find(|e| e.key == k && e.etag == etag)
            .map(|e| e.body.clone())
    }

    /// Keeps `body` (served under `etag`), replacing an older one of the
    /// same key; bodies larger than the whole capacity are not kept.
    pub fn put(
        &self,
        release: &str,
        format: NotesFormat,
        encoding: NotesEncoding,
        etag: &str,
        body: Bytes,
    ) {
        if body.len() > CAPACITY {
            return;
        }
        let k = key(release, format, encoding);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|e| e.key != k);
        let mut total: usize = entries.iter().map(|e| e.body.len()).sum::<usize>() + body.len();
        while total > CAPACITY {
            match entries.pop_front() {
                Some(old) => total -= old.body.len(),
                None => break,
            }
        }
        entries.push_back(Entry {
            key: k,
            etag: etag.to_owned(),
            body,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_served_only_under_its_etag() {
        let bodies = NotesBodies::default();
        bodies.put(
            "r1",
            NotesFormat::Json,
            NotesEncoding::Identity,
            "\"a\"",
            Bytes::from_static(b"{}"),
        );
        assert_eq!(
            bodies.get("r1", NotesFormat::Json, NotesEncoding::Identity, "\"a\""),
            Some(Bytes::from_static(b"{}"))
        );
        // A refresh elsewhere changed the stored ETag: not served any more.
        assert_eq!(
            bodies.get("r1", NotesFormat::Json, NotesEncoding::Identity, "\"b\""),
            None
        );
        // Other encodings and formats are other bodies.
        assert_eq!(
            bodies.get("r1", NotesFormat::Json, NotesEncoding::Gzip, "\"a\""),
            None
        );
        assert_eq!(
            bodies.get(
                "r1",
                NotesFormat::Markdown,
                NotesEncoding::Identity,
                "\"a\""
            ),
            None
        );
        // A newer body replaces the older one of the same key.
        bodies.put(
            "r1",
            NotesFormat::Json,
            NotesEncoding::Identity,
            "\"b\"",
            Bytes::from_static(b"[]"),
        );
        assert_eq!(
            bodies.get("r1", NotesFormat::Json, NotesEncoding::Identity, "\"a\""),
            None
        );
        assert_eq!(
            bodies.get("r1", NotesFormat::Json, NotesEncoding::Identity, "\"b\""),
            Some(Bytes::from_static(b"[]"))
        );
    }

    #[test]
    fn the_oldest_bodies_make_room() {
        let bodies = NotesBodies::default();
        let big = Bytes::from(vec![b'x'; CAPACITY / 2 + 1]);
        bodies.put(
            "r1",
            NotesFormat::Json,
            NotesEncoding::Identity,
            "\"1\"",
            big.clone(),
        );
        bodies.put(
            "r2",
            NotesFormat::Json,
            NotesEncoding::Identity,
            "\"2\"",
            big.clone(),
        );
        assert_eq!(
            bodies.get("r1", NotesFormat::Json, NotesEncoding::Identity, "\"1\""),
            None
        );
        assert!(
            bodies
                .get("r2", NotesFormat::Json, NotesEncoding::Identity, "\"2\"")
                .is_some()
        );
        bodies.put(
            "r3",
            NotesFormat::Json,
            NotesEncoding::Identity,
            "\"3\"",
            Bytes::from(vec![0; CAPACITY + 1]),
        );
        assert_eq!(
            bodies.get("r3", NotesFormat::Json, NotesEncoding::Identity, "\"3\""),
            None
        );
    }
}
