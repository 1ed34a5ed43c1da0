//! Which promoted values name container images, and how they changed.
//!
//! Values come in three shapes in GitOps repositories:
//! - a whole reference: `image: ghcr.io/acme/api:1.4.0` (also `@sha256:…`);
//! - a mapping: Helm's `image: {repository, tag}` (optionally `registry`),
//!   kustomize's `images: [{name, newName, newTag}]`;
//! - a tag alone, promoted by a path like `$.image.tag`, whose
//!   `repository` sits beside it in the same file but is not promoted.
//!   The caller looks those siblings up ([`Siblings`]), since this module
//!   does no I/O.
//!
//! A string is only taken for an image when it cannot be much else: it has
//! a tag or digest and a `/` (or sits under a key that says `image`), so a
//! promoted `version: 1.2.3` or `url: host:8080` is left alone.

use std::collections::BTreeMap;

use ferry_yamledit::{NormalizedPath, PathElement, PathValue, Value};

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `host[:port]`; `docker.io` when the reference names none.
    pub registry: String,
    /// The repository inside the registry, e.g. `acme/api` (Docker Hub
    /// official images get `library/`).
    pub name: String,
    pub tag: Option<String>,
    /// `sha256:…`
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses `[registry/]name[:tag][@digest]` (distribution's grammar).
    pub fn parse(text: &str) -> Option<ImageRef> {
        let text = text.trim();
        if text.is_empty() || text.len() > 512 || text.chars().any(char::is_whitespace) {
            return None;
        }
        let (rest, digest) = match text.split_once('@') {
            Some((r, d)) => (r, Some(d)),
            None => (text, None),
        };
        if let Some(d) = digest
            && !valid_digest(d)
        {
            return None;
        }
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name_part, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag
            && !valid_tag(t)
        {
            return None;
        }
        let (registry, path) = match name_part.split_once('/') {
            Some((first, path)) if first.contains(['.', ':']) || first == "localhost" => {
                (first.to_owned(), path.to_owned())
            }
            _ => ("docker.io".to_owned(), name_part.to_owned()),
        };
        if !registry_ok(&registry) || !path.split('/').all(valid_component) {
            return None;
        }
        let name = if registry == "docker.io" && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        Some(ImageRef {
            registry,
            name,
            tag: tag.map(str::to_owned),
            digest: digest.map(str::to_owned),
        })
    }

    /// `registry/name` as people write it (`docker.io/library/` omitted).
    pub fn repository(&self) -> String {
        if self.registry == "docker.io" {
            let short = self.name.strip_prefix("library/").unwrap_or(&self.name);
            short.to_owned()
        } else {
            format!("{}/{}", self.registry, self.name)
        }
    }

    /// What the registry is asked for: the digest when pinned, else the tag
    /// (`latest` when neither is written, as docker does).
    pub fn reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// The version part shown in the notes: `tag`, `tag@digest` or `@digest`.
    pub fn version(&self) -> String {
        match (&self.tag, &self.digest) {
            (Some(t), Some(d)) => format!("{t}@{d}"),
            (Some(t), None) => t.clone(),
            (None, Some(d)) => format!("@{d}"),
            (None, None) => "latest".into(),
        }
    }
}

fn valid_digest(d: &str) -> bool {
    match d.split_once(':') {
        Some((alg, hex)) => {
            !alg.is_empty()
                && alg
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b))
                && hex.len() >= 32
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
        }
        None => false,
    }
}

/// `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`
pub fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-')
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let ch = b[i];
        if ch.is_ascii_lowercase() || ch.is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && matches!(b[i], b'.' | b'_' | b'-') {
            i += 1;
        }
        let sep = &b[start..i];
        let ok = !sep.is_empty()
            && (sep == b"." || sep == b"_" || sep == b"__" || sep.iter().all(|&c| c == b'-'));
        if !ok {
            return false;
        }
    }
    true
}

fn registry_ok(r: &str) -> bool {
    !r.is_empty()
        && r.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
}

/// One promoted value that names an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageValue {
    pub file: String,
    /// Normalized JSONPath of the promoted value.
    pub path: String,
    pub image: ImageRef,
}

/// Looks up a string value at a JSONPath of a file of the application at
/// the snapshot's revision (the repository of a promoted tag).
pub trait Siblings {
    fn string_at(&self, file: &str, path: &str) -> Option<String>;
}

/// No file access: only promoted values are used.
pub struct NoSiblings;

impl Siblings for NoSiblings {
    fn string_at(&self, _: &str, _: &str) -> Option<String> {
        None
    }
}

