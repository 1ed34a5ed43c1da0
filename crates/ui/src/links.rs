//! Where the things a release names live outside ferry, so every page can
//! link out to them: a commit on its forge's web pages (the kind from the
//! forge settings, else guessed from the host), a repository's web page,
//! an Argo CD application in Argo CD's UI. A local repository (a path or
//! `file://`, as in `ferry demo`) has no web page: it is shown as a path,
//! never as a link that cannot open.

use std::collections::HashMap;

use ferry_forge::ForgeKind;
use ferry_release::Release;

use crate::layout::repo_shown;

/// How a forge spells a commit's page below the repository's.
fn commit_path(kind: Option<ForgeKind>, host: &str) -> &'static str {
    let host = host.to_ascii_lowercase();
    match kind {
        Some(ForgeKind::Gitlab) => "-/commit",
        Some(ForgeKind::Bitbucket) => "commits",
        Some(_) => "commit",
        None if host == "gitlab.com" || host.starts_with("gitlab.") => "-/commit",
        None if host == "bitbucket.org" => "commits",
        None => "commit",
    }
}

/// Whether `url` is a repository on this machine (a path or `file://`).
pub fn is_local(url: &str) -> bool {
    let url = url.trim();
    url.starts_with('/')
        || url.starts_with("./")
        || url.starts_with("../")
        || url.to_ascii_lowercase().starts_with("file://")
        || !(url.contains("://") || scp_like(url).is_some())
}

/// `user@host:path` (not a Windows drive, not a path).
fn scp_like(url: &str) -> Option<(&str, &str)> {
    let (h, p) = url.split_once(':')?;
    (!h.contains('/') && h.len() > 1 && !p.starts_with("//"))
        .then(|| (h.rsplit_once('@').map_or(h, |(_, h)| h), p))
}

/// The repository's web page: `https://host/owner/repo` for HTTP(S),
/// SSH and scp-like URLs (credentials, `.git` and an SSH port dropped;
/// Azure DevOps' SSH form mapped to its web form); `None` for a local
/// repository or a URL that is not understood.
pub fn repo_web(repo_url: &str) -> Option<String> {
    let url = repo_url.trim();
    let trim = |p: &str| -> String {
        let p = p.trim_matches('/');
        p.strip_suffix(".git").unwrap_or(p).to_owned()
    };
    let (base, path) = if let Some((scheme, rest)) = url.split_once("://") {
        let scheme = scheme.to_ascii_lowercase();
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        match scheme.as_str() {
            "http" | "https" => (format!("{scheme}://{host}"), trim(path)),
            "ssh" | "git+ssh" => {
                let host = host.split(':').next().unwrap_or(host);
                (format!("https://{host}"), trim(path))
            }
            _ => return None,
        }
    } else {
        let (host, path) = scp_like(url)?;
        (format!("https://{host}"), trim(path))
    };
    if path.is_empty() || base.ends_with("://") {
        return None;
    }
    // git@ssh.dev.azure.com:v3/org/project/repo → dev.azure.com/org/project/_git/repo
    if base.eq_ignore_ascii_case("https://ssh.dev.azure.com") {
        let parts: Vec<&str> = path.trim_start_matches("v3/").split('/').collect();
        if let [org, project, repo] = parts.as_slice() {
            return Some(format!("https://dev.azure.com/{org}/{project}/_git/{repo}"));
        }
        return None;
    }
    Some(format!("{base}/{path}"))
}

