//! What Argo Workflows does with each vendored example (see
//! `tests/data/argo-examples/README.md` for where each expectation comes
//! from), and the explicit, documented changes made to run it quickly.

/// The result Argo gives the example.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Succeeded,
    Failed,
    /// Random by design (coin flips, `random.choice` exit codes): either
    /// Succeeded or Failed, never Error.
    Random,
}

pub struct Case {
    pub file: &'static str,
    pub expect: Expect,
    /// Text the example's steps print (all logs together must contain each).
    pub prints: &'static [&'static str],
    /// Text that must not be printed (steps Argo does not run).
    pub absent: &'static [&'static str],
    /// Shortened sleeps and deadlines: (written, run as); each must match.
    pub faster: &'static [(&'static str, &'static str)],
    /// Resume this suspended step with these values when it waits.
    pub resume: Option<(&'static str, &'static [(&'static str, &'static str)])>,
}

const fn case(file: &'static str, expect: Expect) -> Case {
    Case {
        file,
        expect,
        prints: &[],
        absent: &[],
        faster: &[],
        resume: None,
    }
}

const fn prints(file: &'static str, expect: Expect, prints: &'static [&'static str]) -> Case {
    Case {
        prints,
        ..case(file, expect)
    }
}

use Expect::*;

pub const CASES: &[Case] = &[
    prints("arguments-parameters.yaml", Succeeded, &["hello world"]),
    prints("coinflip-recursive.yaml", Succeeded, &["it was heads"]),
    prints("coinflip.yaml", Succeeded, &["it was "]),
    Case {
        faster: &[("time.sleep(1)", "time.sleep(0.01)")],
        ..case("colored-logs.yaml", Succeeded)
    },
    case("conditional-parameters.yaml", Succeeded),
    prints("conditionals-complex.yaml", Succeeded, &["it was "]),
    prints("conditionals.yaml", Succeeded, &["hello\nhello\nhello\n"]),
    // Labelled expected-failure (a node fails), but continueOn lets the
    // workflow succeed: Argo's TestContinueOnFail expects Succeeded.
    prints("continue-on-fail.yaml", Succeeded, &["intentional failure"]),
    case("custom-metrics.yaml", Random),
    prints("dag-coinflip.yaml", Succeeded, &["it was heads"]),
    case("dag-conditional-parameters.yaml", Succeeded),
    prints(
        "dag-continue-on-fail.yaml",
        Failed,
        &["intentional failure"],
    ),
    prints(
        "dag-custom-metrics.yaml",
        Succeeded,
        &["console output-->TEST-TWO-B"],
    ),
    prints(
        "dag-diamond-steps.yaml",
        Succeeded,
        &["A1", "B2", "C3", "D3"],
    ),
    prints("dag-diamond.yaml", Succeeded, &["A\n", "D\n"]),
    Case {
        faster: &[("sleep 30; echo haha", "sleep 1; echo haha")],
        prints: &["haha"],
        ..case("dag-disable-failFast.yaml", Failed)
    },
    case("dag-enhanced-depends.yaml", Succeeded),
    prints(
        "dag-inline-clusterworkflowtemplate.yaml",
        Succeeded,
        &["hello argo"],
    ),
    prints("dag-inline-workflow.yaml", Succeeded, &["hello argo"]),
    prints(
        "dag-inline-workflowtemplate.yaml",
        Succeeded,
        &["hello argo"],
    ),
    prints("dag-multiroot.yaml", Succeeded, &["D\n"]),
    prints("dag-nested.yaml", Succeeded, &["DD\n", "AC\n"]),
    Case {
        prints: &["A\n", "C\n", "E\n"],
        absent: &["B\n", "D\n"],
        ..case("dag-targets.yaml", Succeeded)
    },
    Case {
        faster: &[
            ("\"20s\"", "\"2s\""),
            ("\"10s\"", "\"1s\""),
            ("\"15s\"", "\"1.5\""),
        ],
        ..case("dag-task-level-timeout.yaml", Failed)
    },
    Case {
        faster: &[("sleep 10", "sleep 0.1")],
        ..case("default-pdb-support.yaml", Succeeded)
    },
    prints("dns-config.yaml", Succeeded, &["hello world"]),
    prints(
        "exit-code-output-variable.yaml",
        Succeeded,
        &["Exit code was: 123"],
    ),
    prints("exit-handler-dag-level.yaml", Succeeded, &["task cleanup"]),
    // The exit handler posts to a placeholder webhook URL, which fails.
    prints("exit-handler-slack.yaml", Failed, &["hello"]),
    prints(
        "exit-handler-step-level.yaml",
        Succeeded,
        &["hello2b", "step cleanup"],
    ),
    prints("exit-handler-with-param.yaml", Succeeded, &["hello world"]),
    prints(
        "exit-handlers.yaml",
        Failed,
        &["boohoo!", "send e-mail: exit-handlers", "Failed steps [{"],
    ),
    prints(
        "expression-destructure-json-complex.yaml",
        Succeeded,
        &[r#"[43][43][{"age":43,"name":"Baris"}]["Baris","Mo","Jai"]"#],
    ),
    prints("expression-destructure-json.yaml", Succeeded, &["123\n"]),
    prints(
        "expression-reusing-verbose-snippets.yaml",
        Succeeded,
        &["The week's average temperature was 35.8 with a minimum of 15 and a maximum of 57."],
    ),
    prints(
        "expression-tag-template-workflow.yaml",
        Succeeded,
        &["hello 30 @ 20"],
    ),
    Case {
        faster: &[("sleep 1s", "sleep 0.001")],
        prints: &["1000\n"],
        ..case("forever.yaml", Succeeded)
    },
    prints("gc-ttl.yaml", Succeeded, &["hello world"]),
    prints("global-parameters.yaml", Succeeded, &["hello world"]),
    prints("hello-world.yaml", Succeeded, &["hello world"]),
    prints("image-pull-secrets.yaml", Succeeded, &["hello world"]),
    Case {
        resume: Some(("approval", &[("approve", "YES")])),
        prints: &["deploying\ndeploying\n"],
        ..case("intermediate-parameters.yaml", Succeeded)
    },
    prints("label-value-from-workflow.yaml", Succeeded, &["hello argo"]),
    Case {
        prints: &["succeeds 3", "will fail and stop here"],
        absent: &["will not run"],
        ..case("loops-arbitrary-sequential-steps.yaml", Failed)
    },
    prints("loops-dag.yaml", Succeeded, &["baz\n", "C\n"]),
    case("loops-maps.yaml", Succeeded),
    case("loops-param-argument.yaml", Succeeded),
    Case {
        faster: &[(
            "sleep {{inputs.parameters.seconds}}",
            "sleep 0.0{{inputs.parameters.seconds}}",
        )],
        prints: &["sleeping for 30 seconds"],
        ..case("loops-param-result.yaml", Succeeded)
    },
    prints(
        "loops-sequence.yaml",
        Succeeded,
        &["testuser04", "105\n", "202\n", "\n0\n"],
    ),
    prints("loops.yaml", Succeeded, &["hello world", "goodbye world"]),
    prints("node-selector.yaml", Succeeded, &["Linux"]),
    prints("output-parameter.yaml", Succeeded, &["hello world"]),
    Case {
        faster: &[("sleep 10", "sleep 0.2")],
        ..case("parallelism-limit.yaml", Succeeded)
    },
    Case {
        faster: &[("sleep 10", "sleep 0.2")],
        prints: &["5 c3"],
        ..case("parallelism-nested-dag.yaml", Succeeded)
    },
    Case {
        faster: &[("sleep 30", "sleep 0.2")],
        ..case("parallelism-nested-workflow.yaml", Succeeded)
    },
    Case {
        faster: &[("sleep 10", "sleep 0.2")],
        prints: &["4 d"],
        ..case("parallelism-nested.yaml", Succeeded)
    },
    Case {
        faster: &[("sleep 10", "sleep 0.2")],
        ..case("parallelism-template-limit.yaml", Succeeded)
    },
    prints(
        "parameter-aggregation-dag.yaml",
        Succeeded,
        &[r#"["1","2","3","4"]"#, r#"["odd","even","odd","even"]"#],
    ),
    prints(
        "parameter-aggregation-script.yaml",
        Succeeded,
        &["1\n", "2\n"],
    ),
    prints(
        "parameter-aggregation.yaml",
        Succeeded,
        &[r#"["1","2","3","4"]"#, r#"["odd","even","odd","even"]"#],
    ),
    case("pod-gc-strategy-with-label-selector.yaml", Failed),
    case("pod-gc-strategy.yaml", Failed),
    prints("pod-metadata-wf-field.yaml", Succeeded, &["hello1"]),
    prints("pod-metadata.yaml", Succeeded, &["hello1"]),
    prints("pod-resources.yaml", Succeeded, &["hello world"]),
    prints("recursive-for-loop.yaml", Succeeded, &["10\n"]),
    case("resubmit.yaml", Random),
    Case {
        faster: &[
            ("duration: \"1\"", "duration: \"0.05\""),
            ("cap: \"5\"", "cap: \"0.25\""),
            ("maxDuration: \"1m\"", "maxDuration: \"3s\""),
        ],
        ..case("retry-backoff.yaml", Random)
    },
    case("retry-conditional.yaml", Failed),
    case("retry-container-to-completion.yaml", Succeeded),
    case("retry-container.yaml", Random),
    case("retry-on-error.yaml", Random),
    case("retry-script.yaml", Random),
    prints("retry-with-steps.yaml", Random, &["retries: 0"]),
    prints("scripts-bash.yaml", Succeeded, &["result was: "]),
    prints("scripts-javascript.yaml", Succeeded, &["result was: "]),
    prints("scripts-python.yaml", Succeeded, &["result was: "]),
    Case {
        prints: &["the flakey container failed"],
        absent: &["the flakey container passed"],
        ..case("status-reference.yaml", Succeeded)
    },
    Case {
        faster: &[("\"10s\"", "\"1s\""), ("sleep 30s", "sleep 3")],
        ..case("step-level-timeout.yaml", Failed)
    },
    prints("steps-inline-workflow.yaml", Succeeded, &["hello argo"]),
    prints("steps.yaml", Succeeded, &["hello1", "hello2a", "hello2b"]),
    Case {
        resume: Some(("approve", &[("message", "approved by ferry")])),
        prints: &["approved by ferry"],
        ..case("suspend-template-outputs.yaml", Succeeded)
    },
    Case {
        faster: &[("duration: \"20\"", "duration: \"1\"")],
        resume: Some(("approve", &[])),
        prints: &["hello world\nhello world\n"],
        ..case("suspend-template.yaml", Succeeded)
    },
    case("template-defaults.yaml", Random),
    prints("template-on-exit.yaml", Succeeded, &["goodbye world"]),
    Case {
        faster: &[("activeDeadlineSeconds: 10", "activeDeadlineSeconds: 1")],
        prints: &["123"],
        ..case("timeouts-step.yaml", Failed)
    },
    Case {
        faster: &[("activeDeadlineSeconds: 30", "activeDeadlineSeconds: 2")],
        ..case("timeouts-workflow.yaml", Failed)
    },
    prints(
        "title-and-description-with-markdown.yaml",
        Succeeded,
        &["hello world"],
    ),
    case("withsequence-nested-result.yaml", Succeeded),
];
