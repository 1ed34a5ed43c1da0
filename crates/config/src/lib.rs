//! Configuration sources (directory tree or Git configuration repository) → model::Config.
