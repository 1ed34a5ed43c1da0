//! Bearer-token authentication and roles (SPEC §10 Auth).
//!
//! Tokens are only ever held as SHA-256 hashes, so neither the database
//! nor the data directory gives a token away. The bootstrap admin token
//! (settings, or generated and printed once on first start) is compared in
//! constant time; tokens made through the API live in the store and are
//! looked up by their hash (a lookup by the hash of a 192-bit random value
//! reveals nothing usable through its timing).
//!
//! Roles are ordered: `viewer` reads, `promoter` also promotes,
//! terminates, retries and resumes, `admin` also manages tokens and reads
//! the audit log. A promoter may be scoped to products and to
//! non-production environments (Environment `spec.kind` other than `PROD`).

use std::path::Path;

use sha2::{Digest, Sha256};

use ferry_settings::Secret;

/// File in the data directory holding the generated admin token's hash.
pub const ADMIN_TOKEN_FILE: &str = "admin-token.sha256";

/// Prefix of every token ferry makes, so a leaked one is recognisable
/// (secret scanners, log greps).
pub const TOKEN_PREFIX: &str = "ferry_";

/// A known token: its name (the initiator of what it does) and hash.
#[derive(Clone)]
struct Known {
    name: String,
    hash: [u8; 32],
}

/// The tokens the server accepts: the bootstrap admin token, and those
/// stored in the database once [`Tokens::with_store`] attached it.
#[derive(Clone)]
pub struct Tokens {
    known: Vec<Known>,
    store: Option<ferry_store::Store>,
}

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Viewer,
    Promoter,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Promoter => "promoter",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "viewer" => Some(Role::Viewer),
            "promoter" => Some(Role::Promoter),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a promoter may act. The default is everywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Products the caller may act on; empty means every product.
    pub products: Vec<String>,
    /// Only environments that are not production (`spec.kind: PROD`).
    pub non_production: bool,
}

/// An authenticated caller: who (the token's name, the initiator of what
/// they do), their role and scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub role: Role,
    pub scope: Scope,
}

/// Why a caller may not do something; the text says what was needed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

impl Principal {
    /// At least `role`.
    pub fn require(&self, role: Role) -> Result<(), Denied> {
        if self.role >= role {
            Ok(())
        } else {
            Err(Denied(format!(
                "this needs the `{role}` role; token `{}` has `{}`",
                self.name, self.role
            )))
        }
    }

    /// May promote `product` into (or terminate, retry, resume work in)
    /// an environment; `production` says whether that environment is
    /// production (unknown environments count as production).
    pub fn may_promote(&self, product: &str, production: bool) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Viewer => false,
            Role::Promoter => {
                (self.scope.products.is_empty() || self.scope.products.iter().any(|p| p == product))
                    && !(production && self.scope.non_production)
            }
        }
    }

    /// [`Principal::may_promote`] for every one of `environments`
    /// (name, is production), as an error naming the first refused one.
    pub fn check_promote<'a>(
        &self,
        product: &str,
        environments: impl IntoIterator<Item = (&'a str, bool)>,
    ) -> Result<(), Denied> {
        self.require(Role::Promoter)?;
        for (env, production) in environments {
            if !self.may_promote(product, production) {
                let why = if !self.scope.products.is_empty()
                    && !self.scope.products.iter().any(|p| p == product)
                {
                    format!("product `{product}` is outside its scope")
                } else {
                    format!("environment `{env}` is production and it is limited to non-production")
                };
                return Err(Denied(format!(
                    "token `{}` may not act here: {why}",
                    self.name
                )));
            }
        }
        Ok(())
    }
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

