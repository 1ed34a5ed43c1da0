//! Delivery insights (issue 21): the four DORA measures — deployment
//! frequency, lead time for changes, change failure rate, failed
//! deployment recovery time — per product and environment over a period,
//! with DORA's performance bands, and where promotion time goes.
//!
//! Everything here is pure: the store keeps the facts ([`EnvRun`] per
//! release and environment, [`Arrival`] per commit and environment,
//! [`FirstSeen`] per environment), the API, the web UI, the CLI and the
//! metrics ask [`compute`] for the figures. The definitions are worded
//! once in [`definitions`] and shown on the page and in the docs.
//!
//! - [`facts`]: the facts, and [`runs_of`] — a release record → its runs;
//! - [`deploy`]: deployments of one environment in order, failed or not,
//!   and when each failure recovered;
//! - [`aggregate`]: per product, environment and UTC day, packed — what
//!   the store keeps so a period reads one row per day, not every fact;
//! - [`report`]: [`compute`] — facts of a period → a [`Report`];
//! - [`band`]: DORA's elite / high / medium / low per measure;
//! - [`stats`]: nearest-rank percentiles and distributions;
//! - [`period`]: periods, weeks, `30d` and dates.

pub mod aggregate;
pub mod band;
pub mod definitions;
pub mod deploy;
pub mod facts;
pub mod period;
pub mod report;
pub mod stats;

pub use band::Band;
pub use deploy::{Cause, Deployment, deployments};
pub use facts::{
    Arrival, EnvRun, FirstSeen, Millis, Phase, Phases, RunStatus, first_seen_of, millis, runs_of,
};
pub use period::{Period, PeriodError};
pub use report::{
    Dep, EnvScope, EnvironmentReport, History, Measures, NO_PRODUCTION, PairFacts, ProductReport,
    ProductScope, Query, Report, compute,
};
