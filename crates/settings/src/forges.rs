//! `FERRY_FORGE_*`: the first `[[forges]]` entry from the environment (the
//! entries themselves are `ferry_forge::ForgeEntry`).

use crate::error::SettingsError;

/// `FERRY_FORGE_KIND`, `_REPO_PREFIX`, `_API_URL`, `_TOKEN` and
/// `_WEBHOOK_SECRET` apply to the first `[[forges]]` entry (created when
/// absent), like `FERRY_ARGOCD_*`: one forge configured from a
/// Kubernetes Secret without a settings file.
pub(crate) fn forge_env(
    list: &mut Vec<ferry_forge::ForgeEntry>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(), SettingsError> {
    let (kind, prefix, api, token, secret) = (
        env("FERRY_FORGE_KIND"),
        env("FERRY_FORGE_REPO_PREFIX"),
        env("FERRY_FORGE_API_URL"),
        env("FERRY_FORGE_TOKEN"),
        env("FERRY_FORGE_WEBHOOK_SECRET"),
    );
    if kind.is_none() && prefix.is_none() && api.is_none() && token.is_none() && secret.is_none() {
        return Ok(());
    }
    if list.is_empty() {
        list.push(ferry_forge::ForgeEntry::default());
    }
    let first = &mut list[0];
    if let Some(v) = kind {
        first.kind = Some(
            ferry_forge::ForgeKind::parse(&v).ok_or_else(|| SettingsError::Env {
                name: "FERRY_FORGE_KIND".into(),
                message: format!("`{v}` is not a forge ({})", ferry_forge::ForgeKind::NAMES),
            })?,
        );
    }
    if let Some(v) = prefix {
        first.repo_prefix = v;
    }
    if let Some(v) = api {
        first.api_url = Some(v);
    }
    if let Some(v) = token {
        first.token = Some(ferry_forge::Secret::new(v));
        first.token_env = None;
        first.token_file = None;
    }
    if let Some(v) = secret {
        first.webhook_secret = Some(ferry_forge::Secret::new(v));
        first.webhook_secret_env = None;
    }
    Ok(())
}
