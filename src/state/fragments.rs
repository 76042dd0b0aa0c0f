//! Encoding a large state by splicing per-task pieces: the incremental encoder
//! of the local backend.
//!
//! **Why.** `apply` persists state after every operation (intents before each
//! create or delete, the outcome after it), and each write changes a task or
//! two of possibly thousands. Encoding the whole document again costs
//! ≈ 39 ms for 10,000 tasks, and checking it by decoding it back ≈ 52 ms
//! (docs/performance.md, figure 4): done on every write, that made the state
//! file, not the cloud, the bottleneck of a large apply. With the splice a
//! write renders and checks only the records that changed, and a whole
//! overwrite of 10,000 tasks, fsyncs included, costs ≈ 27 ms.
//!
//! **How.** The state document is the header, then each task record under its
//! name inside `"tasks"`, then the intents, and serde_json's pretty printer
//! renders a record the same wherever it sits, only indented. So each record's
//! rendering (its *piece*) is kept between writes, and a document is the
//! header (with an empty task map) with the pieces spliced into that map.
//!
//! **Invariant.** Every document [`splice`] returns is byte for byte what
//! [`encode`] writes for the same state. Guarded by:
//! - [`splice`] itself: it builds the task map from the state's own task
//!   names, and returns `None` (the caller then encodes the whole state)
//!   when a task has no piece or the header's empty task map cannot be found;
//! - the local backend's round-trip check before every write
//!   ([`super::local`]): the whole document on a command's first write, and
//!   the header and the changed pieces on later ones, whose unchanged pieces
//!   were checked when they were written;
//! - the tests below, and `tests/state_write_props.rs`, which compares every
//!   file written through random sequences of changes and new runs with
//!   [`encode`]'s bytes.

use super::codec::encode;
use super::{State, TaskRecord};
use std::collections::BTreeMap;

/// Indentation of a task record inside `"tasks"` (depth 2 of two spaces).
const INDENT: &[u8] = b"    ";
/// How the header renders an empty task map; the records go between the braces.
const EMPTY_TASKS: &[u8] = b"\n  \"tasks\": {}";

/// Task records rendered as entries of the document's `"tasks"` object, by task name.
#[derive(Debug, Default)]
pub(crate) struct Fragments(BTreeMap<String, Vec<u8>>);

impl Fragments {
    /// Renders every task of `tasks`.
    pub(crate) fn of(tasks: &BTreeMap<String, TaskRecord>) -> Fragments {
        Fragments(
            tasks
                .iter()
                .map(|(name, record)| (name.clone(), fragment(name, record)))
                .collect(),
        )
    }

    /// Renders those of `names` that are in `tasks` (the others were removed).
    pub(crate) fn of_names(names: &[String], tasks: &BTreeMap<String, TaskRecord>) -> Fragments {
        Fragments(
            names
                .iter()
                .filter_map(|name| Some((name.clone(), fragment(name, tasks.get(name)?))))
                .collect(),
        )
    }

    /// Brings these pieces up to a write that changed `names`: `fresh` holds
    /// the pieces of those still present, the others are dropped.
    pub(crate) fn merge(&mut self, names: &[String], mut fresh: Fragments) {
        for name in names {
            match fresh.0.remove(name) {
                Some(piece) => self.0.insert(name.clone(), piece),
                None => self.0.remove(name),
            };
        }
    }

    /// Whether the piece for `name` reads back as `record`, under that name.
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
}

/// `state` without its tasks: what the document holds besides the task records.
pub(crate) fn header(state: &State) -> State {
    State {
        tasks: BTreeMap::new(),
        intents: state.intents.clone(),
        lineage: state.lineage.clone(),
        htapsync_version: state.htapsync_version.clone(),
        ..*state
    }
}

