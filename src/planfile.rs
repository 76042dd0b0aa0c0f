//! The saved plan file (`plan -out FILE`): everything `apply FILE` needs to
//! apply exactly what was reviewed, and to refuse when the world moved on.
//!
//! It records the state's lineage and serial and a digest of the configuration
//! at plan time; [`SavedPlan::check_fresh`] compares them with the present
//! (Terraform's "Saved plan is stale" rule). A digest over everything else in
//! the file ([`SavedPlan::seal`]) refuses a file edited after it was written,
//! and [`SavedPlan::check_matches`] refuses one whose changes are not what the
//! configuration and state give, however consistently it was edited.
//!
//! It lives outside [`crate::plan`] because it needs the gate report and the
//! state's identity, and reads and writes a file: `plan` stays a pure diff.

use crate::check::GateReport;
use crate::model::{Address, TaskSpec};
use crate::plan::{Change, Plan};
use crate::state::TaskRecord;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The newest saved-plan format this build reads and writes. Format 2 added
/// the integrity digest, the targets and the destroy flag; older files are refused.
/// Format 4 added the `-exclude` addresses; format 5 the endpoint and project
/// of every provider.
pub const PLAN_FORMAT_VERSION: u32 = 5;

/// A plan as written by `plan -out`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format_version: u32,
    pub htapsync_version: String,
    /// RFC 3339.
    pub created_at: String,
    /// Digest of the loaded configuration; a different one means the config changed since.
    pub config_digest: String,
    /// Lineage of the state planned against; `None` when no state existed yet.
    pub state_lineage: Option<String>,
    pub state_serial: u64,
    /// The workspace planned in; the plan is refused in any other.
    pub workspace: String,
    /// Where each provider's calls went: apply refuses the plan when any differs.
    pub providers: Vec<PlannedProvider>,
    /// Whether the prior state was refreshed from the cloud before diffing.
    pub refreshed: bool,
    /// `-target` addresses the plan was limited to (empty: every task).
    pub targets: Vec<Address>,
    /// `-exclude` addresses the plan left out: apply derives the plan again without them.
    pub excludes: Vec<Address>,
    /// `-replace` addresses: replaced although no field forces it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replace: Vec<Address>,
    /// Whether this is a `plan -destroy`: every task in state is deleted.
    pub destroy: bool,
    pub plan: Plan,
    /// The table-config-check verdicts shown with the plan.
    pub gate: GateReport,
    /// The planned after-values, by task name.
    pub desired: BTreeMap<String, TaskSpec>,
    /// The task records the plan was diffed against (intents resolved and,
    /// with refresh, live attributes read): apply diffs against them again,
    /// as Terraform's plan file carries its prior state.
    pub prior: BTreeMap<String, TaskRecord>,
    /// `sha256:HEX` over every other field (see [`SavedPlan::seal`]).
    pub digest: String,
}

/// One provider of a saved plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedProvider {
    /// `None`: the unnamed `[provider]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub endpoint: String,
    pub project_id: String,
}

impl PlannedProvider {
    /// Every provider of a configuration, the unnamed one first.
    pub fn of(providers: &crate::model::Providers) -> Vec<PlannedProvider> {
        providers
            .iter()
            .map(|(name, p)| PlannedProvider {
                name: name.map(str::to_string),
                endpoint: p.endpoint.clone(),
                project_id: p.project_id.clone(),
            })
            .collect()
    }
}

/// Why a saved plan cannot be written, read or applied.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("saved plan {path}: {cause}")]
    Io {
        path: PathBuf,
        /// Part of the message, so not also exposed as `source()`.
        cause: std::io::Error,
    },
    #[error("{path}:{line}:{column}: not a valid saved plan: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{path}: the saved plan was written by a newer htapsync (format {found}, this build reads up to {supported})"
    )]
    NewerFormat {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error(
        "Saved plan does not match the given state: the plan was created for state lineage {planned}, \
         but the current state {current}. Run `htapsync plan` again against this state."
    )]
    LineageMismatch { planned: String, current: String },
    #[error(
        "Saved plan is stale: the state was changed by another operation after the plan was created \
         (serial {planned} when planned, {current} now). Run `htapsync plan` again."
    )]
    StaleSerial { planned: u64, current: u64 },
    #[error(
        "Saved plan is stale: the configuration changed since the plan was made. Run `htapsync plan` again."
    )]
    ConfigChanged,
    #[error(
        "{path}: the saved plan was written by an older htapsync (format {found}, without an \
         integrity digest); run `htapsync plan -out` again"
    )]
    OlderFormat { path: PathBuf, found: u32 },
    #[error(
        "{path}: the saved plan was modified after it was written (its integrity digest does not \
         match its content); refusing to use it. Run `htapsync plan -out` again."
    )]
    Tampered { path: PathBuf },
    #[error(
        "The saved plan does not match what the configuration and the state give now; refusing to \
         apply it:\n{}\nRun `htapsync plan -out` again and review the new plan.",
        .0.iter().map(|d| format!("  {d}")).collect::<Vec<_>>().join("\n")
    )]
    Differs(Vec<String>),
}

