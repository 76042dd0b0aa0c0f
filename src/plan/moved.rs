//! `[[moved]]` blocks and `state mv`: giving a recorded task a new address
//! without any remote call. The cloud task keeps its name (the record's
//! `cloud_name` remembers it when it is not the new key), so the plan shows
//! "has moved" instead of a delete and a create that would re-sync every table.
//!
//! The rules follow Terraform's `moved`:
//! - a block whose source is recorded moves that record to its target;
//! - a block whose target is already recorded (the move was applied, or an
//!   `[[import]]` block adopted it: imports are recorded first) does nothing;
//! - a block with neither recorded is an error with a hint;
//! - chains (`a -> b`, `b -> c`) are followed to their end: a record at `a`
//!   or at `b` ends at `c`;
//! - two blocks from the same address, two blocks to the same address, a
//!   cycle (`a -> b`, `b -> a`), or a move onto an address that is recorded
//!   too are errors: there is no one right answer.

pub use crate::model::Moved;

use crate::model::Address;
use crate::state::TaskRecord;
use std::collections::{BTreeMap, BTreeSet};

/// Why moves cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoveError {
    #[error(
        "moved block from {from} to {to}: neither address is recorded in the state; \
         if the task was never managed under either address, remove the block \
         (to adopt a cloud task, write an [[import]] block); `htapsync state list` \
         shows the recorded addresses"
    )]
    NothingRecorded { from: Address, to: Address },
    #[error(
        "moved block from {from} to {to}: both addresses are recorded in the state; \
         remove one with `htapsync state rm`, or remove the block"
    )]
    BothRecorded { from: Address, to: Address },
    #[error("{address} is the {end} of more than one moved block; keep one of them")]
    Ambiguous { address: Address, end: &'static str },
    #[error("moved blocks form a cycle: {}; remove one of them", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(" -> "))]
    Cycle(Vec<Address>),
    #[error("moved block from {0} to {0}: an address cannot move onto itself")]
    ToItself(Address),
}

/// Moves the records of `tasks` (keyed by task name) as `blocks` say;
/// returns the moves made, each from the recorded address to the end of its
/// chain. Changes nothing when it fails.
pub fn apply_moves(
    tasks: &mut BTreeMap<String, TaskRecord>,
    blocks: &[Moved],
) -> Result<Vec<Moved>, MoveError> {
    let next = chain_links(blocks)?;
    let sources: BTreeSet<&Address> = next.keys().collect();
    let targets: BTreeSet<&Address> = next.values().collect();
    let mut made = Vec::new();
    // Each chain from its start (a source that is no block's target).
    for start in sources.iter().filter(|s| !targets.contains(*s)) {
        let mut chain = vec![(*start).clone()];
        while let Some(to) = next.get(chain.last().expect("a chain is never empty")) {
            chain.push(to.clone());
        }
        let end = chain.pop().expect("a chain has an end");
        let recorded: Vec<&Address> = chain
            .iter()
            .filter(|a| tasks.contains_key(a.name()))
            .collect();
        match (recorded.as_slice(), tasks.contains_key(end.name())) {
            ([], true) => {}
            ([], false) => {
                return Err(MoveError::NothingRecorded {
                    from: chain[chain.len() - 1].clone(),
                    to: end,
                });
            }
            ([from], false) => made.push(Moved {
                from: (*from).clone(),
                to: end,
            }),
            ([from, ..], true) => {
                return Err(MoveError::BothRecorded {
                    from: (*from).clone(),
                    to: end,
                });
            }
            ([from, other, ..], false) => {
                return Err(MoveError::BothRecorded {
                    from: (*from).clone(),
                    to: (*other).clone(),
                });
            }
        }
    }
    if let Some(address) = sources.iter().find(|s| {
        let mut seen = BTreeSet::new();
        let mut at = **s;
        while let Some(to) = next.get(at) {
            if !seen.insert(at) {
                return true;
            }
            at = to;
        }
        false
    }) {
        return Err(MoveError::Cycle(cycle_from(&next, address)));
    }
    for moved in &made {
        move_record(tasks, &moved.from, &moved.to);
    }
    Ok(made)
}