/// The document for `state`, each task's piece taken from `fresh` or else
/// from `kept`; `None` when a task has no piece in either (it would be
/// dropped). Pieces of tasks `state` does not have are never used.
pub(crate) fn splice(state: &State, fresh: &Fragments, kept: &Fragments) -> Option<Vec<u8>> {
    // `kept` is walked alongside the (equally sorted) task names rather than
    // searched once per task: one comparison per task, not a lookup.
    let mut kept = kept.0.iter().peekable();
    let pieces: Vec<&[u8]> = state
        .tasks
        .keys()
        .map(|name| {
            while kept.next_if(|(k, _)| *k < name).is_some() {}
            let kept_piece = kept.next_if(|(k, _)| *k == name).map(|(_, p)| p);
            fresh.0.get(name).or(kept_piece).map(Vec::as_slice)
        })
        .collect::<Option<_>>()?;
    let head = encode(&header(state));
    if pieces.is_empty() {
        // Without tasks the header is the whole document.
        return Some(head);
    }
    // Strings are escaped (no raw newline or quote), so only the task map
    // itself can render as this sequence.
    let at = head
        .windows(EMPTY_TASKS.len())
        .position(|w| w == EMPTY_TASKS)?
        + EMPTY_TASKS.len()
        - 2;
    let mut out = Vec::with_capacity(capacity(&head, &pieces));
    out.extend_from_slice(&head[..at]);
    out.extend_from_slice(b"{\n");
    for (i, piece) in pieces.into_iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b",\n");
        }
        out.extend_from_slice(piece);
    }
    out.extend_from_slice(b"\n  }");
    out.extend_from_slice(&head[at + 2..]);
    Some(out)
}

/// Room for the spliced document: the header, each piece and its separator.
/// Performance only (mutants.toml skips it): never the bytes written.
fn capacity(head: &[u8], pieces: &[&[u8]]) -> usize {
    head.len() + pieces.iter().map(|p| p.len() + 2).sum::<usize>() + 8
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

    /// Splices `state` as a later write does: only `changed` rendered afresh,
    /// the rest from `kept`, which then takes the fresh pieces.
    fn write(state: &State, changed: &[String], kept: &mut Fragments) -> Vec<u8> {
        let fresh = Fragments::of_names(changed, &state.tasks);
        let bytes = splice(state, &fresh, kept).expect("every task has a piece");
        kept.merge(changed, fresh);
        bytes
    }

    /// The spliced document is byte for byte `encode`'s, through adds,
    /// changes, removals, intents and an empty task map.
    #[test]
    fn spliced_documents_are_exactly_what_encode_writes() {
        let mut state = State::new();
        let mut kept = Fragments::of(&state.tasks);
        assert_eq!(write(&state, &[], &mut kept), encode(&state));
        let names: Vec<String> = ["b", "a", "tab\t\"quoted\"", "\"tasks\": {}", "z"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for (i, name) in names.iter().enumerate() {
            state.tasks.insert(name.clone(), record(name, i % 2 == 0));
            state.serial += 1;
            let bytes = write(&state, std::slice::from_ref(name), &mut kept);
            assert_eq!(bytes, encode(&state), "after adding {name}");
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
        let bytes = write(&state, &["a".to_string(), "b".to_string()], &mut kept);
        assert_eq!(bytes, encode(&state));
        assert_eq!(
            kept.0.len(),
            state.tasks.len(),
            "removed pieces are dropped"
        );
        state.tasks.clear();
        assert_eq!(write(&state, &names, &mut kept), encode(&state));
        assert!(kept.0.is_empty());
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

    /// A task without a piece cannot be spliced (it would silently be
    /// dropped from the document); pieces of other tasks are never listed.
    #[test]
    fn a_task_without_a_piece_is_not_spliced() {
        let mut state = State::new();
        state.tasks.insert("a".into(), record("a", false));
        assert_eq!(
            splice(&state, &Fragments::default(), &Fragments::default()),
            None
        );
        let mut other = state.tasks.clone();
        for gone in ["0", "b"] {
            other.insert(gone.into(), record(gone, false));
        }
        let bytes = splice(&state, &Fragments::default(), &Fragments::of(&other));
        assert_eq!(bytes, Some(encode(&state)));
    }
}