/// Keys under which a lone string is an image even without a `/`.
fn says_image(key: Option<&str>) -> bool {
    key.is_some_and(|k| k.to_ascii_lowercase().contains("image"))
}

fn last_key(path: &NormalizedPath) -> Option<&str> {
    match path.elements().last() {
        Some(PathElement::Name(n)) => Some(n),
        _ => None,
    }
}

fn child(path: &NormalizedPath, key: &str) -> NormalizedPath {
    let mut p = path.clone();
    p.0.push(PathElement::Name(key.to_owned()));
    p
}

fn parent(path: &NormalizedPath) -> NormalizedPath {
    let mut p = path.clone();
    p.0.pop();
    p
}

fn scalar(v: &Value) -> Option<&str> {
    v.scalar_text().filter(|s| !s.is_empty())
}

fn field<'a>(entries: &'a [(String, Value)], key: &str) -> Option<&'a str> {
    entries
        .iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| scalar(v))
}

/// The image a mapping describes (Helm `{registry?, repository, tag}` or
/// kustomize `{name, newName?, newTag}` / `{…, digest}`).
fn from_mapping(entries: &[(String, Value)]) -> Option<ImageRef> {
    let (repo, tag, digest) = if let Some(repo) = field(entries, "repository") {
        let repo = match field(entries, "registry") {
            Some(reg) => format!("{}/{repo}", reg.trim_end_matches('/')),
            None => repo.to_owned(),
        };
        (repo, field(entries, "tag"), field(entries, "digest"))
    } else {
        let name = field(entries, "newName").or_else(|| field(entries, "name"))?;
        (
            name.to_owned(),
            field(entries, "newTag"),
            field(entries, "digest"),
        )
    };
    let mut text = repo;
    if let Some(t) = tag {
        text.push(':');
        text.push_str(t);
    }
    if let Some(d) = digest {
        text.push('@');
        text.push_str(d);
    }
    let image = ImageRef::parse(&text)?;
    (image.tag.is_some() || image.digest.is_some()).then_some(image)
}

/// The image named by the value at `path` of `file`, if it names one.
fn recognise(
    file: &str,
    path: &NormalizedPath,
    value: &Value,
    promoted: &[PathValue],
    siblings: &dyn Siblings,
) -> Option<ImageRef> {
    match value {
        Value::Mapping(entries) => from_mapping(entries),
        Value::Sequence(_) => None,
        Value::Scalar(_) => {
            let text = scalar(value)?;
            let key = last_key(path);
            if key.is_some_and(|k| k == "tag" || k == "newTag" || k.ends_with("Tag")) {
                if !valid_tag(text) {
                    return None;
                }
                let up = parent(path);
                let repo_key = if key == Some("newTag") {
                    ["newName", "name"].as_slice()
                } else {
                    ["repository"].as_slice()
                };
                let registry_path = child(&up, "registry");
                let lookup = |p: &NormalizedPath| {
                    promoted
                        .iter()
                        .find(|pv| &pv.path == p)
                        .and_then(|pv| scalar(&pv.value).map(str::to_owned))
                        .or_else(|| siblings.string_at(file, &p.to_string()))
                };
                let repo = repo_key.iter().find_map(|k| lookup(&child(&up, k)))?;
                let repo = match lookup(&registry_path) {
                    Some(reg) => format!("{}/{repo}", reg.trim_end_matches('/')),
                    None => repo,
                };
                return ImageRef::parse(&format!("{repo}:{text}"));
            }
            let image = ImageRef::parse(text)?;
            let pinned = image.tag.is_some() || image.digest.is_some();
            let qualified = text.contains('/') || says_image(key);
            (pinned && qualified).then_some(image)
        }
    }
}

/// Every image among an application's promoted values, by `(file, path)`.
pub fn images_in(
    values: &BTreeMap<String, Vec<PathValue>>,
    siblings: &dyn Siblings,
) -> Vec<ImageValue> {
    let mut out = Vec::new();
    for (file, promoted) in values {
        for pv in promoted {
            if let Some(image) = recognise(file, &pv.path, &pv.value, promoted, siblings) {
                out.push(ImageValue {
                    file: file.clone(),
                    path: pv.path.to_string(),
                    image,
                });
            }
        }
    }
    out
}

/// An image value that differs between the previous and this release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub file: String,
    pub path: String,
    pub old: Option<ImageRef>,
    pub new: ImageRef,
}