/// `from -> to` for every block, refusing ambiguous and self moves.
fn chain_links(blocks: &[Moved]) -> Result<BTreeMap<Address, Address>, MoveError> {
    let mut next = BTreeMap::new();
    let mut into = BTreeSet::new();
    for block in blocks {
        if block.from == block.to {
            return Err(MoveError::ToItself(block.from.clone()));
        }
        if next.insert(block.from.clone(), block.to.clone()).is_some() {
            return Err(MoveError::Ambiguous {
                address: block.from.clone(),
                end: "source",
            });
        }
        if !into.insert(block.to.clone()) {
            return Err(MoveError::Ambiguous {
                address: block.to.clone(),
                end: "target",
            });
        }
    }
    Ok(next)
}

/// The addresses of the cycle that `start` runs into, closed (`a -> b -> a`).
fn cycle_from(next: &BTreeMap<Address, Address>, start: &Address) -> Vec<Address> {
    let mut path = vec![start.clone()];
    while let Some(to) = next.get(path.last().expect("never empty")) {
        if let Some(i) = path.iter().position(|a| a == to) {
            let mut cycle = path.split_off(i);
            cycle.push(to.clone());
            return cycle;
        }
        path.push(to.clone());
    }
    path
}

/// Re-keys the record at `from` as `to`; its cloud task name is kept.
/// Returns whether there was one.
pub fn move_record(tasks: &mut BTreeMap<String, TaskRecord>, from: &Address, to: &Address) -> bool {
    let Some(mut record) = tasks.remove(from.name()) else {
        return false;
    };
    record.spec = record.spec.readdressed(to.name());
    tasks.insert(to.name().to_string(), record);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TaskSpec;

    fn records(names: &[&str]) -> BTreeMap<String, TaskRecord> {
        names
            .iter()
            .map(|n| {
                let record = TaskRecord {
                    spec: TaskSpec::sample(n),
                    prevent_destroy: false,
                    updated_at: String::new(),
                };
                (n.to_string(), record)
            })
            .collect()
    }

    fn mv(from: &str, to: &str) -> Moved {
        Moved {
            from: Address::task(from),
            to: Address::task(to),
        }
    }

    #[test]
    fn a_move_keeps_the_cloud_name_and_is_harmless_once_made() {
        let mut tasks = records(&["aaa"]);
        let made = apply_moves(&mut tasks, &[mv("aaa", "bbb")]).unwrap();
        assert_eq!(made, [mv("aaa", "bbb")]);
        let spec = &tasks["bbb"].spec;
        assert_eq!((spec.name.as_str(), spec.task_name()), ("bbb", "aaa"));
        assert!(!tasks.contains_key("aaa"));
        let again = apply_moves(&mut tasks, &[mv("aaa", "bbb")]).unwrap();
        assert!(again.is_empty());
        // Moving back drops the recorded cloud name: it is the key again.
        apply_moves(&mut tasks, &[mv("bbb", "aaa")]).unwrap();
        assert_eq!(tasks["aaa"].spec.cloud_name, None);
    }

    #[test]
    fn chains_end_at_their_last_target() {
        for recorded in ["aaa", "bbb"] {
            let mut tasks = records(&[recorded]);
            let made = apply_moves(&mut tasks, &[mv("bbb", "ccc"), mv("aaa", "bbb")]).unwrap();
            assert_eq!(made, [mv(recorded, "ccc")]);
            assert_eq!(tasks.keys().collect::<Vec<_>>(), ["ccc"]);
        }
    }

    #[test]
    fn unusable_blocks_are_errors_that_change_nothing() {
        let cases: [(&[&str], Vec<Moved>, &str); 5] = [
            (
                &["zzz"],
                vec![mv("aaa", "bbb")],
                "neither address is recorded",
            ),
            (&["aaa", "bbb"], vec![mv("aaa", "bbb")], "both addresses"),
            (
                &["aaa"],
                vec![mv("aaa", "bbb"), mv("aaa", "ccc")],
                "source of more than one",
            ),
            (
                &["aaa"],
                vec![mv("aaa", "bbb"), mv("bbb", "aaa")],
                "aaa -> task.bbb -> task.aaa",
            ),
            (&["aaa"], vec![mv("aaa", "aaa")], "onto itself"),
        ];
        for (names, blocks, message) in cases {
            let mut tasks = records(names);
            let before = tasks.clone();
            let err = apply_moves(&mut tasks, &blocks).unwrap_err();
            assert!(err.to_string().contains(message), "{err}");
            assert_eq!(tasks, before);
        }
    }
}
