//! `ferry workflow run`: runs a WorkflowTemplate on this machine with the
//! local executor, printing every step update as it happens — how people
//! debug a promotion workflow before a release uses it (SPEC §5).
//! `ferry workflow resume`: resumes a suspended step of a server's run,
//! optionally supplying its `valueFrom.supplied` outputs.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use ferry_config::ConfigSource;
use ferry_model::SourceFile;
use ferry_model::resource::WorkflowTemplate as ModelTemplate;
use ferry_workflow::{
    LocalConfig, LocalExecutor, NodeKind, RunId, RunOutcome, StepStatus, StepUpdate,
    WorkflowRunner, WorkflowTemplate, parse_parameters,
};
use serde::Serialize;
use tokio::signal::unix::{SignalKind, signal};

use super::{OutputFormat, SourceArgs};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run a WorkflowTemplate locally and follow its steps.
    Run(RunArgs),
    /// Resume a suspended workflow run on a server, optionally supplying
    /// values of its `valueFrom.supplied` output parameters.
    Resume(ResumeArgs),
}

#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    /// The workflow run (a release step's `runId`).
    pub run: String,
    /// The suspended step to resume (path or name); all of them by default.
    #[arg(long)]
    pub step: Option<String>,
    /// A value for an output parameter with `valueFrom.supplied` (repeatable).
    #[arg(short = 'p', long = "parameter", value_name = "KEY=VALUE")]
    pub parameters: Vec<String>,
    #[command(flatten)]
    pub client: super::client::ClientArgs,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// A YAML file holding the WorkflowTemplate, or the name of one in `--config`.
    pub template: String,
    /// Configuration directory or Git repository to find the template by name.
    #[arg(long)]
    pub config: Option<String>,
    #[command(flatten)]
    pub src: SourceArgs,
    /// Which template of a file that holds several.
    #[arg(long)]
    pub name: Option<String>,
    /// Workflow parameter (repeatable).
    #[arg(short = 'p', long = "parameter", value_name = "KEY=VALUE")]
    pub parameters: Vec<String>,
    /// Human lines, or one JSON object per line (`{"update": …}` while the
    /// run goes on, then `{"result": …}`).
    #[arg(long, value_enum, default_value = "human")]
    pub output: OutputFormat,
}

pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    let args = match cmd {
        Command::Run(args) => args,
        Command::Resume(args) => return resume(args),
    };
    let template = find_template(&args)?;
    let parameters = parse_parameters(&args.parameters)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(follow(template, parameters, args.output))
}

/// `POST /api/v1/workflows/{run}/resume` with the step and the values.
fn resume(args: ResumeArgs) -> anyhow::Result<ExitCode> {
    let values = parse_parameters(&args.parameters)?;
    let mut body = serde_json::Map::new();
    if let Some(step) = &args.step {
        body.insert("step".into(), step.clone().into());
    }
    if !values.is_empty() {
        body.insert("parameters".into(), serde_json::to_value(&values)?);
    }
    let client = super::client::Client::new(&args.client)?;
    client.post(
        &format!(
            "/api/v1/workflows/{}/resume",
            super::client::encode(&args.run)
        ),
        &serde_json::Value::Object(body),
    )?;
    crate::output::print(&format!("resumed {}\n", args.run))?;
    Ok(ExitCode::SUCCESS)
}

