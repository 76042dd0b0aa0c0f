//! `plan`, `apply` and `destroy`: flags to options, the confirmation prompt,
//! Ctrl-C, and exit codes. The work is [`crate::ops::plan`] and
//! [`crate::ops::apply`]; what is shown is the command's view.

use super::args::{ApplyArgs, Cli, CommonRun, DestroyArgs, Format, PlanArgs, ReadArgs, SelectArgs};
use super::flags::WaitArgs;
use super::output::{Style, out, outln};
use super::progress::Bars;
use super::{CmdResult, Exit, Failure, workspace};
use crate::apply::{ApplyOutcome, Event};
use crate::ops::apply::{Approval, Consent, Pending, Reporter};
use crate::ops::{self, PlanOptions, SavedApplyOptions};
use crate::plan::impact::Destructive;
use crate::render;
use crate::render::view::{ApplyView, Human, Json, Markdown, PlanView};
use anyhow::anyhow;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

fn plan_options(
    common: &CommonRun,
    select: &SelectArgs,
    replace: &[String],
    refresh: bool,
    destroy: bool,
) -> PlanOptions {
    PlanOptions {
        refresh,
        select: select.options(),
        refresh_only: false,
        replace: replace.to_vec(),
        destroy,
        parallelism: common.read.parallelism as usize,
        lock_timeout: common.lock_timeout,
    }
}

fn progress(common: &CommonRun, style: &Style) -> Arc<Bars> {
    Arc::new(Bars::new(*style, common.format() != Format::Human))
}

pub async fn plan(cli: &Cli, a: &PlanArgs, style: &Style) -> CmdResult {
    let ws = workspace(cli)?;
    let opts = PlanOptions {
        refresh_only: a.refresh_only,
        ..plan_options(&a.common, &a.select, &a.replace, a.refresh, a.destroy)
    };
    if a.refresh_only && (!a.refresh || a.out.is_some()) {
        return Err(Failure::Usage(anyhow!(
            "-refresh-only reads the cloud (it cannot go with -refresh=false) and plans no change to save with -out; \
             `htapsync refresh` records what it shows"
        )));
    }
    let planned = ops::plan::plan(&ws, &opts, progress(&a.common, style)).await?;
    let mut view: Box<dyn PlanView> = match a.common.format() {
        Format::Json => Box::new(Json::new(style.streams())),
        Format::Markdown => Box::new(Markdown::new(style.streams().out)),
        Format::Human => Box::new(Human::new(style.streams())),
    };
    // The plan file is written even when stdout is gone: what was shown
    // and what is saved must not differ by where the output went.
    let printed = view.plan(
        &planned.plan,
        Some(&planned.gate),
        &planned.notes,
        &planned.health,
    );
    if let Some(out) = &a.out {
        planned.save(&ws, out)?;
    }
    printed?;
    if let Some(out) = &a.out {
        view.saved(out, &apply_command(cli, out))?;
    }
    let exit = if !planned.gate.passed() {
        Exit::Failed
    } else if a.detailed_exitcode && planned.plan.has_changes() {
        Exit::Changes
    } else {
        Exit::Success
    };
    super::left_to_exit((ws, planned));
    Ok(exit)
}

/// The command that applies the plan saved at `out`, as typed from here.
fn apply_command(cli: &Cli, out: &Path) -> String {
    render::apply::apply_command(cli.chdir.as_deref(), cli.state.as_deref(), out)
}

/// Markdown is a plan comment: commands that change things refuse it.
pub(super) fn refuse_markdown(format: Format, command: &str) -> Result<(), Failure> {
    if format == Format::Markdown {
        return Err(anyhow!(
            "--format markdown is for `plan` and `show PLANFILE`; `{command}` supports human and json"
        )
        .into());
    }
    Ok(())
}

pub async fn apply(cli: &Cli, a: &ApplyArgs, style: &Style) -> CmdResult {
    refuse_markdown(a.common.format(), "apply")?;
    if a.refresh_only {
        let read = ReadArgs {
            common: a.common.clone(),
            select: a.select.clone(),
        };
        return super::cloud_cmd::refresh(cli, &read, style).await;
    }
    if let Some(file) = &a.plan_file {
        if !a.select.is_empty() || !a.replace.is_empty() || !a.refresh {
            return Err(anyhow!(
                "planning flags (-target, -exclude, their files, -replace, -refresh) cannot be used with a saved plan: the saved plan already holds them (the targets, exclusions and replacements it was made with)"
            )
            .into());
        }
        let ws = workspace(cli)?;
        let opts = SavedApplyOptions {
            parallelism: a.common.read.parallelism as usize,
            lock_timeout: a.common.lock_timeout,
            allow_destructive: a.allow_destructive,
            allow_unhealthy: a.allow_unhealthy,
        };
        let bars = progress(&a.common, style);
        let pending = ops::apply::prepare_saved(&ws, file, &opts, bars.clone()).await?;
        return run(pending, &a.common, &a.wait, true, bars, style).await;
    }
    let consent = Consent {
        allow_destructive: a.allow_destructive,
        prompt: !a.auto_approve,
        allow_unhealthy: a.allow_unhealthy,
    };
    let opts = plan_options(&a.common, &a.select, &a.replace, a.refresh, false);
    run_apply(cli, &a.common, &a.wait, opts, consent, style).await
}

