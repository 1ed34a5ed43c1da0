//! The program's parts, from its settings: what `ferry serve` runs besides
//! the HTTP layers.
//!
//! [`Parts::build`] turns [`ferry_settings::Settings`] into the store,
//! the configuration (an invalid one at start is an error), the Git
//! workspace with credentials by longest repository prefix, the workflow
//! executor (local, or Argo Workflows with `[argoWorkflows]`) behind the
//! redacting runner, the state provider (`git`, or a router over the
//! `[[argocd]]` instances with discovery, see [`argocd`]), the forges, the
//! release-notes builder and the engine; every secret it meets is
//! registered for masking. The tasks that keep the parts current run
//! until a [`CancelFlag`] is set: live configuration ([`live`]), Argo CD
//! discovery, the commit-status publisher ([`forges`]) and the relay of
//! other replicas' events ([`replica`]), the store's write probe
//! ([`health`]) and the recording of delivery insights' facts
//! ([`insights`]), and notifications out ([`notifications`]: the
//! outbox writer and courier of `ferry-notify`). [`demo`] stands in for a forge
//! when the GitOps repositories are local (`ferry demo`).
//!
//! Modules form a DAG: `parts` → `error` → `live` → `argocd` → `cancel`,
//! `parts` → `forges`, `parts` → `insights` → `cancel`,
//! `parts` → `notifications` → `cancel`, `replica` → `cancel`,
//! `health` → `cancel`; `demo` stands alone.

pub mod argocd;
pub mod cancel;
pub mod demo;
pub mod error;
pub mod forges;
pub mod health;
pub mod insights;
pub mod live;
pub mod notifications;
pub mod parts;
pub mod replica;

pub use cancel::CancelFlag;
pub use error::BuildError;
pub use health::StorageHealth;
pub use parts::Parts;