impl SavedPlan {
    /// The digest of every field but `digest` itself, as `sha256:HEX`.
    fn content_digest(&self) -> String {
        let unsealed = SavedPlan {
            digest: String::new(),
            ..self.clone()
        };
        // SavedPlan has only string map keys and plain data, so serialization cannot fail.
        let bytes = serde_json::to_vec(&unsealed).expect("SavedPlan always serializes to JSON");
        format!("sha256:{}", hex::encode(Sha256::digest(&bytes)))
    }

    /// Records the digest of the plan's content; [`SavedPlan::write`] seals
    /// before writing, and reading refuses a file whose digest does not match.
    pub fn seal(&mut self) {
        self.digest = self.content_digest();
    }

    /// Seals the plan and writes it atomically with mode 0600 (it names
    /// instances and databases).
    pub fn write(&mut self, path: &Path) -> Result<(), PlanFileError> {
        self.seal();
        let mut bytes =
            serde_json::to_vec_pretty(self).expect("SavedPlan always serializes to JSON");
        bytes.push(b'\n');
        crate::state::write_atomic(path, &bytes).map_err(|source| PlanFileError::Io {
            path: path.to_path_buf(),
            cause: source,
        })
    }

    pub fn read(path: &Path) -> Result<SavedPlan, PlanFileError> {
        let bytes = std::fs::read(path).map_err(|source| PlanFileError::Io {
            path: path.to_path_buf(),
            cause: source,
        })?;
        Self::decode(&bytes, path)
    }

    /// Parses a saved plan; `path` is only used in messages. Never panics.
    pub fn decode(bytes: &[u8], path: &Path) -> Result<SavedPlan, PlanFileError> {
        #[derive(Deserialize)]
        struct Header {
            format_version: u32,
        }
        let parse_error = |e: serde_json::Error| PlanFileError::Parse {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        };
        let header: Header = serde_json::from_slice(bytes).map_err(parse_error)?;
        if header.format_version > PLAN_FORMAT_VERSION {
            return Err(PlanFileError::NewerFormat {
                path: path.to_path_buf(),
                found: header.format_version,
                supported: PLAN_FORMAT_VERSION,
            });
        }
        if header.format_version < PLAN_FORMAT_VERSION {
            return Err(PlanFileError::OlderFormat {
                path: path.to_path_buf(),
                found: header.format_version,
            });
        }
        let saved: SavedPlan = serde_json::from_slice(bytes).map_err(parse_error)?;
        if saved.digest != saved.content_digest() {
            return Err(PlanFileError::Tampered {
                path: path.to_path_buf(),
            });
        }
        Ok(saved)
    }

    /// Refuses the plan unless `derived` (the plan the configuration and the
    /// state give now, made the way this one was) has exactly its changes. A
    /// file edited with its digest recomputed still fails here.
    pub fn check_matches(&self, derived: &Plan) -> Result<(), PlanFileError> {
        let differences = differences(&self.plan, derived);
        if !differences.is_empty() {
            return Err(PlanFileError::Differs(differences));
        }
        Ok(())
    }

    /// Refuses the plan unless its prior records are the tasks of `current`
    /// (the state now, intents resolved): the same names on the same
    /// instances and, when the plan did not refresh, the same attributes. A
    /// refreshed plan keeps the live attributes it read, which is what was shown.
    pub fn check_prior(&self, current: &BTreeMap<String, TaskRecord>) -> Result<(), PlanFileError> {
        let names: BTreeSet<&String> = self.prior.keys().chain(current.keys()).collect();
        let differences: Vec<String> = names
            .into_iter()
            .filter_map(|name| match (self.prior.get(name), current.get(name)) {
                (Some(p), Some(c)) if p.spec.instance_id != c.spec.instance_id => Some(format!(
                    "task.{name}: planned on instance {}, recorded on {}",
                    p.spec.instance_id, c.spec.instance_id
                )),
                (Some(p), Some(c)) if !self.refreshed && p.spec != c.spec => Some(format!(
                    "task.{name}: the recorded attributes are not the ones the plan was made against"
                )),
                (Some(_), Some(_)) => None,
                (Some(_), None) => Some(format!(
                    "task.{name}: planned against a recorded task that the state does not hold"
                )),
                (None, Some(_)) => Some(format!(
                    "task.{name}: recorded in state but missing from the plan's prior state"
                )),
                (None, None) => None,
            })
            .collect();
        if differences.is_empty() {
            Ok(())
        } else {
            Err(PlanFileError::Differs(differences))
        }
    }

