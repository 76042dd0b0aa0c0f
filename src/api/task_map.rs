//! A task spec as the cloud API sees it, both ways: the request body that
//! describes a spec (E1, E2, E8) and the spec read back from a task's E5
//! configuration and E4 row. Kept together so that what is sent and what is
//! read back cannot drift apart; check, apply, refresh and import all use it.
//! Each field's way there and back lives in its registry entry
//! ([`crate::model::fields::TASK_FIELDS`]: `to_request`, `from_cloud`); this
//! module walks the registry, and its tests hold the entries to their paths.

use super::wire::{ReplicationConfigResponse, ReplicationInfo, Stage, TaskConfigRequest};
use crate::model::TaskSpec;
use crate::model::fields::TASK_FIELDS;

/// The request body that describes `spec` to E1, E2 and E8: every registry
/// field writes its own part. `tables_configs` lists every configured table;
/// `is_create_task` is left to the caller.
pub fn task_request(spec: &TaskSpec) -> TaskConfigRequest {
    let mut request = TaskConfigRequest {
        task_name: Some(spec.name.clone()),
        ..Default::default()
    };
    for field in TASK_FIELDS {
        (field.to_request)(spec, &mut request);
    }
    request
}

/// Builds the live [`TaskSpec`] of a task from its E5 configuration and E4 row:
/// every registry field reads its own part back; `recorded` fills in what the
/// cloud does not say (see [`paused_by_cloud`]).
pub fn spec_from_cloud(
    recorded: &TaskSpec,
    cfg: &ReplicationConfigResponse,
    live: &ReplicationInfo,
) -> TaskSpec {
    let mut spec = recorded.clone();
    for field in TASK_FIELDS {
        (field.from_cloud)(cfg, live, &mut spec);
    }
    spec
}

/// Whether the cloud says the task is paused, from its stage (E4), for every
/// documented stage; `None` when the stage does not say, and the recorded or
/// configured value stands.
///
/// A task is paused only when the cloud says `Paused`. `Wait` is both
/// "registered, never started" and "started, not copying yet": reading it as
/// paused would make a plan pause live replication. `Cancelled` is neither
/// paused nor replicating, and a stage this version does not know says nothing.
pub fn paused_by_cloud(live: &ReplicationInfo) -> Option<bool> {
    match Stage::parse(&live.stage) {
        Some(Stage::Paused) => Some(true),
        Some(Stage::Full | Stage::Incremental) => Some(false),
        Some(Stage::Wait | Stage::Cancelled) | None => None,
    }
}

#[cfg(test)]
mod tests;