/// The template the user named: from a file, or by name in a configuration.
fn find_template(args: &RunArgs) -> anyhow::Result<WorkflowTemplate> {
    let path = Path::new(&args.template);
    let (candidates, wanted, where_) = if path.is_file() {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let loaded = ferry_model::load(&[SourceFile {
            path: path.display().to_string(),
            text,
        }]);
        for d in loaded.errors() {
            eprintln!("{d}");
        }
        (
            loaded.config.workflow_templates,
            args.name.clone(),
            path.display().to_string(),
        )
    } else {
        let Some(config) = &args.config else {
            bail!(
                "`{}` is not a file; to run a template by name give the configuration with --config",
                args.template
            );
        };
        let source = ConfigSource::from_arg(config, args.src.branch.clone(), args.src.path.clone());
        let loaded = ferry_config::load_with(&source, &args.src.budget())?;
        (
            loaded.config.workflow_templates,
            Some(args.template.clone()),
            source.describe(),
        )
    };
    let chosen: &ModelTemplate = match &wanted {
        Some(name) => candidates
            .iter()
            .find(|t| t.name() == name)
            .with_context(|| {
                let names: Vec<&str> = candidates.iter().map(|t| t.name()).collect();
                format!(
                    "no WorkflowTemplate named `{name}` in {where_} (found: {})",
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                )
            })?,
        None => match candidates.as_slice() {
            [one] => one,
            [] => bail!("{where_} holds no WorkflowTemplate"),
            several => bail!(
                "{where_} holds {} WorkflowTemplates ({}); choose one with --name",
                several.len(),
                several
                    .iter()
                    .map(|t| t.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    };
    Ok(WorkflowTemplate::from_value(
        &chosen.manifest,
        &chosen.origin.to_string(),
    )?)
}

#[derive(Serialize)]
struct Result<'a> {
    run: &'a RunId,
    outcome: &'a RunOutcome,
    /// Logs of the failed steps, by step path.
    failed_logs: Vec<(String, String)>,
}

async fn follow(
    template: WorkflowTemplate,
    parameters: ferry_workflow::Parameters,
    output: OutputFormat,
) -> anyhow::Result<ExitCode> {
    // Steps run in their own process groups, so Ctrl-C reaches only us: we
    // stop the run before leaving, or its processes would outlive us. The
    // handlers are installed before the first step can start.
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut terminate =
        signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let runner: Arc<dyn WorkflowRunner> = Arc::new(LocalExecutor::new(LocalConfig::default()));
    let id = runner.start(&template, &parameters).await?;
    if output == OutputFormat::Human {
        println!("run {id} of {}", template.name);
    }
    let mut updates = runner.subscribe(&id).await?;
    let mut stop_requested = false;
    loop {
        let stop = tokio::select! {
            update = updates.next() => match update {
                Some(u) => {
                    print_update(&u, output)?;
                    false
                }
                None => break,
            },
            _ = interrupt.recv(), if !stop_requested => true,
            _ = terminate.recv(), if !stop_requested => true,
        };
        if stop {
            stop_requested = true;
            eprintln!("interrupted: terminating run {id}");
            if let Err(e) = runner.terminate(&id).await {
                eprintln!("warning: terminating run {id}: {e}");
            }
        }
    }
    let outcome = runner.wait(&id).await?;
    let mut failed_logs = Vec::new();
    if outcome.status != StepStatus::Success {
        for step in runner.steps(&id).await? {
            let failed = matches!(step.status, StepStatus::Failed | StepStatus::Error);
            if failed && step.kind == NodeKind::Pod {
                let log = runner.logs(&id, &step.path).await?;
                failed_logs.push((step.path.clone(), log.text));
            }
        }
    }
    match output {
        OutputFormat::Human => crate::output::print(&human(&outcome, &failed_logs))?,
        OutputFormat::Json => {
            let line = serde_json::json!({ "result": Result { run: &id, outcome: &outcome, failed_logs } });
            crate::output::print(&format!("{line}\n"))?;
        }
    }
    Ok(if outcome.status == StepStatus::Success {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_update(u: &StepUpdate, output: OutputFormat) -> anyhow::Result<()> {
    let line = match output {
        OutputFormat::Human => {
            // The display already names a non-zero exit code; skip a message
            // that only repeats it.
            let repeats = u
                .exit_code
                .is_some_and(|c| u.message.as_deref() == Some(&format!("exit code {c}")));
            if repeats {
                let mut u = u.clone();
                u.message = None;
                format!("{u}\n")
            } else {
                format!("{u}\n")
            }
        }
        OutputFormat::Json => format!("{}\n", serde_json::json!({ "update": u })),
    };
    Ok(crate::output::print(&line)?)
}

fn human(outcome: &RunOutcome, failed_logs: &[(String, String)]) -> String {
    let mut out = format!("\nstatus: {}", outcome.status);
    if let Some(m) = &outcome.message {
        out.push_str(&format!(" ({m})"));
    }
    out.push('\n');
    for n in &outcome.notices {
        out.push_str(&format!("notice: {n}\n"));
    }
    for (title, params) in [
        ("outputs", &outcome.outputs.entrypoint),
        ("global outputs", &outcome.outputs.global),
    ] {
        if !params.is_empty() {
            out.push_str(&format!("{title}:\n"));
            for (k, v) in params {
                out.push_str(&format!("  {k} = {v}\n"));
            }
        }
    }
    for (path, log) in failed_logs {
        out.push_str(&format!("\n--- log of failed step {path} ---\n{log}"));
        if !log.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}