    /// Refuses the plan if the state or the configuration changed since it was made.
    /// A plan made before any state existed checks only the serial (as Terraform does).
    pub fn check_fresh(
        &self,
        current_lineage: Option<&str>,
        current_serial: u64,
        config_digest: &str,
    ) -> Result<(), PlanFileError> {
        if let Some(planned) = &self.state_lineage {
            match current_lineage {
                Some(current) if current == planned => {}
                Some(current) => {
                    return Err(PlanFileError::LineageMismatch {
                        planned: planned.clone(),
                        current: format!("has lineage {current}"),
                    });
                }
                None => {
                    return Err(PlanFileError::LineageMismatch {
                        planned: planned.clone(),
                        current: "does not exist".to_string(),
                    });
                }
            }
        }
        if self.state_serial != current_serial {
            return Err(PlanFileError::StaleSerial {
                planned: self.state_serial,
                current: current_serial,
            });
        }
        if self.config_digest != config_digest {
            return Err(PlanFileError::ConfigChanged);
        }
        Ok(())
    }
}

/// What differs between the saved changes and the derived ones, one line per task.
fn differences(saved: &Plan, derived: &Plan) -> Vec<String> {
    let by_address = |plan: &Plan| -> BTreeMap<Address, Change> {
        plan.changes
            .iter()
            .map(|c| (c.address.clone(), c.clone()))
            .collect()
    };
    let (saved, derived) = (by_address(saved), by_address(derived));
    let addresses: BTreeSet<&Address> = saved.keys().chain(derived.keys()).collect();
    addresses
        .into_iter()
        .filter_map(|address| match (saved.get(address), derived.get(address)) {
            (Some(s), Some(d)) if s == d => None,
            (Some(s), Some(d)) if s.action != d.action => Some(format!(
                "{address}: the saved plan says {}, the configuration and state now say {}",
                s.action, d.action
            )),
            (Some(s), Some(d)) => Some(format!(
                "{address}: the saved plan differs from the configuration and state in {}",
                changed_paths(s, d).join(", ")
            )),
            (Some(s), None) => Some(format!(
                "{address}: the saved plan says {}, but the configuration and state have no such task",
                s.action
            )),
            (None, Some(d)) => Some(format!(
                "{address}: missing from the saved plan; the configuration and state now say {}",
                d.action
            )),
            (None, None) => None,
        })
        .collect()
}

