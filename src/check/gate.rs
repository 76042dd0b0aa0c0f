//! Runs table-config-check (E2) and database-config-check (E1) for every task
//! that a plan would create or change, concurrently under a bound.

use super::expand::SourceTables;
use super::{GateReport, GateUnavailable, ParamVerdict, TableVerdict, TaskVerdict};
use crate::api::task_map::task_request;
use crate::api::{ApiError, Client, Clients};
use crate::model::{Address, TaskSpec};
use crate::plan::{Action, Change, Plan};
use crate::table_config::{parse_table_config, referenced_columns};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio::task::{JoinError, JoinSet};

/// Whether the gate must check this change: anything that sends a new
/// configuration to the cloud (create, replace, and updates other than a
/// pure pause/resume).
fn needs_check(change: &Change) -> bool {
    matches!(
        change.action,
        Action::Create | Action::Update | Action::Replace
    ) && change.after.is_some()
}

/// The tasks of `plan` the gate must check, for the length of the progress
/// bar on a terminal (mutants.toml skips it: `run_gate` fills `required` itself).
pub fn addresses_to_check(plan: &Plan) -> BTreeSet<Address> {
    plan.changes
        .iter()
        .filter(|c| needs_check(c))
        .map(|c| c.address.clone())
        .collect()
}

/// Checks every task of `plan` that would be created or changed. `on_done` is
/// called once per finished task (for progress display).
///
/// Every task to check is recorded in the report's `required` set, and each
/// gets a verdict: a check that panics or is cancelled becomes a failed one.
/// When a check meets a failure that says nothing about the tables (see
/// [`crate::api::ServiceFailure`]), the other checks are stopped and the
/// report says the gate could not run, without verdicts.
///
/// Each provider has its own `parallelism` checks in flight.
pub async fn run_gate(
    clients: &Clients,
    plan: &Plan,
    parallelism: usize,
    on_done: impl Fn(&TaskVerdict) + Send + Sync + 'static,
) -> GateReport {
    let mut permits: HashMap<Option<String>, Arc<Semaphore>> = HashMap::new();
    let on_done = Arc::new(on_done);
    let mut report = GateReport::default();
    let mut set = JoinSet::new();
    let mut addresses = HashMap::new();
    for change in plan.changes.iter().filter(|c| needs_check(c)) {
        let Some(spec) = change.after.clone() else {
            continue;
        };
        let client = clients.of(&spec).cloned();
        let permits = permits
            .entry(spec.provider.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(parallelism.max(1))))
            .clone();
        let on_done = on_done.clone();
        let address = change.address.clone();
        report.required.insert(address.clone());
        let handle = set.spawn({
            let address = address.clone();
            async move {
                let _permit = permits.acquire_owned().await.ok();
                let verdict = match client {
                    Ok(client) => check_task(&client, address, &spec).await,
                    Err(e) => Ok(TaskVerdict {
                        address,
                        tables: Vec::new(),
                        params: Vec::new(),
                        error: Some(e.to_string()),
                    }),
                };
                if let Ok(verdict) = &verdict {
                    on_done(verdict);
                }
                verdict
            }
        });
        addresses.insert(handle.id(), address);
    }
    while let Some(joined) = set.join_next_with_id().await {
        let verdict = match joined {
            Ok((_, Ok(verdict))) => verdict,
            Ok((_, Err(unavailable))) => {
                set.shutdown().await;
                report.verdicts.clear();
                report.unavailable = Some(unavailable);
                break;
            }
            Err(e) => match addresses.get(&e.id()) {
                Some(address) => unfinished(address.clone(), &e),
                // Unknown task: its address stays in `required`, so the gate fails.
                None => continue,
            },
        };
        report.verdicts.insert(verdict.address.clone(), verdict);
    }
    report
}

/// The failed verdict of a check that never finished.
fn unfinished(address: Address, error: &JoinError) -> TaskVerdict {
    let why = if error.is_panic() {
        "panicked"
    } else {
        "was cancelled"
    };
    TaskVerdict {
        error: Some(format!(
            "the check of {address} {why} before the cloud answered; it is not a pass"
        )),
        address,
        tables: Vec::new(),
        params: Vec::new(),
    }
}

/// Adds a hint to each failed table. The check API answers only
/// `success`/`failed`, so the hint is htapsync's best guess, never a verdict:
/// the source's table list (E14) tells a missing table apart from a rejected
/// configuration, and the local parse of the config names the clause at fault.
/// No API lists a table's columns, so a possibly missing column is named by
/// listing the columns the config references. Without the table list, only
/// parse problems are hinted.
async fn explain_failures(client: &Client, spec: &TaskSpec, tables: &mut [TableVerdict]) {
    let existing = match SourceTables::default().of(client, spec).await {
        Ok(tables) => Some(tables),
        Err(e) => {
            tracing::debug!(error = %e, "no source table list for hints");
            None
        }
    };
    let database = &spec.source_database_name;
    for t in tables.iter_mut().filter(|t| !t.passed) {
        t.hint = match existing.as_deref() {
            Some(existing) if !table_exists(existing, &t.table) => {
                Some(format!("no such table in source database {database}"))
            }
            Some(_) => Some(rejection_hint(database, &t.table, &t.config)),
            None => parse_table_config(&t.config)
                .err()
                .map(|e| format!("table config does not parse: {e}")),
        };
    }
}

