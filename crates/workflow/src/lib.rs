//! Promotion workflows: runner interface, local and Argo executors.
