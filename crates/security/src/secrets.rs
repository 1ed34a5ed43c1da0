//! Every secret the process knows (tokens, Git passwords, workflow
//! secrets), masked together with URL credentials wherever text leaves
//! ferry: API errors, workflow logs and messages, log lines.
//! Process-wide because errors are converted far from the server's state.

/// The registered secrets.
static REDACTOR: std::sync::LazyLock<std::sync::RwLock<ferry_git::Redactor>> =
    std::sync::LazyLock::new(Default::default);

/// Registers a secret to mask in every error the API returns.
pub fn register_secret(secret: &str) {
    REDACTOR
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .add(secret.to_owned());
}

/// Masks known secrets and URL credentials in `text`.
pub fn redact(text: &str) -> String {
    REDACTOR
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .redact(text)
}
