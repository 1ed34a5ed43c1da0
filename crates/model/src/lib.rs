//! Resource model: see ARCHITECTURE.md.
