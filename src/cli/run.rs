//! The commands that talk to the cloud: plan, apply, destroy, refresh, status,
//! import. Each loads the workspace, takes the state lock where it may write,
//! and calls the operations of `check`, `apply` and `refresh`.

use super::args::{ApplyArgs, Cli, CommonRun, DestroyArgs, Format, PlanArgs};
use super::context::Workspace;
use super::output::{Style, emit};
use super::{CmdResult, Failure};
use crate::api::Client;
use crate::apply::{self, ApplyOptions, Event, Recorder};
use crate::check::{self, GateReport};
use crate::cli::output::{errln, out, outln};
use crate::model::{Address, DesiredTask, Lifecycle};
use crate::plan::{self, Plan};
use crate::planfile::{PLAN_FORMAT_VERSION, SavedPlan};
use crate::refresh;
use crate::render::{self, Note, Operation, json};
use crate::state::{State, TaskRecord};
use anyhow::anyhow;
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

mod import;
pub use import::import;

/// How long one task may take to reach its goal, as Terraform's provider allows.
const TASK_DEADLINE: Duration = Duration::from_secs(30 * 60);

/// The changes the configuration and state give, before the gate.
struct Derived {
    /// The state with interrupted intents resolved and, with refresh, live attributes.
    state: State,
    plan: Plan,
    notes: Vec<Note>,
}

/// What a plan run produced.
struct Planned {
    state: State,
    plan: Plan,
    gate: GateReport,
    notes: Vec<Note>,
}

/// How a plan is made; a saved plan records them so that apply can make it again.
struct PlanInputs<'a> {
    refresh: bool,
    targets: &'a [Address],
    destroy: bool,
    common: &'a CommonRun,
}

fn parse_targets(targets: &[String]) -> Result<Vec<Address>, Failure> {
    targets
        .iter()
        .map(|t| {
            Address::parse(t).ok_or_else(|| {
                Failure::Error(anyhow!(
                    "invalid -target {t:?}: expected an address like task.NAME"
                ))
            })
        })
        .collect()
}

/// Diffs the configuration against `state` after resolving interrupted
/// intents and, with refresh, reading the live tasks.
async fn derive_plan(
    ws: &Workspace,
    client: &Client,
    mut state: State,
    inputs: &PlanInputs<'_>,
    style: &Style,
) -> Result<Derived, Failure> {
    let machine = inputs.common.format() != Format::Human;
    let mut notes: Vec<Note> = apply::resolve_intents(client, &mut state)
        .await?
        .into_iter()
        .map(Note::Log)
        .collect();
    if inputs.refresh && !state.tasks.is_empty() {
        let spinner = style.spinner("refreshing", machine);
        let refreshed =
            refresh::refresh_all(client, &state.tasks, inputs.common.parallelism as usize).await?;
        spinner.finish_and_clear();
        notes.extend(refreshed.drift.iter().cloned().map(Note::Drift));
        for row in &refreshed.abnormal {
            notes.push(Note::Warning(format!(
                "task.{} is reported abnormal by the cloud (status {}, stage {})",
                row.task_name, row.status, row.stage
            )));
        }
        state.tasks = refreshed.records;
    }
    // Protection follows the configuration while the task is in it, and is
    // remembered in state once its block is removed.
    for (name, record) in state.tasks.iter_mut() {
        if let Some(task) = ws.loaded.desired.tasks.get(name) {
            record.prevent_destroy = task.lifecycle.prevent_destroy;
        }
    }
    let plan = diff(ws, &state.tasks, inputs.destroy, inputs.targets)?;
    Ok(Derived { state, plan, notes })
}

/// The changes from `prior` to the configuration (to nothing, for destroy).
fn diff(
    ws: &Workspace,
    prior: &BTreeMap<String, TaskRecord>,
    destroy: bool,
    targets: &[Address],
) -> Result<Plan, Failure> {
    let empty = BTreeMap::new();
    let desired: &BTreeMap<String, DesiredTask> = if destroy {
        &empty
    } else {
        &ws.loaded.desired.tasks
    };
    Ok(plan::diff(desired, prior, targets)?)
}

