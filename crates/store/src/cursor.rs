//! List cursors: keyset positions, opaque to clients. A product's list is
//! ordered by release number (strictly the creation order within the
//! product); the list of all products by id (ULIDs sort by creation time).

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cursor {
    /// Continue below this number (product lists).
    Number(u64),
    /// Continue below this id (lists across products).
    Id(String),
}

impl Cursor {
    pub fn encode(&self) -> String {
        match self {
            Cursor::Number(n) => format!("n{n}"),
            Cursor::Id(id) => format!("i{id}"),
        }
    }

    /// Decodes a cursor for a list that is (`by_number`) or is not a
    /// product list; a cursor from the other kind of list is refused.
    pub fn decode(text: &str, by_number: bool) -> Result<Cursor> {
        let bad = |reason| Error::BadCursor {
            cursor: text.to_string(),
            reason,
        };
        match (text.split_at_checked(1), by_number) {
            (Some(("n", n)), true) => n
                .parse()
                .map(Cursor::Number)
                .map_err(|_| bad("not a release number")),
            (Some(("i", id)), false)
                if !id.is_empty()
                    && id.len() <= 64
                    && id.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                Ok(Cursor::Id(id.to_string()))
            }
            (Some(("n", _)), false) => Err(bad("belongs to a product's list")),
            (Some(("i", _)), true) => Err(bad("belongs to the list of all products")),
            _ => Err(bad("not a cursor returned by this list")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let n = Cursor::Number(42);
        assert_eq!(Cursor::decode(&n.encode(), true).unwrap(), n);
        let i = Cursor::Id("01J0000000000000000000000A".into());
        assert_eq!(Cursor::decode(&i.encode(), false).unwrap(), i);
        assert!(matches!(
            Cursor::decode(&n.encode(), false),
            Err(Error::BadCursor { .. })
        ));
        assert!(matches!(
            Cursor::decode(&i.encode(), true),
            Err(Error::BadCursor { .. })
        ));
        for bad in ["", "n", "nx", "n-1", "i", "i'; drop", "zzz"] {
            assert!(Cursor::decode(bad, true).is_err(), "{bad}");
            assert!(Cursor::decode(bad, false).is_err(), "{bad}");
        }
    }
}
