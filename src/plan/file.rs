//! The saved plan file (`plan -out FILE`): everything `apply FILE` needs to
//! apply exactly what was reviewed, and to refuse when the world moved on.
//!
//! It records the state's lineage and serial and a digest of the configuration
//! at plan time; [`SavedPlan::check_fresh`] compares them with the present
//! (Terraform's "Saved plan is stale" rule).

use super::Plan;
use crate::check::GateReport;
use crate::model::TaskSpec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The newest saved-plan format this build reads and writes.
pub const PLAN_FORMAT_VERSION: u32 = 1;

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
    pub endpoint: String,
    pub project_id: String,
    /// Whether the prior state was refreshed from the cloud before diffing.
    pub refreshed: bool,
    pub plan: Plan,
    /// The table-config-check verdicts shown with the plan.
    pub gate: Option<GateReport>,
    /// The planned after-values, by task name.
    pub desired: BTreeMap<String, TaskSpec>,
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
}

impl SavedPlan {
    /// Writes the plan atomically with mode 0600 (it names instances and databases).
    pub fn write(&self, path: &Path) -> Result<(), PlanFileError> {
        // SavedPlan has only string map keys and plain data, so serialization cannot fail.
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
        serde_json::from_slice(bytes).map_err(parse_error)
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
            endpoint: "embedded".into(),
            project_id: "0f1e2d3c4b5a69788796a5b4c3d2e1f0".into(),
            refreshed: false,
            plan: Plan::default(),
            gate: Some(GateReport::default()),
            desired: BTreeMap::new(),
        }
    }

    #[test]
    fn writes_and_reads_back_privately() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.plan");
        saved().write(&path).unwrap();
        assert_eq!(SavedPlan::read(&path).unwrap(), saved());
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
    }
}
