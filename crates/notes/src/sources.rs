//! The product's `spec.releaseNotes.sources` mapping: for images whose
//! registry has no source labels, which Git repository built them and how
//! a tag names a revision (`main-{sha}`, `v{version}`, `{version}`).

use ferry_model::resource::ReleaseNotesSpec;

use crate::image::ImageRef;

/// What a tag's placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholder {
    Sha,
    Version,
}

/// `prefix{sha|version}suffix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagPattern {
    prefix: String,
    placeholder: Placeholder,
    suffix: String,
}

impl TagPattern {
    /// `None` when the pattern has no placeholder (validation reports it).
    pub fn parse(pattern: &str) -> Option<TagPattern> {
        for (token, placeholder) in [
            ("{sha}", Placeholder::Sha),
            ("{version}", Placeholder::Version),
        ] {
            if let Some((prefix, suffix)) = pattern.split_once(token) {
                return Some(TagPattern {
                    prefix: prefix.to_owned(),
                    placeholder,
                    suffix: suffix.to_owned(),
                });
            }
        }
        None
    }

    /// The Git revisions a tag may stand for, most likely first.
    pub fn revisions(&self, tag: &str) -> Option<Vec<String>> {
        let inner = tag.strip_prefix(&self.prefix)?.strip_suffix(&self.suffix)?;
        if inner.is_empty() {
            return None;
        }
        match self.placeholder {
            Placeholder::Sha => (inner.len() >= 4
                && inner.len() <= 40
                && inner.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| vec![inner.to_ascii_lowercase()]),
            Placeholder::Version => {
                let mut out = vec![tag.to_owned(), inner.to_owned(), format!("v{inner}")];
                out.dedup();
                let mut seen = Vec::new();
                out.retain(|r| {
                    let new = !seen.contains(r);
                    seen.push(r.clone());
                    new
                });
                Some(out)
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    /// `(registry, name)` as [`ImageRef`] normalizes them, or the raw text.
    image: Result<(String, String), String>,
    repo_url: String,
    pattern: Option<TagPattern>,
}

/// The mapping of one product.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    entries: Vec<Entry>,
}

/// A mapping hit: the repository, and the revisions the tag may name
/// (empty when the tag does not fit the pattern, or the image is pinned
/// by digest only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped<'a> {
    pub repo_url: &'a str,
    pub revisions: Vec<String>,
}

impl SourceMap {
    pub fn from_spec(spec: Option<&ReleaseNotesSpec>) -> SourceMap {
        let entries = spec
            .map(|s| s.sources.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|s| Entry {
                image: ImageRef::parse(&format!("{}:x", s.image.trim()))
                    .map(|r| (r.registry, r.name))
                    .ok_or_else(|| s.image.trim().to_owned()),
                repo_url: s.repo_url.clone(),
                pattern: s.tag_pattern.as_deref().and_then(TagPattern::parse),
            })
            .collect();
        SourceMap { entries }
    }

    /// The mapping entry of `image`, with the revisions its tag may name.
    pub fn lookup(&self, image: &ImageRef) -> Option<Mapped<'_>> {
        let entry = self.entries.iter().find(|e| match &e.image {
            Ok((registry, name)) => *registry == image.registry && *name == image.name,
            Err(raw) => *raw == image.repository(),
        })?;
        let revisions = match (&image.tag, &entry.pattern) {
            (None, _) => Vec::new(),
            (Some(tag), Some(p)) => p.revisions(tag).unwrap_or_default(),
            (Some(tag), None) => vec![tag.clone()],
        };
        Some(Mapped {
            repo_url: &entry.repo_url,
            revisions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_model::resource::ReleaseNotesSource;

    fn map() -> SourceMap {
        SourceMap::from_spec(Some(&ReleaseNotesSpec {
            sources: vec![
                ReleaseNotesSource {
                    image: "ghcr.io/acme/api".into(),
                    repo_url: "https://git.example.com/acme/api.git".into(),
                    tag_pattern: Some("main-{sha}".into()),
                },
                ReleaseNotesSource {
                    image: "nginx".into(),
                    repo_url: "https://git.example.com/acme/nginx.git".into(),
                    tag_pattern: Some("v{version}".into()),
                },
                ReleaseNotesSource {
                    image: "registry.example.com/acme/web".into(),
                    repo_url: "https://git.example.com/acme/web.git".into(),
                    tag_pattern: None,
                },
            ],
            ..ReleaseNotesSpec::default()
        }))
    }

    fn look(r: &str) -> Option<(String, Vec<String>)> {
        let m = map();
        m.lookup(&ImageRef::parse(r).unwrap())
            .map(|h| (h.repo_url.to_owned(), h.revisions))
    }

    #[test]
    fn patterns() {
        assert_eq!(
            look("ghcr.io/acme/api:main-ABC1234").unwrap().1,
            ["abc1234"]
        );
        assert_eq!(
            look("ghcr.io/acme/api:feature-abc").unwrap().1,
            Vec::<String>::new()
        );
        assert_eq!(
            look("ghcr.io/acme/api:main-xyz1234").unwrap().1,
            Vec::<String>::new()
        );
        assert_eq!(
            look("docker.io/library/nginx:v1.25.3").unwrap().1,
            ["v1.25.3", "1.25.3"]
        );
        assert_eq!(
            look("registry.example.com/acme/web:2024.05").unwrap(),
            (
                "https://git.example.com/acme/web.git".to_owned(),
                vec!["2024.05".to_owned()]
            )
        );
        assert_eq!(look("ghcr.io/acme/other:1"), None);
        let p = TagPattern::parse("{version}").unwrap();
        assert_eq!(p.revisions("1.2").unwrap(), ["1.2", "v1.2"]);
        assert_eq!(TagPattern::parse("latest"), None);
    }
}