/// Pairs new image values with old ones at the same file and path (or, when
/// the path moved, the same repository); unchanged ones are dropped.
pub fn changes(old: &[ImageValue], new: &[ImageValue]) -> Vec<Changed> {
    let mut out = Vec::new();
    for n in new {
        let o = old
            .iter()
            .find(|o| o.file == n.file && o.path == n.path)
            .or_else(|| {
                old.iter()
                    .find(|o| o.image.repository() == n.image.repository())
            });
        if o.is_some_and(|o| o.image == n.image) {
            continue;
        }
        // The same image promoted at two paths is one change.
        if out
            .iter()
            .any(|c: &Changed| c.new == n.image && c.old.as_ref() == o.map(|o| &o.image))
        {
            continue;
        }
        out.push(Changed {
            file: n.file.clone(),
            path: n.path.clone(),
            old: o.map(|o| o.image.clone()),
            new: n.image.clone(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_yamledit::Scalar;

    fn pv(path: &str, v: Value) -> PathValue {
        PathValue {
            path: path.parse().unwrap(),
            value: v,
        }
    }

    fn s(text: &str) -> Value {
        Value::Scalar(Scalar::string(text))
    }

    #[test]
    fn references() {
        let r = ImageRef::parse("ghcr.io/acme/api:1.4.0").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.name.as_str(), r.tag.as_deref()),
            ("ghcr.io", "acme/api", Some("1.4.0"))
        );
        let r = ImageRef::parse("127.0.0.1:5000/team/web:main-abc123").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository(), "127.0.0.1:5000/team/web");
        let r = ImageRef::parse("nginx:1.25").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.name.as_str()),
            ("docker.io", "library/nginx")
        );
        assert_eq!(r.repository(), "nginx");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = ImageRef::parse(&format!("quay.io/x/y@{d}")).unwrap();
        assert_eq!(r.reference(), d);
        assert_eq!(ImageRef::parse("Upper/Case:1"), None);
        assert_eq!(ImageRef::parse("a b:1"), None);
        assert_eq!(ImageRef::parse("x/y:bad tag"), None);
        assert_eq!(ImageRef::parse("x/y@sha256:zz"), None);
    }

    #[test]
    fn recognised_shapes() {
        let mut values = BTreeMap::new();
        values.insert(
            "values.yaml".to_string(),
            vec![
                pv("$['web']['image']", s("ghcr.io/acme/web:2.0.0")),
                pv("$['version']", s("1.2.3")),
                pv("$['url']", s("db:5432")),
                pv("$['api']['image']['tag']", s("main-abc1234")),
                pv(
                    "$['worker']['image']",
                    Value::Mapping(vec![
                        ("repository".into(), s("acme/worker")),
                        ("tag".into(), s("v3")),
                    ]),
                ),
                pv("$['sidecar']", s("envoy:1.30")),
                pv("$['proxyImage']", s("envoy:1.30")),
            ],
        );
        struct Files;
        impl Siblings for Files {
            fn string_at(&self, file: &str, path: &str) -> Option<String> {
                (file == "values.yaml" && path == "$['api']['image']['repository']")
                    .then(|| "ghcr.io/acme/api".to_string())
            }
        }
        let found = images_in(&values, &Files);
        let names: Vec<_> = found
            .iter()
            .map(|i| format!("{}={}:{}", i.path, i.image.repository(), i.image.version()))
            .collect();
        assert_eq!(
            names,
            [
                "$['web']['image']=ghcr.io/acme/web:2.0.0",
                "$['api']['image']['tag']=ghcr.io/acme/api:main-abc1234",
                "$['worker']['image']=acme/worker:v3",
                "$['proxyImage']=envoy:1.30",
            ]
        );
        // Without the file, a lone tag names no image.
        assert_eq!(images_in(&values, &NoSiblings).len(), 3);
    }

    #[test]
    fn pairing_old_and_new() {
        let img = |path: &str, r: &str| ImageValue {
            file: "v.yaml".into(),
            path: path.into(),
            image: ImageRef::parse(r).unwrap(),
        };
        let old = [img("$['a']", "r.io/a:1"), img("$['b']", "r.io/b:1")];
        let new = [
            img("$['a']", "r.io/a:2"),
            img("$['b']", "r.io/b:1"),
            img("$['moved']", "r.io/a:2"),
            img("$['c']", "r.io/c:1"),
        ];
        let ch = changes(&old, &new);
        let shown: Vec<_> = ch
            .iter()
            .map(|c| {
                format!(
                    "{} {}→{}",
                    c.path,
                    c.old.as_ref().map_or("-".into(), |o| o.version()),
                    c.new.version()
                )
            })
            .collect();
        assert_eq!(shown, ["$['a'] 1→2", "$['c'] -→1"]);
    }
}
