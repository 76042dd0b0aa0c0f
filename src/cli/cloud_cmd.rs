//! `refresh`, `status` and `import`: flags to options, one operation of
//! [`crate::ops`], its view, and the exit code.

use super::apply_cmd::refuse_markdown;
use super::args::{Cli, CloudRead, DriftArgs, ImportArgs, ReadArgs};
use super::output::Style;
use super::{CmdResult, Exit, view, workspace};
use crate::ops::{self, DriftOptions, ImportOptions, RefreshOptions};
use crate::render::view::{DriftView, ImportView, RefreshView, StatusView};

pub async fn refresh(cli: &Cli, a: &ReadArgs, style: &Style) -> CmdResult {
    let common = &a.common;
    refuse_markdown(common.format(), "refresh")?;
    let ws = workspace(cli)?;
    let opts = RefreshOptions {
        parallelism: common.read.parallelism as usize,
        lock_timeout: common.lock_timeout,
        select: a.select.options(),
    };
    let refreshed = ops::refresh::refresh(&ws, &opts).await?;
    let mut view: Box<dyn RefreshView> = view!(common.format(), style);
    view.refreshed(&refreshed)?;
    Ok(Exit::Success)
}

pub async fn status(cli: &Cli, read: &CloudRead, style: &Style) -> CmdResult {
    refuse_markdown(read.format(), "status")?;
    let ws = workspace(cli)?;
    let status = ops::refresh::status(&ws, read.parallelism as usize).await?;
    let mut view: Box<dyn StatusView> = view!(read.format(), style);
    view.status(&status)?;
    // Every format exits the same way: 1 when any task is missing, needs
    // repair, is abnormal, failed its last table change or could not be read.
    Ok(Exit::failed_if(!status.healthy()))
}

/// `drift`: read-only; exit 0 without drift, 2 with drift, 1 on error.
pub async fn drift(cli: &Cli, a: &DriftArgs, style: &Style) -> CmdResult {
    refuse_markdown(a.read.format(), "drift")?;
    let ws = workspace(cli)?;
    let opts = DriftOptions {
        parallelism: a.read.parallelism as usize,
        select: a.select.options(),
    };
    let drifted = ops::drift::drift(&ws, &opts).await?;
    let mut view: Box<dyn DriftView> = view!(a.read.format(), style);
    view.drift(&drifted)?;
    Ok(if drifted.has_drift() {
        Exit::Changes
    } else {
        Exit::Success
    })
}

pub async fn import(cli: &Cli, a: &ImportArgs, style: &Style) -> CmdResult {
    refuse_markdown(a.common.format(), "import")?;
    let ws = workspace(cli)?;
    let opts = ImportOptions {
        address: a.address.clone(),
        all: a.all,
        instance: a.instance.clone(),
        provider: a.provider.clone(),
        generate_config: a.generate_config.clone(),
        lock_timeout: a.common.lock_timeout,
    };
    let imported = ops::import::import(&ws, &opts).await?;
    let mut view: Box<dyn ImportView> = view!(a.common.format(), style);
    view.imported(&imported)?;
    Ok(Exit::Success)
}
