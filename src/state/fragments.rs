//! Encoding a large state from cached per-task pieces.
//!
//! `apply` writes state after every operation, and each write changes a task
//! or two of possibly thousands: re-serialising every record each time made
//! the encoder the whole cost of a write. The state document is the header,
//! then each task record under its name, then the intents; serde_json's
//! pretty printer renders a record the same wherever it sits, only indented.
//! So each record's rendering is kept and the document is spliced together
//! from them, byte for byte what [`encode`] would produce (tested below).

use super::codec::encode;
use super::{State, TaskRecord};
use std::collections::BTreeMap;

/// Indentation of a task record inside `"tasks"` (depth 2 of two spaces).
const INDENT: &[u8] = b"    ";
/// How the header renders an empty task map; the records go between the braces.
const EMPTY_TASKS: &[u8] = b"\n  \"tasks\": {}";

/// Each task's rendering as an entry of the document's `"tasks"` object.
#[derive(Debug, Default)]
pub(crate) struct Fragments(BTreeMap<String, Vec<u8>>);

impl Fragments {
    pub(crate) fn of(tasks: &BTreeMap<String, TaskRecord>) -> Fragments {
        Fragments(
            tasks
                .iter()
                .map(|(name, record)| (name.clone(), fragment(name, record)))
                .collect(),
        )
    }

    /// Renders `changed` tasks again from `tasks` and drops `removed` ones.
    pub(crate) fn update(
        &mut self,
        changed: &[String],
        removed: &[String],
        tasks: &BTreeMap<String, TaskRecord>,
    ) {
        for name in removed {
            self.0.remove(name);
        }
        for name in changed {
            match tasks.get(name) {
                Some(record) => self.0.insert(name.clone(), fragment(name, record)),
                None => self.0.remove(name),
            };
        }
    }

    /// Whether the piece written for `name` reads back as `record`.
    pub(crate) fn reads_back(&self, name: &str, record: &TaskRecord) -> bool {
        let Some(piece) = self.0.get(name) else {
            return false;
        };
        let mut object = Vec::with_capacity(piece.len() + 2);
        object.push(b'{');
        object.extend_from_slice(piece);
        object.push(b'}');
        serde_json::from_slice::<BTreeMap<String, TaskRecord>>(&object)
            .is_ok_and(|back| back.len() == 1 && back.get(name) == Some(record))
    }

    /// The document for `state`. Falls back to a full [`encode`] when these
    /// pieces are not for exactly `state`'s tasks (a piece missing or extra
    /// would silently drop or add a task).
    pub(crate) fn encode(&self, state: &State) -> Vec<u8> {
        if !self.0.keys().eq(state.tasks.keys()) || state.tasks.is_empty() {
            return encode(state);
        }
        let header = State {
            tasks: BTreeMap::new(),
            intents: state.intents.clone(),
            lineage: state.lineage.clone(),
            htapsync_version: state.htapsync_version.clone(),
            ..*state
        };
        let head = encode(&header);
        // Strings are escaped (no raw newline or quote), so only the task map
        // itself can render as this sequence.
        let Some(at) = head
            .windows(EMPTY_TASKS.len())
            .position(|w| w == EMPTY_TASKS)
            .map(|i| i + EMPTY_TASKS.len() - 2)
        else {
            return encode(state);
        };
        let body: usize = self.0.values().map(|f| f.len() + 2).sum();
        let mut out = Vec::with_capacity(head.len() + body + 8);
        out.extend_from_slice(&head[..at]);
        out.extend_from_slice(b"{\n");
        for (i, piece) in self.0.values().enumerate() {
            if i > 0 {
                out.extend_from_slice(b",\n");
            }
            out.extend_from_slice(piece);
        }
        out.extend_from_slice(b"\n  }");
        out.extend_from_slice(&head[at + 2..]);
        out
    }
}

/// `    "name": {record, pretty, every line indented by two levels}`.
fn fragment(name: &str, record: &TaskRecord) -> Vec<u8> {
    // Plain strings and maps of strings: serialisation cannot fail.
    let key = serde_json::to_vec(name).expect("a string serialises");
    let body = serde_json::to_vec_pretty(record).expect("a task record serialises");
    let mut out = Vec::with_capacity(body.len() + body.len() / 8 + key.len() + 8);
    out.extend_from_slice(INDENT);
    out.extend_from_slice(&key);
    out.extend_from_slice(b": ");
    for &b in &body {
        out.push(b);
        if b == b'\n' {
            out.extend_from_slice(INDENT);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TaskSpec;
    use crate::state::{Intent, IntentOp};

    fn record(name: &str, paused: bool) -> TaskRecord {
        TaskRecord {
            spec: TaskSpec {
                source_node_id: Some("node \"1\"\n".into()),
                target_database_name: "shop_olap".into(),
                tables: vec!["orders".into(), "línea".into()],
                db_configs: [("a".to_string(), "1".to_string())].into(),
                table_configs: [("orders".to_string(), "order by id".to_string())].into(),
                paused,
                ..TaskSpec::sample(name)
            },
            prevent_destroy: paused,
            updated_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    /// The spliced document is byte for byte `encode`'s, through adds,
    /// changes, removals, intents and an empty task map.
    #[test]
    fn spliced_documents_are_exactly_what_encode_writes() {
        let mut state = State::new();
        let mut pieces = Fragments::of(&state.tasks);
        assert_eq!(pieces.encode(&state), encode(&state));
        let names: Vec<String> = ["b", "a", "tab\t\"quoted\"", "\"tasks\": {}", "z"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for (i, name) in names.iter().enumerate() {
            state.tasks.insert(name.clone(), record(name, i % 2 == 0));
            state.serial += 1;
            pieces.update(std::slice::from_ref(name), &[], &state.tasks);
            assert_eq!(pieces.encode(&state), encode(&state), "after adding {name}");
        }
        state.tasks.insert("a".into(), record("a", true));
        state.intents.push(Intent {
            id: "i".into(),
            address: record("c", false).spec.address(),
            operation: IntentOp::Delete,
            spec: record("c", false).spec,
            started_at: "now".into(),
        });
        state.tasks.remove("b");
        pieces.update(&["a".to_string()], &["b".to_string()], &state.tasks);
        assert_eq!(pieces.encode(&state), encode(&state));
        state.tasks.clear();
        pieces.update(&[], &names, &state.tasks);
        assert_eq!(pieces.encode(&state), encode(&state));
    }

    #[test]
    fn a_piece_reads_back_only_as_its_own_record() {
        let mut tasks = BTreeMap::new();
        tasks.insert("a".to_string(), record("a", false));
        let pieces = Fragments::of(&tasks);
        assert!(pieces.reads_back("a", &record("a", false)));
        assert!(!pieces.reads_back("a", &record("a", true)));
        assert!(!pieces.reads_back("b", &record("a", false)));
    }

    #[test]
    fn pieces_for_other_tasks_fall_back_to_a_full_encode() {
        let mut state = State::new();
        state.tasks.insert("a".into(), record("a", false));
        let stale = Fragments::default();
        assert_eq!(stale.encode(&state), encode(&state));
    }
}
