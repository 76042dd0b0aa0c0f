//! What a planned change costs the replication it touches: the review-grade
//! reading of a plan. A delete, or a table leaving the replicated set, stops
//! replication; a replace re-syncs every table of the task from scratch; a
//! new table config on a table that stays replicated may rebuild that table;
//! anything else is applied in place.
//!
//! Which attributes force a replace comes from the field registry (through
//! [`FieldChange::forces_replacement`]); which tables a task replicates comes
//! from `repl_type`, `repl_scope` and `tables` as the API defines them
//! (include/exclude list, all/part scope). Pure and deterministic.

use super::fields::attribute_of;
use super::{Action, Change, Plan};
use crate::model::{Address, ReplScope, ReplType, TaskSpec};
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt;

/// The impact classes, least costly first (so the most severe is the maximum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImpactClass {
    /// Nothing already replicated is interrupted or copied again.
    InPlace,
    /// A table that stays replicated gets a new table config: the cloud may rebuild it.
    TableRebuild,
    /// The task is replaced: every table it replicates is copied again from scratch.
    FullResync,
    /// Some tables (or the whole task) stop being replicated.
    StopsReplication,
}

impl ImpactClass {
    /// Every class, least costly first.
    pub const ALL: [ImpactClass; 4] = [
        ImpactClass::InPlace,
        ImpactClass::TableRebuild,
        ImpactClass::FullResync,
        ImpactClass::StopsReplication,
    ];

    /// Whether `apply` needs an explicit yes for it (`--allow-destructive` or a typed `yes`).
    pub fn is_destructive(self) -> bool {
        matches!(
            self,
            ImpactClass::FullResync | ImpactClass::StopsReplication
        )
    }

    /// How the class reads in plans: `stops replication`, `full resync`, …
    pub fn as_str(self) -> &'static str {
        match self {
            ImpactClass::InPlace => "in place",
            ImpactClass::TableRebuild => "table rebuild",
            ImpactClass::FullResync => "full resync",
            ImpactClass::StopsReplication => "stops replication",
        }
    }
}

impl fmt::Display for ImpactClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of tables of one source database: named ones, or every table but
/// some (the size of which cannot be known offline: no API lists tables).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Tables {
    Listed {
        tables: BTreeSet<String>,
    },
    AllOfDatabase {
        database: String,
        except: BTreeSet<String>,
    },
}

impl Tables {
    /// The tables `spec` replicates (API `repl_type` × `repl_scope` × `tables`).
    pub fn replicated_by(spec: &TaskSpec) -> Tables {
        let listed: BTreeSet<String> = spec.tables.iter().cloned().collect();
        match (spec.repl_type, spec.repl_scope) {
            (ReplType::IncludeTables, ReplScope::Part) => Tables::Listed { tables: listed },
            (ReplType::IncludeTables, ReplScope::All) => Tables::all_of(spec, BTreeSet::new()),
            (ReplType::ExcludeTables, _) => Tables::all_of(spec, listed),
        }
    }

    fn all_of(spec: &TaskSpec, except: BTreeSet<String>) -> Tables {
        Tables::AllOfDatabase {
            database: spec.source_database_name.clone(),
            except,
        }
    }

    /// Whether `table` is in the set.
    pub fn contains(&self, table: &str) -> bool {
        match self {
            Tables::Listed { tables } => tables.contains(table),
            Tables::AllOfDatabase { except, .. } => !except.contains(table),
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Tables::Listed { tables } if tables.is_empty())
    }

    /// The tables of `self` that `other` lacks (both of the same database).
    fn minus(&self, other: &Tables) -> Tables {
        use Tables::{AllOfDatabase, Listed};
        match (self, other) {
            (Listed { tables: b }, Listed { tables: a }) => Listed {
                tables: b.difference(a).cloned().collect(),
            },
            (Listed { tables: b }, AllOfDatabase { except: x, .. }) => Listed {
                tables: b.intersection(x).cloned().collect(),
            },
            (
                AllOfDatabase {
                    database,
                    except: y,
                },
                Listed { tables: a },
            ) => AllOfDatabase {
                database: database.clone(),
                except: y.union(a).cloned().collect(),
            },
            (AllOfDatabase { except: y, .. }, AllOfDatabase { except: x, .. }) => Listed {
                tables: x.difference(y).cloned().collect(),
            },
        }
    }
}