/// Derives the plan and runs the table-config-check gate on it.
async fn make_plan(
    ws: &Workspace,
    client: &Client,
    state: State,
    inputs: PlanInputs<'_>,
    style: &Style,
) -> Result<Planned, Failure> {
    let Derived { state, plan, notes } = derive_plan(ws, client, state, &inputs, style).await?;
    let gate = run_gate(client, &plan, inputs.common, style).await;
    Ok(Planned {
        state,
        plan,
        gate,
        notes,
    })
}

/// The table-config-check gate on `plan`, with a progress bar for humans.
async fn run_gate(client: &Client, plan: &Plan, common: &CommonRun, style: &Style) -> GateReport {
    let machine = common.format() != Format::Human;
    let bar = style.progress(
        check::addresses_to_check(plan).len(),
        "table-config-check",
        machine,
    );
    let tick = bar.clone();
    let gate = check::run_gate(client, plan, common.parallelism as usize, move |_| {
        tick.inc(1)
    })
    .await;
    bar.finish_and_clear();
    gate
}

/// Prints why nothing was changed when the gate did not pass.
fn report_gate_refusal(gate: &GateReport, style: &Style) {
    let what = if gate.unavailable.is_some() {
        "could not run"
    } else {
        "failed"
    };
    errln!(
        "{} the table-config-check gate {what}; nothing was changed in the cloud.",
        style.error_prefix()
    );
}

/// Prints a plan in `format`; in JSON mode this opens the message stream.
fn print_plan(
    plan: &Plan,
    gate: Option<&GateReport>,
    notes: &[Note],
    format: Format,
    style: &Style,
) -> std::io::Result<()> {
    match format {
        Format::Json => {
            emit(&json::version())?;
            json::plan_messages(plan, gate, notes)
                .iter()
                .try_for_each(emit)
        }
        Format::Markdown => out!("{}", render::markdown::plan_markdown(plan, gate, notes)),
        Format::Human => {
            if !notes.is_empty() {
                outln!("{}", render::notes_human(notes))?;
            }
            out!("{}", render::plan_human(plan, gate, &style.render()))
        }
    }
}

/// Markdown is a plan comment: commands that change things refuse it.
fn refuse_markdown(format: Format, command: &str) -> Result<(), Failure> {
    if format == Format::Markdown {
        return Err(anyhow!(
            "--format markdown is for `plan` and `show PLANFILE`; `{command}` supports human and json"
        )
        .into());
    }
    Ok(())
}

pub async fn plan(cli: &Cli, a: &PlanArgs, style: &Style) -> CmdResult {
    let ws = Workspace::load(cli)?;
    let backend = ws.backend()?;
    let _lock = backend.lock("plan", a.common.lock_timeout)?;
    let prior = backend.read()?;
    let (lineage, serial) = prior
        .as_ref()
        .map_or((None, 0), |s| (Some(s.lineage.clone()), s.serial));
    let (client, _emulator) = ws.connect().await?;
    let targets = parse_targets(&a.targets)?;
    let inputs = PlanInputs {
        refresh: a.refresh,
        targets: &targets,
        destroy: a.destroy,
        common: &a.common,
    };
    let planned = make_plan(
        &ws,
        &client,
        prior.unwrap_or_else(State::new),
        inputs,
        style,
    )
    .await?;
    // The plan file is written even when stdout is gone: what was shown
    // and what is saved must not differ by where the output went.
    let printed = print_plan(
        &planned.plan,
        Some(&planned.gate),
        &planned.notes,
        a.common.format(),
        style,
    );
    if let Some(out) = &a.out {
        let provider = &ws.loaded.desired.provider;
        let mut saved = SavedPlan {
            format_version: PLAN_FORMAT_VERSION,
            htapsync_version: env!("CARGO_PKG_VERSION").to_string(),
            created_at: chrono::Utc::now().to_rfc3339(),
            config_digest: ws.loaded.digest.clone(),
            state_lineage: lineage,
            state_serial: serial,
            endpoint: provider.endpoint.clone(),
            project_id: provider.project_id.clone(),
            refreshed: a.refresh,
            targets,
            destroy: a.destroy,
            plan: planned.plan.clone(),
            gate: planned.gate.clone(),
            desired: lifecycles_free_specs(&ws.loaded.desired.tasks),
            prior: planned.state.tasks.clone(),
            digest: String::new(),
        };
        saved.write(out)?;
    }
    printed?;
    if let Some(out) = &a.out
        && a.common.format() == Format::Human
    {
        outln!("\nSaved the plan to: {}", out.display())?;
        outln!(
            "To perform exactly these actions, run: {}",
            apply_command(cli, out)
        )?;
    }
    if !planned.gate.passed() {
        return Ok(1);
    }
    Ok(if a.detailed_exitcode && planned.plan.has_changes() {
        2
    } else {
        0
    })
}