/// Whether `table` is among the source's tables, named alone or as
/// `DATABASE.TABLE` (an instance-level task's list).
fn table_exists(existing: &[String], table: &str) -> bool {
    existing
        .iter()
        .any(|e| e == table || e.rsplit_once('.').is_some_and(|(_, name)| name == table))
}

/// The likely reasons the cloud rejected `table`, which exists: the clause
/// that does not parse, else the columns the config names (one may be
/// missing), and the documented primary-key limit.
fn rejection_hint(database: &str, table: &str, config: &str) -> String {
    let clauses = match parse_table_config(config) {
        Ok(clauses) => clauses,
        Err(e) => return format!("table config does not parse: {e}"),
    };
    let columns = referenced_columns(&clauses);
    if columns.is_empty() {
        return "rejected (primary key values must fit 128 bytes)".to_string();
    }
    format!(
        "check that {database}.{table} has column{} {} (no API lists columns) \
         and that its primary key values fit 128 bytes",
        if columns.len() == 1 { "" } else { "s" },
        columns.join(", ")
    )
}

/// The cloud's verdict on one task, or why the cloud could not give one.
async fn check_task(
    client: &Client,
    address: Address,
    spec: &TaskSpec,
) -> Result<TaskVerdict, GateUnavailable> {
    let mut verdict = TaskVerdict {
        address,
        tables: Vec::new(),
        params: Vec::new(),
        error: None,
    };
    let mut req = task_request(spec);
    req.is_create_task = Some("false".to_string());
    let tables = client.check_tables(&spec.instance_id, &req);
    let params = async {
        if spec.db_configs.is_empty() {
            return Ok(None);
        }
        // E1 with a complete body (task_name + table_repl_config) registers the
        // task: the Terraform provider creates tasks that way. A check must
        // never change the cloud, so the scope is left out here.
        let mut db_req = task_request(spec);
        db_req.tables_configs = None;
        db_req.table_repl_config = None;
        client
            .check_db_config(&spec.instance_id, &db_req)
            .await
            .map(Some)
    };
    let (tables, params) = tokio::join!(tables, params);
    for error in [tables.as_ref().err(), params.as_ref().err()]
        .into_iter()
        .flatten()
    {
        if let Some(unavailable) = unavailable(error) {
            return Err(unavailable);
        }
    }
    match tables {
        Ok(resp) => {
            verdict.tables = resp
                .tbl_config_check_results
                .into_iter()
                .map(|r| TableVerdict {
                    passed: r.passed(),
                    table: r.table_name,
                    config: r.table_config,
                    result: r.check_result,
                    hint: None,
                })
                .collect();
            if verdict.tables.iter().any(|t| !t.passed) {
                explain_failures(client, spec, &mut verdict.tables).await;
            }
        }
        Err(e) => verdict.error = Some(e.to_string()),
    }
    match params {
        Ok(Some(resp)) => {
            let sides = [
                ("source", resp.source_db_config_check_results),
                ("target", resp.target_db_config_check_results),
            ];
            for (side, results) in sides {
                verdict
                    .params
                    .extend(results.into_iter().map(|r| ParamVerdict {
                        passed: r.passed(),
                        name: r.param_name,
                        value: r.value,
                        side: side.to_string(),
                        result: r.check_result,
                    }));
            }
        }
        Ok(None) => {}
        Err(e) => {
            let line = e.to_string();
            verdict.error = Some(match verdict.error.take() {
                Some(prev) => format!("{prev}; {line}"),
                None => line,
            });
        }
    }
    Ok(verdict)
}

/// A failed check call that is not the cloud's judgement of the task.
fn unavailable(error: &ApiError) -> Option<GateUnavailable> {
    error.service_failure().map(|reason| GateUnavailable {
        reason,
        error: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::table_exists;

    #[test]
    fn a_table_exists_by_its_name_alone_or_after_its_database() {
        let existing = ["orders".to_string(), "shop.items".to_string()];
        assert!(table_exists(&existing, "orders"));
        assert!(table_exists(&existing, "items"));
        assert!(!table_exists(&existing, "order"));
        assert!(!table_exists(&existing, "shop"));
        assert!(!table_exists(&[], "orders"));
    }
}
