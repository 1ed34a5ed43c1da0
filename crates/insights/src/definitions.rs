//! The exact definitions, worded once: the Insights page shows them, and
//! `docs/insights.md` must contain each word for word (a test in this
//! crate checks), so the documentation cannot drift from the page.

/// `(key, title, definition)` of each measure, in display order.
pub const MEASURES: [(&str, &str, &str); 4] = [
    (
        "deploymentFrequency",
        "Deployment frequency",
        "Successful production deployments per day over the period. A deployment is one release's run through one environment in which its change reached the environment (a promotion commit pushed, a pull request merged, or a `none` action passed); it is successful when the environment ended SUCCESSFUL, and it happened when the environment's run ended. For a product a release counts once, when at least one of its production deployments succeeded in the period. The days are counted from 00:00 UTC of the day a production environment added during the period first ran a release.",
    ),
    (
        "leadTime",
        "Lead time for changes",
        "From a commit's time (its author date, as the release notes show it) to the moment it first ran in the environment: the last of the deployment's applications synced at its promotion commit and healthy, in a deployment that succeeded. The commits of a deployment are those between what the environment ran before (the previous successful deployment's snapshot) and what it brought, as the release notes find them per application: configuration commits of the application's path and code commits of the images it promotes. A commit counts once per environment, at its first arrival; for a product once per production environment. Median and 90th percentile over the commits that arrived in the period.",
    ),
    (
        "changeFailureRate",
        "Change failure rate",
        "Failed production deployments ÷ production deployments in the period (for a product, per release). A deployment failed when its environment run ended FAILED after the change reached it, was terminated by a person or the flow timeout after that, succeeded only after a retry of a failed attempt, or when the next deployment into the same environment is a rollback or a hotfix release (a release of a flow labelled `ferry.io/hotfix: \"true\"`). Runs terminated because a newer release superseded them, or pushed out of the queue, are not deployments.",
    ),
    (
        "recoveryTime",
        "Failed deployment recovery time",
        "From the moment a failed production deployment's failure began (its run ended FAILED or terminated, its failed attempt ended, or — for a deployment rolled back or followed by a hotfix — the deployment itself) to the end of the next successful deployment of the same product and environment (a retry that succeeds is one). Median and 90th percentile over the failed deployments of the period (the deployments change failure rate counts as failed); those with no successful deployment since are counted as not recovered.",
    ),
];

/// How the time of a promotion is split into phases.
pub const PHASES: &str = "Where time goes: for each environment run that ended in the period, the time of each phase: queued (the release waited in its product's queue, from creation to its first environment's start), waiting to start (from the moment every environment it depends on had finished to its own start: promotion windows and freezes hold a release here), pre-action, commit or pull request (from opening the pull request to its merge), sync and health (until the applications are synced at the promotion commit and healthy), post-action and hooks. A phase's time is the span from the first of its steps starting to the last one ending, over the environment's applications (they run in parallel). Median and 90th percentile per environment and phase.";

/// What counts as production.
pub const PRODUCTION: &str = "Production environments are those of kind PROD; an Environment labelled `ferry.io/production: \"true\"` counts as production whatever its kind, one labelled `\"false\"` does not. A product with none shows \"no production environment\" instead of the four measures.";

/// Percentiles.
pub const PERCENTILES: &str = "Percentiles are nearest-rank: the p-th percentile of n values is the value at rank ⌈p·n/100⌉ in ascending order; the median is the 50th percentile, so with an even count it is the lower middle value.";