/// Where two planned changes of one task differ: the field paths whose
/// before or after values differ, else the list of changed fields itself.
fn changed_paths(saved: &Change, derived: &Change) -> Vec<String> {
    let mut paths = BTreeSet::new();
    for (s, d) in [
        (&saved.before, &derived.before),
        (&saved.after, &derived.after),
    ] {
        match (s, d) {
            (Some(s), Some(d)) => paths.extend(
                crate::plan::fields::diff_fields(s, d)
                    .into_iter()
                    .map(|f| f.path),
            ),
            (s, d) if s != d => {
                paths.insert("the whole task".to_string());
            }
            _ => {}
        }
    }
    if paths.is_empty() {
        paths.insert("list of changed fields".to_string());
    }
    paths.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved() -> SavedPlan {
        SavedPlan {
            format_version: PLAN_FORMAT_VERSION,
            htapsync_version: "0.1.0".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            config_digest: "sha256:abc".into(),
            state_lineage: Some("lin-1".into()),
            state_serial: 4,
            workspace: "default".into(),
            providers: vec![PlannedProvider {
                name: None,
                endpoint: "embedded".into(),
                project_id: "0f1e2d3c4b5a69788796a5b4c3d2e1f0".into(),
            }],
            refreshed: false,
            targets: Vec::new(),
            excludes: Vec::new(),
            replace: Vec::new(),
            destroy: false,
            plan: Plan::default(),
            gate: GateReport::default(),
            desired: BTreeMap::new(),
            prior: BTreeMap::new(),
            digest: String::new(),
        }
    }

    #[test]
    fn writes_and_reads_back_privately() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.plan");
        let mut written = saved();
        written.write(&path).unwrap();
        assert!(written.digest.starts_with("sha256:"), "{}", written.digest);
        assert_eq!(SavedPlan::read(&path).unwrap(), written);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    #[test]
    fn fresh_plan_passes_and_each_kind_of_staleness_is_named() {
        let plan = saved();
        assert!(plan.check_fresh(Some("lin-1"), 4, "sha256:abc").is_ok());
        let lineage = plan
            .check_fresh(Some("lin-2"), 4, "sha256:abc")
            .unwrap_err()
            .to_string();
        assert!(
            lineage.starts_with("Saved plan does not match the given state"),
            "{lineage}"
        );
        let gone = plan.check_fresh(None, 0, "sha256:abc").unwrap_err();
        assert!(matches!(gone, PlanFileError::LineageMismatch { .. }));
        let serial = plan
            .check_fresh(Some("lin-1"), 5, "sha256:abc")
            .unwrap_err()
            .to_string();
        assert!(
            serial.starts_with("Saved plan is stale: the state was changed by another operation"),
            "{serial}"
        );
        let config = plan
            .check_fresh(Some("lin-1"), 4, "sha256:def")
            .unwrap_err()
            .to_string();
        assert!(
            config.starts_with(
                "Saved plan is stale: the configuration changed since the plan was made"
            )
        );
    }

    #[test]
    fn plan_made_without_state_checks_only_the_serial() {
        let plan = SavedPlan {
            state_lineage: None,
            state_serial: 0,
            ..saved()
        };
        assert!(
            plan.check_fresh(Some("new-lineage"), 0, "sha256:abc")
                .is_ok()
        );
        assert!(matches!(
            plan.check_fresh(Some("new-lineage"), 1, "sha256:abc"),
            Err(PlanFileError::StaleSerial {
                planned: 0,
                current: 1
            })
        ));
    }

    #[test]
    fn bad_and_newer_files_are_refused() {
        let path = Path::new("p.plan");
        assert!(matches!(
            SavedPlan::decode(b"{\n oops", path),
            Err(PlanFileError::Parse { line: 2, .. })
        ));
        let newer = SavedPlan::decode(br#"{"format_version": 9}"#, path)
            .unwrap_err()
            .to_string();
        assert!(newer.contains("newer htapsync (format 9"), "{newer}");
        let older = SavedPlan::decode(br#"{"format_version": 1}"#, path).unwrap_err();
        assert!(matches!(older, PlanFileError::OlderFormat { found: 1, .. }));
    }

    #[test]
    fn any_edit_of_the_content_breaks_the_digest() {
        let mut plan = saved();
        plan.seal();
        let sealed = serde_json::to_string(&plan).unwrap();
        let path = Path::new("p.plan");
        assert_eq!(SavedPlan::decode(sealed.as_bytes(), path).unwrap(), plan);
        for (from, to) in [
            ("\"state_serial\":4", "\"state_serial\":5"),
            ("\"refreshed\":false", "\"refreshed\":true"),
            ("\"required\":[]", "\"required\":[\"task.x\"]"),
        ] {
            assert!(sealed.contains(from), "{from} in {sealed}");
            let edited = sealed.replacen(from, to, 1);
            assert!(
                matches!(
                    SavedPlan::decode(edited.as_bytes(), path),
                    Err(PlanFileError::Tampered { .. })
                ),
                "{to} accepted"
            );
        }
    }

    fn planned(name: &str, after: TaskSpec) -> Plan {
        let desired = [(
            name.to_string(),
            crate::model::DesiredTask {
                spec: after,
                lifecycle: Default::default(),
            },
        )]
        .into();
        crate::plan::diff(&desired, &BTreeMap::new(), &[]).unwrap()
    }

    #[test]
    fn changes_other_than_the_derived_ones_are_named_and_refused() {
        let spec = TaskSpec::sample("a");
        let derived = planned("a", spec.clone());
        let mut plan = SavedPlan {
            plan: derived.clone(),
            ..saved()
        };
        assert!(plan.check_matches(&derived).is_ok());

        let mut edited = spec.clone();
        edited
            .table_configs
            .insert("orders".into(), "order by x".into());
        plan.plan = planned("a", edited);
        let err = plan.check_matches(&derived).unwrap_err().to_string();
        assert!(
            err.contains("task.a: the saved plan differs") && err.contains("table_configs.orders"),
            "{err}"
        );

        plan.plan = planned("b", spec);
        let err = plan.check_matches(&derived).unwrap_err().to_string();
        assert!(err.contains("task.a: missing from the saved plan"), "{err}");
        assert!(err.contains("task.b: the saved plan says create"), "{err}");
    }
}