/// The command that applies the plan saved at `out`, as it must be typed from
/// the current directory: with `-C DIR`, paths on the command line are
/// relative to DIR (`out` and `--state` were already resolved against it).
fn apply_command(cli: &Cli, out: &std::path::Path) -> String {
    let as_typed = |p: &std::path::Path| {
        let relative = cli
            .chdir
            .as_deref()
            .and_then(|dir| p.strip_prefix(dir).ok());
        shell_word(&relative.unwrap_or(p).display().to_string())
    };
    let mut words = vec!["htapsync".to_string()];
    if let Some(dir) = &cli.chdir {
        words.extend(["-C".to_string(), shell_word(&dir.display().to_string())]);
    }
    if let Some(state) = &cli.state {
        words.extend(["--state".to_string(), as_typed(state)]);
    }
    words.extend(["apply".to_string(), as_typed(out)]);
    words.join(" ")
}

/// `word` quoted for a POSIX shell when it holds anything but safe characters.
fn shell_word(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./=:@%+,".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

fn lifecycles_free_specs(
    tasks: &BTreeMap<String, DesiredTask>,
) -> BTreeMap<String, crate::model::TaskSpec> {
    tasks
        .iter()
        .map(|(k, t)| (k.clone(), t.spec.clone()))
        .collect()
}

fn lifecycles(ws: &Workspace) -> BTreeMap<String, Lifecycle> {
    ws.loaded
        .desired
        .tasks
        .iter()
        .map(|(k, t)| (k.clone(), t.lifecycle.clone()))
        .collect()
}

/// Asks for the word `yes`, as Terraform does.
fn confirm(question: &str, detail: &str) -> anyhow::Result<bool> {
    outln!("\n{question}\n  {detail}\n  Only 'yes' will be accepted to approve.\n")?;
    out!("  Enter a value: ")?;
    std::io::stdout().flush()?;
    if !std::io::stdin().is_terminal() {
        tracing::debug!("stdin is not a terminal; reading the answer from it anyway");
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    outln!()?;
    Ok(line.trim() == "yes")
}

pub async fn apply(cli: &Cli, a: &ApplyArgs, style: &Style) -> CmdResult {
    refuse_markdown(a.common.format(), "apply")?;
    if let Some(file) = &a.plan_file {
        if !a.targets.is_empty() || !a.refresh {
            return Err(anyhow!(
                "planning flags (-target, -refresh) cannot be used with a saved plan"
            )
            .into());
        }
        return apply_saved(cli, file, &a.common, style).await;
    }
    run_apply(
        cli,
        &a.common,
        &a.targets,
        a.refresh,
        false,
        a.auto_approve,
        style,
    )
    .await
}

pub async fn destroy(cli: &Cli, a: &DestroyArgs, style: &Style) -> CmdResult {
    refuse_markdown(a.common.format(), "destroy")?;
    run_apply(
        cli,
        &a.common,
        &a.targets,
        true,
        true,
        a.auto_approve,
        style,
    )
    .await
}

async fn run_apply(
    cli: &Cli,
    common: &CommonRun,
    targets: &[String],
    refresh: bool,
    destroy: bool,
    auto_approve: bool,
    style: &Style,
) -> CmdResult {
    let format = common.format();
    if format == Format::Json && !auto_approve {
        return Err(Failure::Usage(anyhow!(
            "--json needs --auto-approve or a saved plan: there is no prompt in JSON mode"
        )));
    }
    let ws = Workspace::load(cli)?;
    let backend = ws.backend()?;
    let lock = backend.lock(
        if destroy { "destroy" } else { "apply" },
        common.lock_timeout,
    )?;
    let prior = backend.read()?.unwrap_or_else(State::new);
    // Checked before any remote call, and again before the first change.
    backend.check_writable()?;
    let (client, _emulator) = ws.connect().await?;
    let targets = parse_targets(targets)?;
    let inputs = PlanInputs {
        refresh,
        targets: &targets,
        destroy,
        common,
    };
    let planned = make_plan(&ws, &client, prior, inputs, style).await?;
    let printed = print_plan(
        &planned.plan,
        Some(&planned.gate),
        &planned.notes,
        format,
        style,
    );
    let recorder = Arc::new(Recorder::new(backend.clone(), planned.state.clone()));
    // Persist resolved intents and refreshed attributes even when nothing changes.
    recorder.update(|_| {})?;
    if !planned.gate.passed() {
        report_gate_refusal(&planned.gate, style);
        return Ok(1);
    }
    if !planned.plan.has_changes() {
        return Ok(0);
    }
    if let Err(e) = printed {
        return Ok(output_lost("write the plan", &e, style));
    }
    if !auto_approve {
        let (q, d) = if destroy {
            (
                "Do you really want to destroy all managed tasks?",
                "htapsync will delete every task in state. There is no undo.",
            )
        } else {
            (
                "Do you want to perform these actions?",
                "htapsync will perform the actions described above.",
            )
        };
        match confirm(q, d) {
            Ok(true) => {}
            Ok(false) => {
                outln!("Apply cancelled.")?;
                return Ok(1);
            }
            Err(e) => return Ok(output_lost("ask for approval", &e, style)),
        }
    }
    // The state may have become unwritable while the plan was read.
    backend.check_writable()?;
    let outcome = execute(&ws, &client, &planned.plan, recorder, common, style).await;
    drop(lock);
    let operation = if destroy {
        Operation::Destroy
    } else {
        Operation::Apply
    };
    Ok(finish(&outcome, operation, format, style))
}

async fn execute(
    ws: &Workspace,
    client: &Client,
    plan: &Plan,
    recorder: Arc<Recorder>,
    common: &CommonRun,
    style: &Style,
) -> apply::ApplyOutcome {
    let machine = common.format() == Format::Json;
    let bar = style.progress(plan.actionable().count(), "applying", machine);
    let printer = bar.clone();
    let opts = ApplyOptions {
        parallelism: common.parallelism as usize,
        deadline: TASK_DEADLINE,
        interrupted: Arc::new(AtomicBool::new(false)),
    };
    let interrupted = opts.interrupted.clone();
    let output_failed = AtomicBool::new(false);
    let on_event: Arc<dyn Fn(Event) + Send + Sync> = Arc::new(move |e: Event| {
        if matches!(e, Event::Completed { .. } | Event::Failed { .. }) {
            printer.inc(1);
        }
        let written = if machine {
            emit(&json::apply_event(&e))
        } else {
            printer.suspend(|| outln!("{}", render::apply::event_line(&e)))
        };
        // Nobody sees the run any more: as after a first Ctrl-C, what is in
        // flight finishes and is recorded, nothing new starts.
        if let Err(error) = written
            && !output_failed.swap(true, Ordering::SeqCst)
        {
            interrupted.store(true, Ordering::SeqCst);
            errln!(
                "Cannot write the output ({error}): finishing the operations in flight, starting no new ones."
            );
        }
    });
    let watcher = tokio::spawn(watch_interrupts(opts.interrupted.clone()));
    let outcome = apply::execute(client, plan, &lifecycles(ws), recorder, &opts, on_event).await;
    watcher.abort();
    bar.finish_and_clear();
    outcome
}

/// First Ctrl-C: finish what is in flight (its state is recorded), start
/// nothing new. Second: stop at once; recorded intents make that safe too.
async fn watch_interrupts(interrupted: Arc<AtomicBool>) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    interrupted.store(true, Ordering::SeqCst);
    errln!(
        "Interrupt received. Finishing the operations in flight; press Ctrl-C again to stop at once."
    );
    if tokio::signal::ctrl_c().await.is_ok() {
        errln!("Stopping now. Run `htapsync plan` to see what is left.");
        std::process::exit(130);
    }
}

/// An apply whose plan could not be shown, or whose approval could not be
/// asked, starts nothing. Returns the exit code.
fn output_lost(what: &str, error: &dyn std::fmt::Display, style: &Style) -> u8 {
    errln!(
        "{} cannot {what} ({error}); nothing was changed in the cloud.",
        style.error_prefix()
    );
    1
}

/// Prints how an apply ended; the exit code is 1 when any task failed or was
/// not started. Output that can no longer be written does not change it.
fn finish(
    outcome: &apply::ApplyOutcome,
    operation: Operation,
    format: Format,
    style: &Style,
) -> u8 {
    if format == Format::Json {
        let _ = json::apply_outcome(outcome, operation)
            .iter()
            .try_for_each(emit);
    } else {
        for (address, error) in &outcome.errors {
            errln!("{} {address}: {error}", style.error_prefix());
        }
        if let Some(line) = render::apply::not_started_line(outcome) {
            errln!("{} {line}", style.error_prefix());
        }
        let _ = outln!("\n{}", render::apply::outcome_summary(outcome, operation));
    }
    if outcome.succeeded() { 0 } else { 1 }
}

async fn apply_saved(
    cli: &Cli,
    file: &std::path::Path,
    common: &CommonRun,
    style: &Style,
) -> CmdResult {
    let saved = SavedPlan::read(file)?;
    let ws = Workspace::load(cli)?;
    let backend = ws.backend()?;
    let lock = backend.lock("apply", common.lock_timeout)?;
    let current = backend.read()?;
    backend.check_writable()?;
    let (lineage, serial) = current
        .as_ref()
        .map_or((None, 0), |s| (Some(s.lineage.as_str()), s.serial));
    saved.check_fresh(lineage, serial, &ws.loaded.digest)?;
    let provider = &ws.loaded.desired.provider;
    if saved.endpoint != provider.endpoint || saved.project_id != provider.project_id {
        return Err(anyhow!(
            "the saved plan was made for endpoint {} / project {}, not the configured {} / {}",
            saved.endpoint,
            saved.project_id,
            provider.endpoint,
            provider.project_id
        )
        .into());
    }
    if let Some(unavailable) = &saved.gate.unavailable {
        return Err(anyhow!(
            "the saved plan was made when the table-config-check gate could not run ({}); plan again",
            unavailable.reason.describe()
        )
        .into());
    }
    if !saved.gate.passed() {
        return Err(anyhow!(
            "the saved plan failed the table-config-check gate for {} task(s); fix the configuration and plan again",
            saved.gate.failed_count()
        )
        .into());
    }
    let (client, _emulator) = ws.connect().await?;
    // Apply exactly what was shown: the plan's prior tasks must be the ones
    // in state, and diffing the configuration against them must give the
    // saved changes. The cloud may have moved since; apply converges it to
    // what was reviewed, as Terraform does.
    let mut state = current.unwrap_or_else(State::new);
    let notes: Vec<Note> = apply::resolve_intents(&client, &mut state)
        .await?
        .into_iter()
        .map(Note::Log)
        .collect();
    saved.check_prior(&state.tasks)?;
    state.tasks = saved.prior.clone();
    let derived = diff(&ws, &state.tasks, saved.destroy, &saved.targets)?;
    saved.check_matches(&derived)?;
    // The stored verdicts are what was shown, not proof: ask the cloud again.
    let gate = run_gate(&client, &derived, common, style).await;
    let printed = print_plan(&saved.plan, Some(&gate), &notes, common.format(), style);
    if !gate.passed() {
        report_gate_refusal(&gate, style);
        return Ok(1);
    }
    let recorder = Arc::new(Recorder::new(backend.clone(), state));
    if !saved.plan.has_changes() {
        return Ok(0);
    }
    if let Err(e) = printed {
        return Ok(output_lost("write the plan", &e, style));
    }
    let outcome = execute(&ws, &client, &saved.plan, recorder, common, style).await;
    drop(lock);
    Ok(finish(&outcome, Operation::Apply, common.format(), style))
}

pub async fn refresh(cli: &Cli, common: &CommonRun, _style: &Style) -> CmdResult {
    refuse_markdown(common.format(), "refresh")?;
    let ws = Workspace::load(cli)?;
    let backend = ws.backend()?;
    let _lock = backend.lock("refresh", common.lock_timeout)?;
    let Some(mut state) = backend.read()? else {
        outln!("No state yet: nothing to refresh.")?;
        return Ok(0);
    };
    let (client, _emulator) = ws.connect().await?;
    // Output that fails must not keep what was learned out of state: the
    // lines are best effort, the write is not, and the last line reports.
    for note in apply::resolve_intents(&client, &mut state).await? {
        let _ = outln!("{note}");
    }
    let refreshed =
        refresh::refresh_all(&client, &state.tasks, common.parallelism as usize).await?;
    for d in &refreshed.drift {
        let _ = outln!("{d}");
    }
    let read = state.tasks.len();
    state.tasks = refreshed.records;
    backend.write(&mut state)?;
    outln!(
        "Refresh complete: {read} task(s) read, {} changed outside htapsync.",
        refreshed.drift.len()
    )?;
    Ok(0)
}

pub async fn status(cli: &Cli, common: &CommonRun, _style: &Style) -> CmdResult {
    refuse_markdown(common.format(), "status")?;
    let ws = Workspace::load(cli)?;
    let backend = ws.backend()?;
    let state = backend.read()?.unwrap_or_else(State::new);
    let (client, _emulator) = ws.connect().await?;
    let lists = refresh::list_instances(
        &client,
        state.tasks.values().map(|r| r.spec.instance_id.as_str()),
    )
    .await?;
    let rows: Vec<serde_json::Value> = state
        .tasks
        .values()
        .map(|r| {
            let live = lists
                .get(&r.spec.instance_id)
                .and_then(|l| l.get(&r.spec.name));
            let problem = match live {
                None => Some("missing: in state but not in the cloud"),
                Some(l) if l.status != "Yes" => Some("abnormal: the cloud reports its status"),
                Some(_) => None,
            };
            serde_json::json!({
                "address": r.spec.address(),
                "status": live.map_or("missing", |l| l.status.as_str()),
                "stage": live.map_or("-", |l| l.stage.as_str()),
                "percentage": live.map_or("-", |l| l.percentage.as_str()),
                "catchup_stage": live.map_or("-", |l| l.catchup_stage.as_str()),
                "catchup_percentage": live.map_or("-", |l| l.catchup_percentage.as_str()),
                "problem": problem,
            })
        })
        .collect();
    let problems = rows.iter().filter(|r| !r["problem"].is_null()).count();
    // Every format exits the same way: 1 when any task is missing or abnormal.
    let code = if problems > 0 { 1 } else { 0 };
    if common.format() == Format::Json {
        let doc = serde_json::json!({
            "tasks": rows,
            "healthy": problems == 0,
            "problems": problems,
        });
        outln!("{doc}")?;
        return Ok(code);
    }
    if rows.is_empty() {
        outln!("No managed tasks.")?;
        return Ok(0);
    }
    outln!(
        "{:<40} {:<8} {:<12} {:>8}  {:<12} {:>8}",
        "ADDRESS",
        "STATUS",
        "STAGE",
        "PROGRESS",
        "CATCH-UP",
        "PROGRESS"
    )?;
    for r in &rows {
        let s = |k: &str| r[k].as_str().unwrap_or("-").to_string();
        outln!(
            "{:<40} {:<8} {:<12} {:>8}  {:<12} {:>8}",
            s("address"),
            s("status"),
            s("stage"),
            s("percentage"),
            s("catchup_stage"),
            s("catchup_percentage")
        )?;
    }
    Ok(code)
}
