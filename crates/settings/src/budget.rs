//! `configMax*`: how much of the configuration source is read at most
//! (docs/settings.md, "Configuration limits").

use ferry_config::Budget;

use crate::error::SettingsError;

/// The settings-file keys, as written.
#[derive(Debug, Clone, Default)]
pub(crate) struct BudgetKeys {
    pub max_files: Option<u64>,
    pub max_bytes: Option<u64>,
    pub max_file_bytes: Option<u64>,
    pub max_document_nodes: Option<u64>,
}

/// The file's keys, then `FERRY_CONFIG_MAX_*`, over the defaults; every
/// limit must be at least 1.
pub(crate) fn load(
    keys: BudgetKeys,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Budget, SettingsError> {
    let value =
        |key: &'static str, var: &str, file: Option<u64>| -> Result<Option<u64>, SettingsError> {
            let v = match env(var) {
                Some(text) => Some(text.trim().parse::<u64>().map_err(|_| SettingsError::Env {
                    name: var.into(),
                    message: format!("`{text}` is not a whole number"),
                })?),
                None => file,
            };
            if v == Some(0) {
                return Err(SettingsError::Value {
                    key,
                    message: "must be at least 1".into(),
                });
            }
            Ok(v)
        };
    let d = Budget::default();
    let count = |v: Option<u64>, default: usize| {
        v.map_or(default, |n| usize::try_from(n).unwrap_or(usize::MAX))
    };
    Ok(Budget {
        max_files: count(
            value("configMaxFiles", "FERRY_CONFIG_MAX_FILES", keys.max_files)?,
            d.max_files,
        ),
        max_bytes: value("configMaxBytes", "FERRY_CONFIG_MAX_BYTES", keys.max_bytes)?
            .unwrap_or(d.max_bytes),
        max_file_bytes: value(
            "configMaxFileBytes",
            "FERRY_CONFIG_MAX_FILE_BYTES",
            keys.max_file_bytes,
        )?
        .unwrap_or(d.max_file_bytes),
        max_document_nodes: count(
            value(
                "configMaxDocumentNodes",
                "FERRY_CONFIG_MAX_DOCUMENT_NODES",
                keys.max_document_nodes,
            )?,
            d.max_document_nodes,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment_over_defaults() {
        let none = |_: &str| None;
        assert_eq!(
            load(BudgetKeys::default(), &none).unwrap(),
            Budget::default()
        );
        let keys = BudgetKeys {
            max_bytes: Some(1_000),
            max_files: Some(7),
            ..BudgetKeys::default()
        };
        let env = |name: &str| (name == "FERRY_CONFIG_MAX_FILES").then(|| "9".to_owned());
        let b = load(keys, &env).unwrap();
        assert_eq!((b.max_files, b.max_bytes), (9, 1_000));
        assert_eq!(b.max_file_bytes, Budget::default().max_file_bytes);
    }

    #[test]
    fn zero_and_words_are_refused_by_name() {
        let keys = BudgetKeys {
            max_document_nodes: Some(0),
            ..BudgetKeys::default()
        };
        let err = load(keys, &|_: &str| None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "configMaxDocumentNodes: must be at least 1"
        );
        let env = |name: &str| (name == "FERRY_CONFIG_MAX_BYTES").then(|| "lots".to_owned());
        let err = load(BudgetKeys::default(), &env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable FERRY_CONFIG_MAX_BYTES: `lots` is not a whole number"
        );
    }
}
