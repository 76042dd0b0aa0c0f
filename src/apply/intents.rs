//! Resolves intents left by a run that died between a remote create or delete
//! and the state write that records it: the task is looked up and adopted or
//! forgotten, so it is never created twice and never lost. The wait of a task
//! started but not yet at its stage stays, for the next apply to resume.

use crate::api::wire::Stage;
use crate::api::{ApiError, Clients};
use crate::state::{IntentOp, State, TaskRecord};

/// Looks up every pending intent of `state` in the cloud and folds the outcome
/// into `state` (in memory: the caller persists it). Returns one note per
/// intent resolved, for the user.
pub async fn resolve_intents(
    clients: &Clients,
    state: &mut State,
) -> Result<Vec<String>, ApiError> {
    let mut notes = Vec::new();
    let intents = std::mem::take(&mut state.intents);
    // One listing per instance, however many intents a killed run left.
    let lists = crate::refresh::list_instances(clients, intents.iter().map(|i| &i.spec)).await?;
    // Intents are recorded for a whole run ahead of its calls: a run killed
    // early leaves many whose create was never sent, said in one note.
    let mut never_sent = Vec::new();
    for intent in intents {
        let spec = &intent.spec;
        let live = lists
            .get(&spec.instance_id)
            .and_then(|l| l.get(spec.task_name()))
            .cloned();
        let name = spec.name.clone();
        match (intent.operation, live) {
            (IntentOp::Create, Some(row)) => {
                // A create interrupted in stage Wait may never have been
                // started: recorded as paused, the next plan starts it (a
                // resume starts a task in Wait).
                let paused = crate::refresh::paused_by_cloud(&row).unwrap_or(true);
                state.tasks.entry(name).or_insert_with(|| TaskRecord {
                    spec: crate::model::TaskSpec {
                        paused,
                        ..spec.clone()
                    },
                    prevent_destroy: false,
                    updated_at: intent.started_at.clone(),
                });
                notes.push(format!(
                    "{}: an interrupted create had reached the cloud; the task was adopted",
                    intent.address
                ));
            }
            (IntentOp::Create, None) => never_sent.push(intent.address.to_string()),
            (IntentOp::Delete, Some(_)) => notes.push(format!(
                "{}: an interrupted delete did not finish; the task is still managed",
                intent.address
            )),
            (IntentOp::Await, Some(row)) if !reached(spec, &row) => {
                notes.push(format!(
                    "{}: a task started by an interrupted run is not replicating yet; apply waits for it unless the plan changes it",
                    intent.address
                ));
                state.intents.push(intent);
            }
            // There (or gone: refresh then plans it again): nothing to wait for.
            (IntentOp::Await, _) => {}
            (IntentOp::Delete, None) => {
                state.tasks.remove(&name);
                notes.push(format!(
                    "{}: an interrupted delete had finished; the task was forgotten",
                    intent.address
                ));
            }
        }
    }
    notes.extend(never_sent_note(&never_sent));
    Ok(notes)
}

/// One note for every create a killed run recorded but never sent (a run
/// records its intents ahead of its calls), naming the first few.
fn never_sent_note(never_sent: &[String]) -> Option<String> {
    const SHOWN: usize = 5;
    match never_sent {
        [] => None,
        [one] => Some(format!(
            "{one}: an interrupted create never reached the cloud; it will be planned again"
        )),
        many => {
            let more = many.len().saturating_sub(SHOWN);
            let listed = many[..many.len().min(SHOWN)].join(", ");
            let rest = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            Some(format!(
                "{} interrupted creates never reached the cloud ({listed}{rest}); they will be planned again",
                many.len()
            ))
        }
    }
}

/// Whether the task has reached the stage the interrupted wait was for.
fn reached(spec: &crate::model::TaskSpec, row: &crate::api::wire::ReplicationInfo) -> bool {
    let stage = Stage::parse(&row.stage);
    // Not observable (mutants.toml skips it): `create` records no wait for a task created paused.
    if spec.paused {
        stage == Some(Stage::Paused)
    } else {
        stage.is_some_and(Stage::is_running)
    }
}

#[cfg(test)]
mod tests {
    use super::never_sent_note;

    #[test]
    fn never_sent_creates_are_one_note_naming_the_first_five() {
        let names = |n: usize| -> Vec<String> { (1..=n).map(|i| format!("task.t{i}")).collect() };
        assert_eq!(never_sent_note(&[]), None);
        assert_eq!(
            never_sent_note(&names(1)).unwrap(),
            "task.t1: an interrupted create never reached the cloud; it will be planned again"
        );
        assert_eq!(
            never_sent_note(&names(5)).unwrap(),
            "5 interrupted creates never reached the cloud (task.t1, task.t2, task.t3, task.t4, \
             task.t5); they will be planned again"
        );
        assert_eq!(
            never_sent_note(&names(7)).unwrap(),
            "7 interrupted creates never reached the cloud (task.t1, task.t2, task.t3, task.t4, \
             task.t5 and 2 more); they will be planned again"
        );
    }
}
