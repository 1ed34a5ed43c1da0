/// Why a snapshot could not be read or applied.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Git(#[from] ferry_git::Error),
    #[error("{file}: {source}")]
    Yaml {
        file: String,
        source: ferry_yamledit::Error,
    },
    /// `..` or an absolute path in a template's file name.
    #[error(
        "{field}: `{file}` leaves the application's directory (`..` and absolute paths are refused)"
    )]
    PathEscapes { field: &'static str, file: String },
    /// A symbolic link on the way to a promoted file (or the file itself):
    /// following it could read or write outside the application's
    /// directory, so it is refused rather than followed or skipped.
    #[error(
        "{field}: `{file}`: `{link}` is a symbolic link; ferry does not read or write through links (they may lead out of the application's directory)"
    )]
    Symlink {
        field: &'static str,
        file: String,
        link: String,
    },
    #[error("promoted file `{file}` does not exist in {application} at {revision}")]
    MissingSourceFile {
        application: String,
        file: String,
        revision: String,
    },
    #[error(
        "promoted file `{file}` does not exist in the target application at {revision}; create it first or promote it whole (`*`)"
    )]
    MissingTargetFile { file: String, revision: String },
    #[error("`{file}` is not UTF-8 text; only text files can be promoted")]
    NotText { file: String },
    #[error("application source path `{path}` does not exist at {revision}")]
    MissingPath { path: String, revision: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