pub async fn destroy(cli: &Cli, a: &DestroyArgs, style: &Style) -> CmdResult {
    refuse_markdown(a.common.format(), "destroy")?;
    // `destroy` asks its own question and is not subject to `[policy]`.
    let consent = Consent {
        allow_destructive: false,
        prompt: !a.auto_approve,
        allow_unhealthy: false,
    };
    let opts = plan_options(&a.common, &a.select, &[], true, true);
    run_apply(cli, &a.common, &a.wait, opts, consent, style).await
}

async fn run_apply(
    cli: &Cli,
    common: &CommonRun,
    wait: &WaitArgs,
    opts: PlanOptions,
    consent: Consent,
    style: &Style,
) -> CmdResult {
    if common.format() == Format::Json && consent.prompt {
        return Err(Failure::Usage(anyhow!(
            "--json needs --auto-approve or a saved plan: there is no prompt in JSON mode"
        )));
    }
    let ws = workspace(cli)?;
    let bars = progress(common, style);
    let pending = ops::apply::prepare(&ws, &opts, consent, bars.clone()).await?;
    run(pending, common, wait, !consent.prompt, bars, style).await
}

/// Shows the pending change, asks for approval, executes it and reports.
async fn run(
    mut pending: Pending,
    common: &CommonRun,
    wait: &WaitArgs,
    approved: bool,
    bars: Arc<Bars>,
    style: &Style,
) -> CmdResult {
    if let Some(interval) = wait.poll_interval {
        for poll in pending.poll.values_mut() {
            poll.interval = interval;
        }
    }
    let mut view: Box<dyn ApplyView> = super::view!(common.format(), style);
    let printed = view.plan(
        &pending.plan,
        Some(&pending.gate),
        &pending.notes,
        &pending.health,
    );
    if !pending.gate.passed() {
        view.gate_refused(&pending.gate);
        return Ok(Exit::Failed);
    }
    // Waits a killed run left are resumed even when nothing else changes.
    if !pending.plan.has_changes() && !pending.resumes_waits() {
        return Ok(Exit::Success);
    }
    if let Err(e) = printed {
        view.not_started("write the plan", &e);
        return Ok(Exit::Failed);
    }
    if let Approval::Refused(refused) = &pending.approval {
        view.destructive_refused(refused);
        return Ok(Exit::Failed);
    }
    if let Some(refused) = &pending.unhealthy {
        view.unhealthy_refused(refused);
        return Ok(Exit::Failed);
    }
    if !approved && pending.plan.has_changes() {
        let named = match &pending.approval {
            Approval::NameAtPrompt(changes) => changes.as_slice(),
            _ => &[],
        };
        match confirm(pending.operation == ops::Operation::Destroy, named) {
            Ok(true) => pending.confirm_destructive(),
            Ok(false) => {
                view.cancelled()?;
                return Ok(Exit::Failed);
            }
            Err(e) => {
                view.not_started("ask for approval", &e);
                return Ok(Exit::Failed);
            }
        }
    }
    let operation = pending.operation;
    let view = Arc::new(Mutex::new(view));
    let events = Arc::new(Events {
        view: view.clone(),
        bars: bars.clone(),
    });
    let interrupted = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(super::signal::watch_interrupts(interrupted.clone()));
    let outcome = pending.execute(events, interrupted, bars).await;
    watcher.abort();
    let outcome: ApplyOutcome = outcome?;
    // Output that can no longer be written does not change the exit code.
    let _ = lock(&view).outcome(&outcome, operation);
    Ok(Exit::failed_if(!outcome.succeeded()))
}

/// Asks for the word `yes`, as Terraform does, naming the `destructive` changes.
fn confirm(destroy: bool, destructive: &[Destructive]) -> anyhow::Result<bool> {
    let (question, detail) = if destroy {
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
    outln!("\n{question}\n  {detail}")?;
    if !destructive.is_empty() {
        outln!(
            "  These changes stop replication or fully re-sync a task, and need your explicit yes:"
        )?;
        for change in destructive {
            outln!("    {}", render::terminal_safe(&change.to_string()))?;
        }
    }
    outln!("  Only 'yes' will be accepted to approve.\n")?;
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

/// The apply's events, shown by the view with the progress bar out of the way.
struct Events {
    view: Arc<Mutex<Box<dyn ApplyView>>>,
    bars: Arc<Bars>,
}

fn lock(view: &Mutex<Box<dyn ApplyView>>) -> std::sync::MutexGuard<'_, Box<dyn ApplyView>> {
    view.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Reporter for Events {
    fn event(&self, event: &Event) -> std::io::Result<()> {
        self.bars.suspend(|| lock(&self.view).event(event))
    }

    fn output_lost(&self, error: &std::io::Error) {
        lock(&self.view).output_lost(error);
    }
}
