//! Lifecycle hooks of steps, tasks and the workflow: expression hooks start
//! their template once their `expression` holds (checked when the node starts
//! and when it ends, each hook at most once), and the exit hook (`hooks.exit`,
//! or a step's or task's `onExit`) runs after the node whatever its outcome.
//! The node counts as done once its hooks are; a hook's failure does not
//! change the node's result.

use super::*;

/// Expression hooks that already started.
pub(super) type Fired = HashSet<String>;

/// The hooks of one step or task invocation.
#[derive(Clone, Default)]
pub(super) struct HookSet {
    /// Field path of the step or task.
    pub(super) at: String,
    /// `steps` or `tasks`: how the hooks' expressions name the node.
    pub(super) prefix: &'static str,
    pub(super) name: String,
    pub(super) hooks: BTreeMap<String, LifecycleHook>,
    pub(super) on_exit: Option<String>,
}

impl HookSet {
    pub(super) fn is_empty(&self) -> bool {
        self.hooks.is_empty() && self.on_exit.is_none()
    }
}

/// Runs `main` (the node) with its hooks around it.
pub(super) async fn run_with_hooks(
    ctx: Arc<Ctx>,
    scope: Scope,
    hs: HookSet,
    path: String,
    main: BoxFuture,
) -> NodeResult {
    if hs.is_empty() {
        return main.await;
    }
    let mut fired = Fired::default();
    let mut running = scope.clone();
    running.insert(
        format!("{}.{}.status", hs.prefix, hs.name),
        "Running".into(),
    );
    let early = start_expression_hooks(&ctx, &running, &hs.at, &hs.hooks, &path, &mut fired);
    let r = main.await;
    if r.status == StepStatus::Terminated {
        join(early).await;
        return r;
    }
    let mut after = scope;
    record_child(&mut after, hs.prefix, &hs.name, &r);
    let late = start_expression_hooks(&ctx, &after, &hs.at, &hs.hooks, &path, &mut fired);
    join(early).await;
    join(late).await;
    let exit = hs.hooks.get("exit").cloned().or_else(|| {
        hs.on_exit.clone().map(|t| LifecycleHook {
            template: Some(t),
            ..LifecycleHook::default()
        })
    });
    if let Some(h) = exit {
        let at = format!("{}.hooks.exit", hs.at);
        let go = match &h.expression {
            None => Ok(true),
            Some(e) => condition(&ctx, &after, &at, e),
        };
        let exit_path = format!("{path}.onExit");
        let started = go.and_then(|go| {
            if !go {
                return Ok(None);
            }
            let tname = h.template.clone().unwrap_or_default();
            let tref = ctx
                .template(&tname)
                .ok_or_else(|| format!("{at}.template: no template named {tname:?}"))?;
            let args = scope::resolve_args(&ctx, &after, &at, &h.arguments)?;
            Ok(Some((tref, args)))
        });
        match started {
            Ok(None) => {}
            Ok(Some((tref, args))) => {
                run_template(ctx.clone(), tref, args, exit_path, "onExit".into()).await;
            }
            Err(e) => {
                settle_child(
                    &ctx,
                    exit_path,
                    "onExit",
                    h.template.as_deref(),
                    NodeResult::error(e),
                );
            }
        }
    }
    r
}

/// Starts every expression hook (not `exit`) whose expression now holds and
/// that has not started yet.
pub(super) fn start_expression_hooks(
    ctx: &Arc<Ctx>,
    scope: &Scope,
    at: &str,
    hooks: &BTreeMap<String, LifecycleHook>,
    path: &str,
    fired: &mut Fired,
) -> JoinSet<NodeResult> {
    let mut set = JoinSet::new();
    for (name, h) in hooks {
        if name == "exit" || fired.contains(name) {
            continue;
        }
        let hat = format!("{at}.hooks.{name}");
        let hook_path = format!("{path}.hooks.{name}");
        let Some(e) = &h.expression else { continue };
        let go = condition(ctx, scope, &hat, e);
        let started = go.and_then(|go| {
            if !go {
                return Ok(None);
            }
            let tname = h.template.clone().unwrap_or_default();
            let tref = ctx
                .template(&tname)
                .ok_or_else(|| format!("{hat}.template: no template named {tname:?}"))?;
            Ok(Some((
                tref,
                scope::resolve_args(ctx, scope, &hat, &h.arguments)?,
            )))
        });
        match started {
            Ok(None) => {}
            Ok(Some((tref, args))) => {
                fired.insert(name.clone());
                set.spawn(run_template(
                    ctx.clone(),
                    tref,
                    args,
                    hook_path,
                    name.clone(),
                ));
            }
            Err(e) => {
                fired.insert(name.clone());
                settle_child(
                    ctx,
                    hook_path,
                    name,
                    h.template.as_deref(),
                    NodeResult::error(e),
                );
            }
        }
    }
    set
}

/// A hook's `expression`, which must give a boolean.
fn condition(ctx: &Ctx, scope: &Scope, at: &str, e: &str) -> Result<bool, String> {
    match ctx.eval(scope, &format!("{at}.expression"), e)? {
        crate::exprlang::Value::Bool(b) => Ok(b),
        other => Err(format!(
            "{at}.expression gave {}, not a boolean",
            other.type_name()
        )),
    }
}

pub(super) async fn join(mut set: JoinSet<NodeResult>) {
    while set.join_next().await.is_some() {}
}