impl fmt::Display for Tables {
    /// `2 tables (order_items, orders)`, `every table of shop`,
    /// `every table of shop except 2 (a, b)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tables::Listed { tables } => write!(f, "{}", listed(tables)),
            Tables::AllOfDatabase { database, except } if except.is_empty() => {
                write!(f, "every table of {database}")
            }
            Tables::AllOfDatabase { database, except } => {
                write!(f, "every table of {database} except {}", names(except))
            }
        }
    }
}

/// `1 table (orders)`, `3 tables (a, b, c)`.
fn listed(tables: &BTreeSet<String>) -> String {
    format!("{} ({})", count(tables.len(), "table"), names(tables))
}

fn names(tables: &BTreeSet<String>) -> String {
    tables.iter().cloned().collect::<Vec<_>>().join(", ")
}

/// `1 table`, `2 tables`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A replace: the attributes that force a new task, and what it copies again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resync {
    /// Top-level attributes whose change the cloud cannot make in place.
    pub attributes: Vec<String>,
    /// Every table the new task replicates (copied from scratch).
    pub tables: Tables,
}

/// Why a table config change only *may* rebuild the table: the API is silent.
pub const MAY_REBUILD_WHY: &str = "the API does not say whether ModifyDataSync (E8) alters a replicated \
table's sort and key columns in place or drops, recreates and re-syncs the table; StarRocks cannot change \
the key columns of an existing table";

/// The impact of one change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Impact {
    /// The most severe of what follows.
    pub class: ImpactClass,
    /// Tables that stop replicating: every table of a deleted task; those a
    /// change of `tables`, `repl_type`, `repl_scope` or the source database
    /// leaves out.
    pub stops_replication: Option<Tables>,
    /// Set for a replace.
    pub full_resync: Option<Resync>,
    /// Tables replicated before and after whose table config changes.
    pub table_rebuild: BTreeSet<String>,
}

impl Impact {
    /// The impact of `change`.
    pub fn of(change: &Change) -> Impact {
        let (before, after) = (change.before.as_ref(), change.after.as_ref());
        let old = before.map(Tables::replicated_by);
        let new = after.map(Tables::replicated_by);
        // Table names compare only within one source database.
        let same_database = matches!((before, after),
            (Some(b), Some(a)) if b.source_database_name == a.source_database_name);
        let stops_replication = match (&old, &new) {
            (Some(old), Some(new)) if same_database => Some(old.minus(new)),
            // Deleted, or replicating another database now.
            (Some(old), _) => Some(old.clone()),
            (None, _) => None,
        }
        .filter(|stopped| !stopped.is_empty());
        let full_resync = (change.action == Action::Replace).then(|| Resync {
            attributes: replacing_attributes(change),
            tables: new.clone().unwrap_or(Tables::Listed {
                tables: BTreeSet::new(),
            }),
        });
        let table_rebuild = match (before, after, &old, &new) {
            (Some(b), Some(a), Some(old), Some(new))
                if change.action == Action::Update && same_database =>
            {
                rebuilt_tables(b, a)
                    .filter(|t| old.contains(t) && new.contains(t))
                    .collect()
            }
            _ => BTreeSet::new(),
        };
        let class = if stops_replication.is_some() {
            ImpactClass::StopsReplication
        } else if full_resync.is_some() {
            ImpactClass::FullResync
        } else if !table_rebuild.is_empty() {
            ImpactClass::TableRebuild
        } else {
            ImpactClass::InPlace
        };
        Impact {
            class,
            stops_replication,
            full_resync,
            table_rebuild,
        }
    }

    /// One line saying everything the impact holds, most severe first:
    /// `stops replication of 1 table (orders); …`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(stopped) = &self.stops_replication {
            parts.push(format!("stops replication of {stopped}"));
        }
        if let Some(resync) = &self.full_resync {
            let verb = if resync.attributes.len() == 1 {
                "forces"
            } else {
                "force"
            };
            parts.push(format!(
                "full resync of {} ({} {verb} a new task)",
                resync.tables,
                resync.attributes.join(", ")
            ));
        }
        if !self.table_rebuild.is_empty() {
            parts.push(format!(
                "may rebuild {} (table config changed; {MAY_REBUILD_WHY})",
                listed(&self.table_rebuild)
            ));
        }
        if parts.is_empty() {
            return ImpactClass::InPlace.to_string();
        }
        parts.join("; ")
    }
}

