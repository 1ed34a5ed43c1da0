//! GitOps changes: snapshots of promotable properties and applying them to target applications.