fn host_of(web: &str) -> &str {
    let rest = web.split_once("://").map_or(web, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority.split(':').next().unwrap_or(authority)
}

/// The links of one page: the forge kind of each repository it names
/// (from the settings' `[[forges]]`) and the Argo CD UI address of each
/// application bound to an Argo CD instance.
#[derive(Debug, Default, Clone)]
pub struct Links {
    kinds: HashMap<String, ForgeKind>,
    argocd: HashMap<String, String>,
}

impl Links {
    /// Links for `r`'s repositories and applications.
    pub async fn for_release(st: &ferry_api::Shared, r: &Release) -> Links {
        let mut links = Links::default();
        let repos = std::iter::once(r.trigger.repo_url.as_str()).chain(
            r.environments
                .iter()
                .flat_map(|e| &e.applications)
                .map(|a| a.repo_url.as_str()),
        );
        for url in repos {
            links.learn_forge(&st.forges, url);
        }
        if let Some(argocd) = &st.argocd {
            let refs: Vec<ferry_appstate::AppRef> = r
                .environments
                .iter()
                .flat_map(|e| &e.applications)
                .map(|a| ferry_appstate::AppRef {
                    name: a.name.clone(),
                    namespace: a.namespace.clone(),
                    repo_url: a.repo_url.clone(),
                    path: a.path.clone(),
                    target_revision: a.target_revision.clone(),
                })
                .collect();
            for (app, (_, obs)) in refs.iter().zip(argocd.live(&refs).await) {
                if let Some(link) = obs.and_then(|o| o.state.link) {
                    links.argocd.insert(app.name.clone(), link);
                }
            }
        }
        links
    }

    /// Notes the forge that handles `url`, if one does.
    pub fn learn_forge(&mut self, forges: &ferry_forge::Registry, url: &str) {
        if url.is_empty() || self.kinds.contains_key(url) {
            return;
        }
        if let Some(f) = forges.for_repo(url) {
            self.kinds.insert(url.to_owned(), f.forge.kind());
        }
    }

    /// A commit's page on its forge; `None` for a local repository.
    pub fn commit(&self, repo_url: &str, sha: &str) -> Option<String> {
        if sha.is_empty() || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let web = repo_web(repo_url)?;
        let path = commit_path(self.kinds.get(repo_url).copied(), host_of(&web));
        Some(format!("{web}/{path}/{sha}"))
    }

    /// The application's page in Argo CD's UI, when Argo CD watches it.
    pub fn argocd(&self, application: &str) -> Option<&str> {
        self.argocd.get(application).map(String::as_str)
    }

    /// `url` as a link target when it is one (http or https), else `None`
    /// (a pull request of the demo has no URL; a local path is no link).
    pub fn web(url: &str) -> Option<String> {
        let lower = url.trim().to_ascii_lowercase();
        (lower.starts_with("https://") || lower.starts_with("http://"))
            .then(|| repo_shown(url.trim()))
            .filter(|u| !u.contains("***"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_have_web_pages_unless_they_are_local() {
        for (url, web) in [
            (
                "https://github.com/acme/gitops.git",
                Some("https://github.com/acme/gitops"),
            ),
            (
                "https://user:pw@git.example:8443/a/b/",
                Some("https://git.example:8443/a/b"),
            ),
            (
                "git@github.com:acme/gitops.git",
                Some("https://github.com/acme/gitops"),
            ),
            (
                "ssh://git@gitlab.example:2222/group/sub/repo.git",
                Some("https://gitlab.example/group/sub/repo"),
            ),
            (
                "git@ssh.dev.azure.com:v3/org/proj/repo",
                Some("https://dev.azure.com/org/proj/_git/repo"),
            ),
            ("/home/me/ferry-demo/repos/gitops.git", None),
            ("file:///tmp/gitops.git", None),
            ("gitops", None),
        ] {
            assert_eq!(repo_web(url).as_deref(), web, "{url}");
            assert_eq!(is_local(url), web.is_none(), "{url}");
        }
    }

    #[test]
    fn commit_pages_follow_the_forge() {
        let mut links = Links::default();
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            links.commit("https://github.com/a/b.git", sha).unwrap(),
            format!("https://github.com/a/b/commit/{sha}")
        );
        assert_eq!(
            links.commit("git@gitlab.com:g/r.git", sha).unwrap(),
            format!("https://gitlab.com/g/r/-/commit/{sha}")
        );
        assert_eq!(
            links.commit("https://bitbucket.org/w/r.git", sha).unwrap(),
            format!("https://bitbucket.org/w/r/commits/{sha}")
        );
        // A self-hosted GitLab known from the settings.
        links
            .kinds
            .insert("https://code.example/g/r.git".into(), ForgeKind::Gitlab);
        assert_eq!(
            links.commit("https://code.example/g/r.git", sha).unwrap(),
            format!("https://code.example/g/r/-/commit/{sha}")
        );
        assert_eq!(links.commit("/tmp/r.git", sha), None);
        assert_eq!(links.commit("https://github.com/a/b", "HEAD~1"), None);
        assert_eq!(
            Links::web("https://forge.example/pr/1").as_deref(),
            Some("https://forge.example/pr/1")
        );
        assert_eq!(Links::web("/tmp/repo.git"), None);
        assert_eq!(Links::web(""), None);
    }
}