/// A new random token (`ferry_` + 48 hex digits: 192 bits).
pub fn generate() -> Result<String, AuthError> {
    let mut raw = [0u8; 24];
    getrandom::fill(&mut raw).map_err(|e| AuthError::Random(e.to_string()))?;
    Ok(format!("{TOKEN_PREFIX}{}", hex::encode(raw)))
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
            let token = generate()?;
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
                store: None,
            },
            generated,
        ))
    }

    /// Also accepts the tokens stored in `store` (made by `ferry token
    /// create`).
    pub fn with_store(mut self, store: ferry_store::Store) -> Tokens {
        self.store = Some(store);
        self
    }

    /// The caller a presented token stands for: the bootstrap admin, else a
    /// live stored token; `None` for an unknown or revoked token. A stored
    /// token whose role is unreadable is refused rather than guessed.
    pub async fn principal(
        &self,
        presented: &str,
    ) -> Result<Option<Principal>, ferry_store::Error> {
        self.principal_by_hash(&hash(presented)).await
    }

    /// [`Tokens::principal`] from the token's SHA-256 (what a UI session
    /// keeps): a session acts with its token's *current* role and ends
    /// when the token is revoked.
    pub async fn principal_by_hash(
        &self,
        h: &[u8; 32],
    ) -> Result<Option<Principal>, ferry_store::Error> {
        if let Some(name) = self.check_hash(h) {
            return Ok(Some(Principal {
                name: name.to_owned(),
                role: Role::Admin,
                scope: Scope::default(),
            }));
        }
        let Some(store) = &self.store else {
            return Ok(None);
        };
        let Some(record) = store.token_by_hash(&hex::encode(h)).await? else {
            return Ok(None);
        };
        Ok(Role::parse(&record.role).map(|role| Principal {
            name: record.name,
            role,
            scope: Scope {
                products: record.products,
                non_production: record.non_production,
            },
        }))
    }

    /// The name of the bootstrap token presented, if it is that one (the
    /// stored tokens need [`Tokens::principal`]).
    pub fn check(&self, presented: &str) -> Option<&str> {
        self.check_hash(&hash(presented))
    }

    fn check_hash(&self, h: &[u8; 32]) -> Option<&str> {
        // Compare against every entry so the time does not depend on which
        // one matched.
        let mut found = None;
        for k in &self.known {
            if constant_time_eq(&k.hash, h) && found.is_none() {
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

    fn principal(role: Role, products: &[&str], non_production: bool) -> Principal {
        Principal {
            name: "t".into(),
            role,
            scope: Scope {
                products: products.iter().map(|p| p.to_string()).collect(),
                non_production,
            },
        }
    }

    #[test]
    fn roles_are_ordered_and_scopes_limit_promoters_only() {
        let viewer = principal(Role::Viewer, &[], false);
        let promoter = principal(Role::Promoter, &[], false);
        let admin = principal(Role::Admin, &[], false);
        assert!(viewer.require(Role::Viewer).is_ok());
        assert!(viewer.require(Role::Promoter).is_err());
        assert!(promoter.require(Role::Promoter).is_ok());
        assert!(promoter.require(Role::Admin).is_err());
        assert!(admin.require(Role::Admin).is_ok());
        assert!(!viewer.may_promote("shop", false));
        assert!(promoter.may_promote("shop", true));
        assert!(admin.may_promote("shop", true));

        let scoped = principal(Role::Promoter, &["shop"], true);
        assert!(scoped.may_promote("shop", false));
        assert!(!scoped.may_promote("shop", true));
        assert!(!scoped.may_promote("bank", false));
        let e = scoped
            .check_promote("shop", [("qa", false), ("prod", true)])
            .unwrap_err();
        assert!(e.0.contains("`prod` is production"), "{e}");
        let e = scoped.check_promote("bank", [("qa", false)]).unwrap_err();
        assert!(e.0.contains("product `bank`"), "{e}");
        let e = viewer.check_promote("shop", [("qa", false)]).unwrap_err();
        assert!(e.0.contains("`promoter` role"), "{e}");
        for r in [Role::Viewer, Role::Promoter, Role::Admin] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[tokio::test]
    async fn stored_tokens_become_principals_until_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let store = ferry_store::Store::open_sqlite_file(&dir.path().join("t.db"))
            .await
            .unwrap();
        let (tokens, _) = Tokens::bootstrap(Some(&Secret::new("boot")), dir.path()).unwrap();
        let tokens = tokens.with_store(store.clone());
        let value = generate().unwrap();
        store
            .token_create(&ferry_store::NewToken {
                id: "t1".into(),
                name: "ci".into(),
                hash: hex::encode(hash(&value)),
                role: "promoter".into(),
                products: vec!["shop".into()],
                non_production: true,
                created_by: "admin".into(),
            })
            .await
            .unwrap();
        let p = tokens.principal(&value).await.unwrap().unwrap();
        assert_eq!(p.name, "ci");
        assert_eq!(p.role, Role::Promoter);
        assert_eq!(p.scope.products, ["shop"]);
        assert!(p.scope.non_production);
        let boot = tokens.principal("boot").await.unwrap().unwrap();
        assert_eq!((boot.name.as_str(), boot.role), ("admin", Role::Admin));
        assert!(tokens.principal("nope").await.unwrap().is_none());
        store.token_revoke("ci", "admin").await.unwrap().unwrap();
        assert!(tokens.principal(&value).await.unwrap().is_none());
    }
}