/// What forces the replacement: `-replace` when it was asked for, then the
/// top-level attributes of the change that force one, in display order.
fn replacing_attributes(change: &Change) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if change.replace_requested {
        out.push("-replace".to_string());
    }
    for field in change.fields.iter().filter(|f| f.forces_replacement) {
        let attribute = attribute_of(&field.path).to_string();
        if !out.contains(&attribute) {
            out.push(attribute);
        }
    }
    out
}

/// Tables whose table config differs between the two specs (added, changed or removed).
fn rebuilt_tables<'a>(
    before: &'a TaskSpec,
    after: &'a TaskSpec,
) -> impl Iterator<Item = String> + 'a {
    let names: BTreeSet<&String> = before
        .table_configs
        .keys()
        .chain(after.table_configs.keys())
        .collect();
    names
        .into_iter()
        .filter(|t| before.table_configs.get(*t) != after.table_configs.get(*t))
        .cloned()
}

/// A change whose impact needs an explicit yes before apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destructive {
    pub address: Address,
    pub impact: Impact,
}

impl fmt::Display for Destructive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.address, self.impact.describe())
    }
}

/// How many tables a set of [`Tables`] adds up to, as far as it is known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Tally {
    listed: usize,
    /// Sets of unknown size, as they read (`every table of shop`).
    open: Vec<String>,
}

impl Tally {
    fn add(&mut self, tables: &Tables) {
        match tables {
            Tables::Listed { tables } => self.listed += tables.len(),
            open => self.open.push(open.to_string()),
        }
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if self.listed > 0 || self.open.is_empty() {
            parts.push(count(self.listed, "table"));
        }
        parts.extend(self.open.iter().cloned());
        f.write_str(&parts.join(" and "))
    }
}

/// The impact of a whole plan: what its banner says and `--json` sums up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanImpact {
    /// The most severe class of any change; `None` when nothing changes.
    pub class: Option<ImpactClass>,
    /// How many changes have each class (their most severe impact).
    pub by_class: std::collections::BTreeMap<ImpactClass, usize>,
    stopped: Option<Tally>,
    /// Replaced tasks (also those whose class is `stops replication`).
    resynced_tasks: usize,
    resynced: Tally,
    rebuilt: usize,
}

impl PlanImpact {
    /// The banner over the summary when a change is not in place: `This plan
    /// stops replication of 3 tables and fully re-syncs 1 task (12 tables).`
    pub fn banner(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(stopped) = &self.stopped {
            parts.push(format!("stops replication of {stopped}"));
        }
        if self.resynced_tasks > 0 {
            parts.push(format!(
                "fully re-syncs {} ({})",
                count(self.resynced_tasks, "task"),
                self.resynced
            ));
        }
        if self.rebuilt > 0 {
            parts.push(format!("may rebuild {}", count(self.rebuilt, "table")));
        }
        let last = parts.pop()?;
        let text = if parts.is_empty() {
            last
        } else {
            format!("{} and {last}", parts.join(", "))
        };
        Some(format!("This plan {text}."))
    }
}

impl Plan {
    /// Every actionable change with its impact, in plan order.
    pub fn impacts(&self) -> impl Iterator<Item = (&Change, Impact)> {
        self.actionable().map(|c| (c, Impact::of(c)))
    }

    /// The impact of the whole plan.
    pub fn impact(&self) -> PlanImpact {
        let mut out = PlanImpact::default();
        for (_, impact) in self.impacts() {
            out.class = out.class.max(Some(impact.class));
            *out.by_class.entry(impact.class).or_default() += 1;
            if let Some(stopped) = &impact.stops_replication {
                out.stopped.get_or_insert_with(Tally::default).add(stopped);
            }
            if let Some(resync) = &impact.full_resync {
                out.resynced_tasks += 1;
                out.resynced.add(&resync.tables);
            }
            out.rebuilt += impact.table_rebuild.len();
        }
        out
    }

    /// The changes that need an explicit yes before apply.
    pub fn destructive(&self) -> Vec<Destructive> {
        self.impacts()
            .filter(|(_, impact)| impact.class.is_destructive())
            .map(|(change, impact)| Destructive {
                address: change.address.clone(),
                impact,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
