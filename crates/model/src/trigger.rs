//! Flow selection for a trigger commit (SPEC §1.3).

use crate::glob;
use crate::resource::{Product, ProductFlow, SelectorKey, SelectorOperator, TriggerSelector};

/// The facts about a commit that trigger selectors look at.
#[derive(Debug, Clone, Copy)]
pub struct TriggerCommit<'a> {
    /// The full commit message.
    pub message: &'a str,
    pub sha: &'a str,
    /// The branch the commit landed on, when known.
    pub branch: Option<&'a str>,
}

impl TriggerSelector {
    /// `In` holds if any value matches, `NotIn` if none does. `gitRevision`
    /// matches the SHA or the branch.
    pub fn matches(&self, commit: &TriggerCommit<'_>) -> bool {
        let any = self.values.iter().any(|v| match self.key {
            SelectorKey::CommitMessage => glob::matches(v, commit.message),
            SelectorKey::GitRevision => {
                glob::matches(v, commit.sha) || commit.branch.is_some_and(|b| glob::matches(v, b))
            }
        });
        match self.operator {
            SelectorOperator::In => any,
            SelectorOperator::NotIn => !any,
        }
    }
}

impl ProductFlow {
    /// A flow matches when all its selectors do (none: every commit).
    pub fn matches(&self, commit: &TriggerCommit<'_>) -> bool {
        self.git_trigger_selectors.iter().all(|s| s.matches(commit))
    }
}

impl Product {
    /// The first of the product's flows that matches the commit.
    pub fn flow_for(&self, commit: &TriggerCommit<'_>) -> Option<&ProductFlow> {
        self.spec.promotion_flows.iter().find(|f| f.matches(commit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(key: SelectorKey, operator: SelectorOperator, values: &[&str]) -> TriggerSelector {
        TriggerSelector {
            key,
            operator,
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    #[test]
    fn selectors() {
        let c = TriggerCommit {
            message: "hotfix: db\n\nbody",
            sha: "abc123",
            branch: Some("release/1.2"),
        };
        assert!(
            sel(
                SelectorKey::CommitMessage,
                SelectorOperator::In,
                &["hotfix*"]
            )
            .matches(&c)
        );
        assert!(
            !sel(
                SelectorKey::CommitMessage,
                SelectorOperator::In,
                &["hotfix"]
            )
            .matches(&c)
        );
        assert!(
            sel(
                SelectorKey::CommitMessage,
                SelectorOperator::NotIn,
                &["*[skip]*"]
            )
            .matches(&c)
        );
        assert!(
            sel(
                SelectorKey::GitRevision,
                SelectorOperator::In,
                &["release/*"]
            )
            .matches(&c)
        );
        assert!(sel(SelectorKey::GitRevision, SelectorOperator::In, &["abc*"]).matches(&c));
        assert!(!sel(SelectorKey::GitRevision, SelectorOperator::In, &["main"]).matches(&c));
        let no_branch = TriggerCommit { branch: None, ..c };
        assert!(
            !sel(
                SelectorKey::GitRevision,
                SelectorOperator::In,
                &["release/*"]
            )
            .matches(&no_branch)
        );
    }
}
