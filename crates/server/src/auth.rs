//! Bearer-token authentication (SPEC §10; roles come with the security
//! issue). Tokens are only ever held as SHA-256 hashes, compared in
//! constant time, so neither the database nor a timing side channel gives
//! a token away.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::settings::Secret;

/// File in the data directory holding the generated admin token's hash.
pub const ADMIN_TOKEN_FILE: &str = "admin-token.sha256";

/// A known token: its name (the initiator of what it does) and hash.
#[derive(Clone)]
struct Known {
    name: String,
    hash: [u8; 32],
}

/// The tokens the server accepts.
#[derive(Clone)]
pub struct Tokens {
    known: Vec<Known>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("count", &self.known.len())
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("admin token file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("admin token file {path} is not a SHA-256 hex digest")]
    Corrupt { path: String },
    #[error("cannot generate a token: {0}")]
    Random(String),
}

pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Equal without an early exit, so the time taken does not reveal how
/// many leading bytes matched.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

impl Tokens {
    /// The bootstrap admin token: from the settings, else the hash stored
    /// in the data directory, else a new token whose hash is stored there.
    /// Returns the new token's value (to print once) when one was made.
    pub fn bootstrap(
        configured: Option<&Secret>,
        data_dir: &Path,
    ) -> Result<(Tokens, Option<String>), AuthError> {
        let path = data_dir.join(ADMIN_TOKEN_FILE);
        let io = |source| AuthError::Io {
            path: path.display().to_string(),
            source,
        };
        let (hash, generated) = if let Some(t) = configured {
            (hash(t.expose()), None)
        } else if path.exists() {
            let text = std::fs::read_to_string(&path).map_err(io)?;
            let bytes = hex::decode(text.trim()).map_err(|_| AuthError::Corrupt {
                path: path.display().to_string(),
            })?;
            let hash: [u8; 32] = bytes.try_into().map_err(|_| AuthError::Corrupt {
                path: path.display().to_string(),
            })?;
            (hash, None)
        } else {
            let mut raw = [0u8; 24];
            getrandom::fill(&mut raw).map_err(|e| AuthError::Random(e.to_string()))?;
            let token = format!("ferry_{}", hex::encode(raw));
            let h = hash(&token);
            write_private(&path, &hex::encode(h)).map_err(io)?;
            (h, Some(token))
        };
        Ok((
            Tokens {
                known: vec![Known {
                    name: "admin".into(),
                    hash,
                }],
            },
            generated,
        ))
    }

    /// The name of the token presented, if it is known.
    pub fn check(&self, presented: &str) -> Option<&str> {
        let h = hash(presented);
        // Compare against every entry so the time does not depend on which
        // one matched.
        let mut found = None;
        for k in &self.known {
            if constant_time_eq(&k.hash, &h) && found.is_none() {
                found = Some(k.name.as_str());
            }
        }
        found
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_then_recognised_by_hash() {
        let dir = tempfile::tempdir().unwrap();
        let (tokens, generated) = Tokens::bootstrap(None, dir.path()).unwrap();
        let token = generated.expect("a token is generated on first start");
        assert_eq!(tokens.check(&token), Some("admin"));
        assert_eq!(tokens.check("wrong"), None);
        let stored = std::fs::read_to_string(dir.path().join(ADMIN_TOKEN_FILE)).unwrap();
        assert!(!stored.contains(&token));
        let (again, none) = Tokens::bootstrap(None, dir.path()).unwrap();
        assert!(none.is_none(), "printed only once");
        assert_eq!(again.check(&token), Some("admin"));
    }

    #[test]
    fn configured_token_wins() {
        let dir = tempfile::tempdir().unwrap();
        let (tokens, generated) = Tokens::bootstrap(Some(&Secret::new("abc")), dir.path()).unwrap();
        assert!(generated.is_none());
        assert_eq!(tokens.check("abc"), Some("admin"));
        assert_eq!(tokens.check("abd"), None);
    }
}
