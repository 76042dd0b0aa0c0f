//! The second pass: merging what every file contributed into one
//! [`Desired`], applying `[defaults]`, and the checks that span several keys,
//! tasks or files (required keys, duplicates, `repl_scope` against `tables`,
//! `table_configs` against what is replicated, the embedded emulator's files).

use super::Location;
use super::diagnostic::Diagnostic;
use super::named_files;
use super::raw::{RawFile, RawImport, RawMoved, RawProvider, RawState, RawTask, TaskFields};
use super::rules::{self, EMBEDDED};
use super::source::SourceFile;
use super::walk::{Origin, Spanned};
use crate::model::fields::TASK_FIELDS;
use crate::model::pattern;
use crate::model::regions::{known_regions, regional_endpoint};
use crate::model::{
    ALL_DATABASES, Address, Desired, DesiredTask, ImportBlock, Lifecycle, Moved, Policy, Provider,
    Providers, ReplScope, ReplType, StateSettings, SyncLevel, TaskDefaults, TaskSpec,
    provider_label,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Default `[state] path`.
pub const DEFAULT_STATE_PATH: &str = "htapsync.state.json";
/// Default `[state] schema` (PostgreSQL).
pub const DEFAULT_STATE_SCHEMA: &str = "htapsync";
/// Default `[state] history`: earlier versions PostgreSQL keeps per workspace.
pub const DEFAULT_STATE_HISTORY: u32 = 20;
/// Default `[provider] emulator_data` with `endpoint = "embedded"`.
pub const DEFAULT_EMULATOR_DATA: &str = ".htapsync/cloud.json";

/// The environment variable that gives a provider's `project_id` when the
/// configuration does not: `HTAPSYNC_PROJECT_ID`, or
/// `HTAPSYNC_PROJECT_ID_<NAME>` for `[provider.NAME]` (upper case, `-` as
/// `_`). The names are fixed: a configuration cannot make htapsync read, and
/// so show, any other variable.
pub fn project_id_variable(provider: Option<&str>) -> String {
    match provider {
        None => "HTAPSYNC_PROJECT_ID".to_string(),
        Some(name) => format!(
            "HTAPSYNC_PROJECT_ID_{}",
            name.to_ascii_uppercase().replace('-', "_")
        ),
    }
}

/// What a configuration resolves to.
pub(crate) struct Resolved {
    pub desired: Desired,
    /// Where each `[task.NAME]` is defined.
    pub locations: BTreeMap<String, Location>,
    pub defaults: TaskDefaults,
}

/// The values `[defaults]` hands down, without their positions.
fn task_defaults(fields: &TaskFields) -> TaskDefaults {
    let text = |v: &Option<Spanned<String>>| v.as_ref().map(|v| v.value.clone());
    TaskDefaults {
        provider: text(&fields.provider),
        instance_id: text(&fields.instance_id),
        source_instance_id: text(&fields.source_instance_id),
        source_node_id: text(&fields.source_node_id),
        source_database_name: text(&fields.source_database_name),
        target_database_name: text(&fields.target_database_name),
        repl_type: fields.repl_type.as_ref().map(|v| v.value),
        repl_scope: fields.repl_scope.as_ref().map(|v| v.value),
        db_configs: fields
            .db_configs
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect(),
        paused: fields.paused.as_ref().map(|v| v.value),
    }
}

/// Turns origins into diagnostics and `file:line:column` texts.
pub(crate) struct Resolver<'a> {
    pub dir: &'a Path,
    pub sources: &'a [SourceFile],
    pub diagnostics: Vec<Diagnostic>,
    /// Whether every configuration file could be read and parsed: only then
    /// does finding no task mean that none is defined.
    pub complete: bool,
    /// Where each provider's `endpoint` (or, when it is derived, `region`)
    /// is written, for messages about where credentials go.
    pub endpoint_locations: BTreeMap<Option<String>, Location>,
}

impl Resolver<'_> {
    fn error(&mut self, at: &Origin, summary: String, detail: String) {
        let diagnostic = match self.sources.get(at.file) {
            Some(source) => Diagnostic::error(summary, detail).at_span(source, at.span.clone()),
            None => Diagnostic::error(summary, detail),
        };
        self.diagnostics.push(diagnostic);
    }

    pub fn location(&self, at: &Origin) -> Option<Location> {
        let source = self.sources.get(at.file)?;
        let position = source.position(at.span.start);
        Some(Location {
            file: source.path.clone(),
            line: position.line,
            column: position.column,
        })
    }

    fn place(&self, at: &Origin) -> String {
        self.location(at)
            .map(|l| format!("{}:{}:{}", l.file.display(), l.line, l.column))
            .unwrap_or_default()
    }

    /// Keeps the first of several tables that may appear only once, reporting the others.
    fn single<'t, T>(
        &mut self,
        found: Vec<&'t Spanned<T>>,
        header: &str,
    ) -> Option<&'t Spanned<T>> {
        let first = *found.first()?;
        for again in &found[1..] {
            let detail = format!(
                "{header} is already defined at {}; only one {header} table is allowed across all files",
                self.place(&first.at)
            );
            self.error(&again.at, format!("duplicate {header} table"), detail);
        }
        Some(first)
    }

    /// Merges all files. `None` when something needed to build [`Desired`] is
    /// missing or invalid (the reasons are in `diagnostics`).
    pub fn resolve(&mut self, files: &[RawFile]) -> Option<Resolved> {
        let providers = self.providers(files);
        let states = files.iter().filter_map(|f| f.state.as_ref()).collect();
        let state = self.single(states, "[state]").map(|s| &s.value);
        let state = self.state(state);
        let policies = files.iter().filter_map(|f| f.policy.as_ref()).collect();
        let policy = Policy {
            destructive: self
                .single(policies, "[policy]")
                .and_then(|p| p.value.destructive.as_ref())
                .map(|d| d.value)
                .unwrap_or_default(),
        };
        let defaults = files.iter().filter_map(|f| f.defaults.as_ref()).collect();
        let defaults = self.single(defaults, "[defaults]").map(|d| &d.value);

        let mut by_name: BTreeMap<&str, Vec<&RawTask>> = BTreeMap::new();
        for task in files.iter().flat_map(|f| &f.tasks) {
            by_name.entry(&task.name).or_default().push(task);
        }
        let mut tasks = BTreeMap::new();
        let mut locations = BTreeMap::new();
        for (name, definitions) in by_name {
            let Some((first, others)) = definitions.split_first() else {
                continue;
            };
            for again in others {
                let summary = format!(
                    "task `{name}` is defined twice: at {} and at {}",
                    self.place(&first.at),
                    self.place(&again.at)
                );
                let detail = "define each task in exactly one place; move or rename one of them";
                self.error(&again.at, summary, detail.to_string());
            }
            if let Some(location) = self.location(&first.at) {
                locations.insert(name.to_string(), location);
            }
            if let Some(task) = self.task(first, defaults) {
                self.check_provider_known(first, defaults, &task, providers.as_ref());
                self.check_cloud_name_unique(&tasks, first, &task);
                tasks.insert(name.to_string(), task);
            }
        }
        if self.complete && files.iter().all(|f| f.tasks.is_empty()) && providers.is_some() {
            self.diagnostics.push(Diagnostic::warning(
                "no tasks are defined",
                "applying this configuration would delete every task recorded in the state file",
            ));
        }
        let moved = self.moved(files.iter().flat_map(|f| &f.moved), &tasks);
        let imports = self.imports(files.iter().flat_map(|f| &f.imports), &tasks);
        let desired = Desired {
            providers: providers?,
            state,
            policy,
            tasks,
            moved,
            imports,
        };
        Some(Resolved {
            desired,
            locations,
            defaults: defaults.map(task_defaults).unwrap_or_default(),
        })
    }

    /// Two tasks may not be the same cloud task (`name` on one instance).
    fn check_cloud_name_unique(
        &mut self,
        tasks: &BTreeMap<String, DesiredTask>,
        raw: &RawTask,
        task: &DesiredTask,
    ) {
        let spec = &task.spec;
        let same = |other: &&DesiredTask| {
            other.spec.task_name() == spec.task_name() && other.spec.instance_id == spec.instance_id
        };
        if let Some(other) = tasks.values().find(same) {
            let summary = format!(
                "[task.{}] and [task.{}] are the same cloud task {:?}",
                raw.name,
                other.spec.name,
                spec.task_name()
            );
            let detail = "each task needs its own cloud task name on an instance: change `name` (or the table key) of one of them".to_string();
            let at = raw.fields.name.as_ref().map_or(&raw.at, |n| &n.at);
            self.error(at, summary, detail);
        }
    }

    /// `[[moved]]` blocks with both ends; a source still configured is an
    /// error (its block would be created anew while its record moves away).
    fn moved<'f>(
        &mut self,
        blocks: impl Iterator<Item = &'f RawMoved>,
        tasks: &BTreeMap<String, DesiredTask>,
    ) -> Vec<Moved> {
        let mut out = Vec::new();
        for block in blocks {
            let (Some(from), Some(to)) = (&block.from, &block.to) else {
                for (key, value) in [("from", &block.from), ("to", &block.to)] {
                    if value.is_none() {
                        let summary = format!("missing required key `{key}` in [[moved]]");
                        let detail = "a moved block names the old address in `from` and the new one in `to`, e.g. from = \"task.orders\", to = \"task.orders_eu\"".to_string();
                        self.error(&block.at, summary, detail);
                    }
                }
                continue;
            };
            let (Some(from_address), Some(to_address)) =
                (Address::parse(&from.value), Address::parse(&to.value))
            else {
                continue;
            };
            if tasks.contains_key(from_address.name()) {
                let summary = format!(
                    "moved block from {from_address}: [task.{}] is still in the configuration",
                    from_address.name()
                );
                let detail = format!(
                    "rename the block to [task.{}] (with name = \"{}\" to keep the cloud task), or remove this moved block",
                    to_address.name(),
                    from_address.name()
                );
                self.error(&from.at, summary, detail);
                continue;
            }
            out.push(Moved {
                from: from_address,
                to: to_address,
            });
        }
        out
    }

    /// `[[import]]` blocks, each naming a configured task once.
    fn imports<'f>(
        &mut self,
        blocks: impl Iterator<Item = &'f RawImport>,
        tasks: &BTreeMap<String, DesiredTask>,
    ) -> Vec<ImportBlock> {
        let mut out: Vec<ImportBlock> = Vec::new();
        for block in blocks {
            for (key, value) in [("to", &block.to), ("id", &block.id)] {
                if value.is_none() {
                    let summary = format!("missing required key `{key}` in [[import]]");
                    let detail = "an import block names the configured task in `to` and the cloud's task name in `id`, e.g. to = \"task.orders\", id = \"orders\"".to_string();
                    self.error(&block.at, summary, detail);
                }
            }
            let (Some(to), Some(id)) = (&block.to, &block.id) else {
                continue;
            };
            let Some(address) = Address::parse(&to.value) else {
                continue;
            };
            let Some(task) = tasks.get(address.name()) else {
                let summary = format!(
                    "import block to {address}: no [task.{}] in the configuration",
                    address.name()
                );
                let detail = "add the task's block: the import adopts the cloud task as that block, and a task without one would be deleted by the next plan".to_string();
                self.error(&to.at, summary, detail);
                continue;
            };
            if out.iter().any(|i| i.to == address) {
                let summary = format!("{address} is the target of more than one [[import]] block");
                self.error(&to.at, summary, "keep one of them".to_string());
                continue;
            }
            out.push(ImportBlock {
                to: address,
                id: id.value.clone(),
                instance_id: block
                    .instance_id
                    .as_ref()
                    .map_or_else(|| task.spec.instance_id.clone(), |i| i.value.clone()),
            });
        }
        out
    }

    /// `[defaults]` without what the task's `unset` drops; every entry must
    /// drop something the task inherits and does not set itself.
    fn inherited(&mut self, raw: &RawTask, defaults: Option<&TaskFields>) -> Option<TaskFields> {
        let mut kept = defaults.cloned();
        let context = format!("[task.{}]", raw.name);
        for entry in &raw.fields.unset {
            let (key, param) = match entry.value.split_once('.') {
                Some((key, param)) => (key, Some(param)),
                None => (entry.value.as_str(), None),
            };
            let set_here = match param {
                Some(param) => raw.fields.db_configs.contains_key(param),
                None => raw.fields.written.contains(key),
            };
            if set_here {
                let summary = format!("{context} both sets and unsets {:?}", entry.value);
                let detail =
                    "a task's own value already replaces the inherited one: remove it from `unset`"
                        .to_string();
                self.error(&entry.at, summary, detail);
                continue;
            }
            let Some(fields) = kept.as_mut() else {
                self.unset_nothing(&entry.at, &context, &entry.value);
                continue;
            };
            let dropped = match (key, param) {
                ("db_configs", Some(param)) => fields.db_configs.remove(param).is_some(),
                ("db_configs", None) => {
                    let any = !fields.db_configs.is_empty();
                    fields.db_configs.clear();
                    any
                }
                _ => {
                    fields.clear(key);
                    fields.written.remove(key)
                }
            };
            if !dropped {
                self.unset_nothing(&entry.at, &context, &entry.value);
            }
        }
        kept
    }

    fn unset_nothing(&mut self, at: &Origin, context: &str, entry: &str) {
        let diagnostic = Diagnostic::warning(
            format!("`unset` of {context} names {entry:?}, which [defaults] does not set"),
            "nothing is inherited there to drop; remove the entry",
        );
        self.diagnostics.push(match self.sources.get(at.file) {
            Some(source) => diagnostic.at_span(source, at.span.clone()),
            None => diagnostic,
        });
    }

    /// The unnamed `[provider]` (written once across all files, when it has
    /// keys of its own) and every `[provider.NAME]`. `None` when there is none
    /// or one is invalid.
    fn providers(&mut self, files: &[RawFile]) -> Option<Providers> {
        let tables: Vec<&Spanned<RawProvider>> =
            files.iter().filter_map(|f| f.provider.as_ref()).collect();
        let unnamed = tables
            .iter()
            .copied()
            .filter(|p| !p.value.written.is_empty() || p.value.named.is_empty())
            .collect();
        let unnamed = self.single(unnamed, "[provider]");
        let mut named: BTreeMap<&str, &Spanned<RawProvider>> = BTreeMap::new();
        for (name, raw) in tables.iter().flat_map(|p| &p.value.named) {
            if let Some(first) = named.get(name.as_str()) {
                let summary = format!("duplicate [provider.{name}] table");
                let detail = format!(
                    "[provider.{name}] is already defined at {}; define each provider once",
                    self.place(&first.at)
                );
                self.error(&raw.at, summary, detail);
            } else {
                named.insert(name, raw);
            }
        }
        if unnamed.is_none() && named.is_empty() {
            self.no_provider();
            return None;
        }
        let mut valid = true;
        let default = unnamed.map(|raw| self.provider(None, raw));
        let default = match default {
            Some(Some(p)) => Some(p),
            Some(None) => {
                valid = false;
                None
            }
            None => None,
        };
        let mut providers = Providers {
            default,
            named: BTreeMap::new(),
        };
        for (name, raw) in named {
            match self.provider(Some(name), raw) {
                Some(p) => {
                    providers.named.insert(name.to_string(), p);
                }
                None => valid = false,
            }
        }
        valid.then_some(providers)
    }

    /// A task's provider (its own or inherited) must be defined.
    fn check_provider_known(
        &mut self,
        raw: &RawTask,
        defaults: Option<&TaskFields>,
        task: &DesiredTask,
        providers: Option<&Providers>,
    ) {
        let Some(providers) = providers else {
            return;
        };
        let name = task.spec.provider.as_deref();
        if providers.get(name).is_some() {
            return;
        }
        let written = raw
            .fields
            .provider
            .as_ref()
            .or_else(|| defaults.and_then(|d| d.provider.as_ref()));
        let at = written.map_or(&raw.at, |p| &p.at);
        let names: Vec<&str> = providers.named.keys().map(String::as_str).collect();
        let (summary, detail) = match name {
            Some(name) => (
                format!(
                    "[task.{}] names provider {name:?}, which is not defined",
                    raw.name
                ),
                super::walk::suggestion_detail(name, &names, "Defined providers"),
            ),
            None => (
                format!(
                    "[task.{}] names no provider, and there is no unnamed [provider]",
                    raw.name
                ),
                format!(
                    "set provider = \"NAME\" in the task or in [defaults], one of: {}",
                    names.join(", ")
                ),
            ),
        };
        self.error(at, summary, detail);
    }

    fn no_provider(&mut self) {
        let detail = if self.sources.is_empty() {
            format!("{} contains no *.toml files", self.dir.display())
        } else {
            "add a [provider] table with project_id and region (and endpoint when the region has no documented one) to one of the *.toml files"
                .to_string()
        };
        self.diagnostics.push(Diagnostic::error(
            "no [provider] table in the configuration",
            detail,
        ));
    }

    /// One provider with its defaults: `project_id` from
    /// [`project_id_variable`] when not written, `endpoint` from the region's
    /// documented one.
    fn provider(&mut self, name: Option<&str>, raw: &Spanned<RawProvider>) -> Option<Provider> {
        let label = provider_label(name);
        let p = &raw.value;
        let variable = project_id_variable(name);
        let from_env = std::env::var(&variable).ok().filter(|v| !v.is_empty());
        let mut complete = true;
        if !p.written.contains("region") {
            let detail =
                format!("{label} needs region (and project_id, or {variable} in the environment)");
            self.error(
                &raw.at,
                format!("missing required key `region` in {label}"),
                detail,
            );
            complete = false;
        }
        let project_id = match (&p.project_id, from_env) {
            (Some(id), _) => Some(id.value.clone()),
            (None, Some(id)) if !p.written.contains("project_id") => {
                if let Err(why) = rules::project_id(&id) {
                    let summary = format!("{variable} (the project_id of {label}) is invalid");
                    self.error(&raw.at, summary, why);
                    complete = false;
                }
                Some(id)
            }
            (None, _) => {
                if !p.written.contains("project_id") {
                    let summary = format!("missing required key `project_id` in {label}");
                    let detail =
                        format!("set project_id in {label}, or {variable} in the environment");
                    self.error(&raw.at, summary, detail);
                }
                complete = false;
                None
            }
        };
        let endpoint = match (&p.endpoint, &p.region) {
            (Some(e), _) => Some(e.value.clone()),
            (None, Some(region)) if !p.written.contains("endpoint") => {
                let endpoint = regional_endpoint(&region.value);
                if endpoint.is_none() {
                    let summary = format!(
                        "region {:?} of {label} has no documented endpoint",
                        region.value
                    );
                    let detail = format!(
                        "set `endpoint` in {label}; regions with a documented endpoint: {}",
                        known_regions().join(", ")
                    );
                    self.error(&region.at, summary, detail);
                }
                endpoint
            }
            _ => None,
        };
        let written_at = p.endpoint.as_ref().or(p.region.as_ref());
        if let Some(location) = written_at.and_then(|e| self.location(&e.at)) {
            self.endpoint_locations
                .insert(name.map(str::to_string), location);
        }
        let embedded = endpoint.as_deref() == Some(EMBEDDED);
        let mut emulator_data = p.emulator_data.as_ref().map(|d| d.value.clone());
        if let (true, Some(data)) = (embedded, &p.emulator_data) {
            self.check_inside("emulator_data", data);
        }
        if embedded {
            match &p.emulator_cloud {
                Some(cloud) => self.check_cloud_file(cloud),
                None if !p.written.contains("emulator_cloud") => {
                    let at = p.endpoint.as_ref().map_or(&raw.at, |e| &e.at);
                    let summary =
                        format!("endpoint = \"embedded\" requires `emulator_cloud` in {label}");
                    let detail = "set emulator_cloud to the emulator's cloud description file, relative to the configuration directory";
                    self.error(at, summary, detail.to_string());
                }
                None => {}
            }
            emulator_data.get_or_insert_with(|| DEFAULT_EMULATOR_DATA.to_string());
        } else if endpoint.is_some() {
            for (key, value) in [
                ("emulator_cloud", &p.emulator_cloud),
                ("emulator_data", &p.emulator_data),
            ] {
                if let Some(value) = value {
                    let summary = format!("`{key}` is only allowed with endpoint = \"embedded\"");
                    let detail = format!(
                        "remove `{key}`, or set endpoint = \"embedded\" to use the emulator"
                    );
                    self.error(&value.at, summary, detail);
                }
            }
        }
        if let Some(ca_file) = &p.ca_file {
            self.check_inside("ca_file", ca_file);
        }
        if !complete {
            return None;
        }
        Some(Provider {
            project_id: project_id?,
            endpoint: endpoint?,
            region: p.region.as_ref()?.value.clone(),
            emulator_cloud: p.emulator_cloud.as_ref().map(|c| c.value.clone()),
            emulator_data: if embedded { emulator_data } else { None },
            ca_file: p.ca_file.as_ref().map(|c| c.value.clone()),
            poll_interval: duration(&p.poll_interval),
            wait_timeout: duration(&p.wait_timeout),
            profile: p.profile.as_ref().map(|c| c.value.clone()),
        })
    }

    /// The cloud file must exist inside the configuration directory, and so
    /// must the DDL files it lists (relative to the cloud file's directory).
    fn check_cloud_file(&mut self, cloud: &Spanned<String>) {
        let Some(path) = self.check_inside("emulator_cloud", cloud) else {
            return;
        };
        if !path.is_file() {
            let summary = format!("emulator_cloud file {:?} does not exist", cloud.value);
            let detail = format!(
                "looked for {}; the path is relative to the configuration directory",
                path.display()
            );
            self.error(&cloud.at, summary, detail);
            return;
        }
        let base = Path::new(&cloud.value).parent().unwrap_or(Path::new(""));
        let ddl_files = match ddl_files(&path) {
            Ok(files) => files,
            Err(why) => {
                let summary = format!("emulator_cloud file {:?} cannot be read", cloud.value);
                self.error(&cloud.at, summary, why);
                return;
            }
        };
        for ddl in ddl_files {
            if let Err(why) = named_files::resolve_inside(self.dir, &base.join(&ddl)) {
                let summary = format!(
                    "the DDL file {ddl:?} listed in {:?} must be inside the configuration directory",
                    cloud.value
                );
                self.error(&cloud.at, summary, why);
            }
        }
    }

    /// `[state]` with its defaults.
    fn state(&mut self, raw: Option<&RawState>) -> StateSettings {
        let text = |v: Option<&Spanned<String>>| v.map(|v| v.value.clone());
        let empty = RawState::default();
        let raw = raw.unwrap_or(&empty);
        if let Some(path) = &raw.path {
            self.check_inside("[state] path", path);
        }
        StateSettings {
            backend: raw.backend.as_ref().map(|b| b.value).unwrap_or_default(),
            path: text(raw.path.as_ref()).unwrap_or_else(|| DEFAULT_STATE_PATH.to_string()),
            schema: text(raw.schema.as_ref()).unwrap_or_else(|| DEFAULT_STATE_SCHEMA.to_string()),
            workspace: text(raw.workspace.as_ref()),
            history: raw
                .history
                .as_ref()
                .and_then(|h| u32::try_from(h.value).ok())
                .unwrap_or(DEFAULT_STATE_HISTORY),
        }
    }

    /// Checks that a path written in the configuration leads inside the
    /// configuration directory; returns where it leads.
    fn check_inside(&mut self, key: &str, path: &Spanned<String>) -> Option<PathBuf> {
        match named_files::resolve_inside(self.dir, Path::new(&path.value)) {
            Ok(resolved) => Some(resolved),
            Err(why) => {
                let summary =
                    format!("`{key}` must name a file inside the configuration directory");
                let outside = match key {
                    "[state] path" => "a state file elsewhere can be given with --state",
                    "ca_file" => "copy the CA certificate into the configuration directory",
                    _ => {
                        "to use files elsewhere, run `htapsync emulator --cloud FILE --data FILE` and point endpoint at it"
                    }
                };
                let detail = format!("{:?}: {why}; {outside}", path.value);
                self.error(&path.at, summary, detail);
                None
            }
        }
    }

    fn task(&mut self, raw: &RawTask, defaults: Option<&TaskFields>) -> Option<DesiredTask> {
        let inherited = self.inherited(raw, defaults);
        let defaults = inherited.as_ref();
        let (name, own) = (&raw.name, &raw.fields);
        let context = format!("[task.{name}]");
        let sync_level = own
            .sync_level
            .as_ref()
            .map_or(SyncLevel::Database, |l| l.value);
        for key in TASK_FIELDS.iter().filter(|f| f.required).map(|f| f.key) {
            // An instance-level task names its databases itself, or takes ALL.
            if key == "source_database_name" && sync_level == SyncLevel::Instance {
                continue;
            }
            let inherited = defaults.is_some_and(|d| d.written.contains(key));
            if !own.written.contains(key) && !inherited {
                let summary = format!("missing required key `{key}` in {context}");
                let detail = format!("set `{key}` in {context} or in [defaults]");
                self.error(&raw.at, summary, detail);
            }
        }
        let pick = |get: fn(&TaskFields) -> &Option<Spanned<String>>| {
            get(own)
                .as_ref()
                .or_else(|| defaults.and_then(|d| get(d).as_ref()))
        };
        let tables = own.tables.as_ref().map_or(&[][..], |t| &t.value[..]);
        let repl_type = own
            .repl_type
            .as_ref()
            .or_else(|| defaults.and_then(|d| d.repl_type.as_ref()));
        let repl_type_known = repl_type.is_some() || !is_written(own, defaults, "repl_type");
        let repl_type = repl_type.map_or(ReplType::default(), |t| t.value);
        let repl_scope = self.repl_scope(raw, defaults, tables);
        let table_patterns = own.table_patterns.as_ref().is_some_and(|p| p.value);
        if !table_patterns {
            self.check_no_patterns(&context, own);
        }
        if let (true, Some(scope)) = (repl_type_known, repl_scope) {
            self.check_table_configs(&context, own, repl_type, scope, tables, table_patterns);
        }
        let databases = self.databases(raw, defaults, sync_level);

        let mut db_configs: BTreeMap<String, String> = BTreeMap::new();
        for fields in defaults.into_iter().chain([own]) {
            for (param, value) in &fields.db_configs {
                db_configs.insert(param.clone(), value.value.clone());
            }
        }
        let flag = |get: fn(&TaskFields) -> &Option<Spanned<bool>>| {
            get(own)
                .as_ref()
                .or_else(|| defaults.and_then(|d| get(d).as_ref()))
                .is_some_and(|b| b.value)
        };
        let (database_scope, source_database_name, target_database_name) = databases?;
        let spec = TaskSpec {
            name: name.clone(),
            cloud_name: None,
            provider: pick(|f| &f.provider).map(|p| p.value.clone()),
            instance_id: pick(|f| &f.instance_id)?.value.clone(),
            source_instance_id: pick(|f| &f.source_instance_id)?.value.clone(),
            source_node_id: pick(|f| &f.source_node_id).map(|n| n.value.clone()),
            sync_level,
            database_scope,
            target_database_name,
            source_database_name,
            repl_type,
            repl_scope: repl_scope?,
            table_patterns,
            tables: tables.to_vec(),
            db_configs,
            table_configs: own
                .table_configs
                .iter()
                .map(|(table, config)| (table.value.clone(), config.clone()))
                .collect(),
            paused: flag(|f| &f.paused),
        };
        let spec = match &own.name {
            Some(cloud) => spec.with_cloud_name(cloud.value.clone()),
            None => spec,
        };
        let lifecycle = Lifecycle {
            prevent_destroy: flag(|f| &f.prevent_destroy),
        };
        Some(DesiredTask { spec, lifecycle })
    }

    /// The database scope and the source and target database names of a
    /// task. At database level: the (inherited) names, one source database.
    /// At instance level `database_scope` defaults to `all`, whose source
    /// database is `ALL` (an inherited name does not apply); `part` lists at
    /// least two databases in `source_database_name`; the target defaults to `ALL`.
    fn databases(
        &mut self,
        raw: &RawTask,
        defaults: Option<&TaskFields>,
        level: SyncLevel,
    ) -> Option<(Option<ReplScope>, String, String)> {
        let own = &raw.fields;
        let context = format!("[task.{}]", raw.name);
        let source = own
            .source_database_name
            .as_ref()
            .or_else(|| defaults.and_then(|d| d.source_database_name.as_ref()));
        let target = own
            .target_database_name
            .as_ref()
            .or_else(|| defaults.and_then(|d| d.target_database_name.as_ref()));
        if level == SyncLevel::Database {
            if let Some(scope) = &own.database_scope {
                let summary =
                    format!("`database_scope` needs sync_level = \"instance\" in {context}");
                let detail = "a database-level task replicates its one source_database_name; set sync_level = \"instance\" to replicate several databases, or remove database_scope";
                self.error(&scope.at, summary, detail.to_string());
            }
            let source = source?;
            if source.value.contains(',') {
                let summary = format!(
                    "source_database_name {:?} of {context} lists several databases",
                    source.value
                );
                let detail = "one database per task, or set sync_level = \"instance\" and database_scope = \"part\" to replicate several";
                self.error(&source.at, summary, detail.to_string());
                return None;
            }
            let target = target.map_or_else(|| source.value.clone(), |t| t.value.clone());
            return Some((None, source.value.clone(), target));
        }
        let scope = own
            .database_scope
            .as_ref()
            .map_or(ReplScope::All, |s| s.value);
        // Every database: an inherited database name does not apply.
        let own_source = match scope {
            ReplScope::All => own.source_database_name.as_ref(),
            ReplScope::Part => source,
        };
        let source = match (scope, own_source) {
            (ReplScope::All, None) => ALL_DATABASES.to_string(),
            (ReplScope::All, Some(s)) if s.value == ALL_DATABASES => s.value.clone(),
            (ReplScope::All, Some(s)) => {
                let summary = format!(
                    "source_database_name = {:?} contradicts the instance-level scope \"all\" of {context}",
                    s.value
                );
                let detail = "with sync_level = \"instance\" every database is replicated: remove source_database_name (or write \"ALL\"), or set database_scope = \"part\" and list the databases, comma-separated";
                self.error(&s.at, summary, detail.to_string());
                return None;
            }
            (ReplScope::Part, Some(s)) if s.value.split(',').count() >= 2 => s.value.clone(),
            (ReplScope::Part, written) => {
                let at = written.map_or(&raw.at, |s| &s.at);
                let summary = format!(
                    "database_scope = \"part\" needs at least two databases in `source_database_name` of {context}"
                );
                let detail = "list them comma-separated, e.g. source_database_name = \"shop,billing\" (the API's form); for one database use a database-level task";
                self.error(at, summary, detail.to_string());
                return None;
            }
        };
        let target = target.map_or_else(|| ALL_DATABASES.to_string(), |t| t.value.clone());
        Some((Some(scope), source, target))
    }

    /// Without `table_patterns = true`, `*` and `?` are not wildcards: a name
    /// holding one is refused rather than sent as a literal table name.
    fn check_no_patterns(&mut self, context: &str, own: &TaskFields) {
        let listed = own
            .tables
            .iter()
            .flat_map(|t| t.value.iter().map(move |n| (n, &t.at)));
        let configured = own.table_configs.iter().map(|(t, _)| (&t.value, &t.at));
        let found: Vec<(String, Origin)> = listed
            .chain(configured)
            .filter(|(name, _)| pattern::is_pattern(name))
            .map(|(name, at)| (name.clone(), at.clone()))
            .collect();
        for (name, at) in found {
            let summary = format!("{name:?} in {context} is a wildcard pattern");
            let detail = "set table_patterns = true to match tables with `*` and `?`; table names cannot contain them otherwise";
            self.error(&at, summary, detail.to_string());
        }
    }

    /// The effective scope: as written, else `part` when tables are listed and
    /// `all` when not. `None` when the written scope contradicts `tables`.
    fn repl_scope(
        &mut self,
        raw: &RawTask,
        defaults: Option<&TaskFields>,
        tables: &[String],
    ) -> Option<ReplScope> {
        let own = &raw.fields;
        let written = own
            .repl_scope
            .as_ref()
            .or_else(|| defaults.and_then(|d| d.repl_scope.as_ref()));
        let Some(scope) = written else {
            if is_written(own, defaults, "repl_scope") {
                return None;
            }
            return Some(if tables.is_empty() {
                ReplScope::All
            } else {
                ReplScope::Part
            });
        };
        // Point at the task's own key when it has one, so the message lands in the task.
        let at = own
            .repl_scope
            .as_ref()
            .map(|s| &s.at)
            .or(own.tables.as_ref().map(|t| &t.at))
            .unwrap_or(&raw.at);
        let context = format!("[task.{}]", raw.name);
        match scope.value {
            ReplScope::All if !tables.is_empty() => {
                let summary = format!(
                    "repl_scope = \"all\" contradicts the {} table(s) listed in `tables` of {context}",
                    tables.len()
                );
                let detail = "with repl_scope = \"all\" every table is replicated: remove `tables`, or set repl_scope = \"part\"";
                self.error(at, summary, detail.to_string());
                None
            }
            ReplScope::Part
                if tables.is_empty()
                    && !(own.written.contains("tables") && own.tables.is_none()) =>
            {
                let summary =
                    format!("repl_scope = \"part\" needs a non-empty `tables` in {context}");
                let detail = "list the tables to replicate (or exclude) in `tables`, or set repl_scope = \"all\"";
                self.error(at, summary, detail.to_string());
                None
            }
            scope => Some(scope),
        }
    }

    fn check_table_configs(
        &mut self,
        context: &str,
        own: &TaskFields,
        repl_type: ReplType,
        scope: ReplScope,
        tables: &[String],
        table_patterns: bool,
    ) {
        for (table, _) in &own.table_configs {
            // A pattern key's tables are known only to the cloud: the gate checks them.
            if table_patterns && pattern::is_pattern(&table.value) {
                continue;
            }
            let listed = tables.binary_search(&table.value).is_ok()
                || (table_patterns && tables.iter().any(|t| pattern::matches(t, &table.value)));
            let problem = match (repl_type, scope) {
                (ReplType::IncludeTables, ReplScope::Part) if !listed => format!(
                    "repl_type = \"include_tables\" replicates only the tables in `tables`: {}",
                    tables.join(", ")
                ),
                (ReplType::ExcludeTables, _) if listed => format!(
                    "`{}` is listed in `tables`, which repl_type = \"exclude_tables\" excludes from replication",
                    table.value
                ),
                _ => continue,
            };
            let summary = format!(
                "table_configs sets `{}`, which is not replicated by {context}",
                table.value
            );
            self.error(&table.at, summary, problem);
        }
    }
}

/// The `ddl` paths of every `[[source_instance]]` of a cloud file, as written.
/// Errors quote nothing of the file (see [`named_files`]).
fn ddl_files(cloud: &Path) -> Result<Vec<String>, String> {
    let size = std::fs::metadata(cloud).map_err(|e| e.to_string())?.len();
    if size > super::MAX_FILE_BYTES {
        return Err(format!("it is larger than {} bytes", super::MAX_FILE_BYTES));
    }
    let text = std::fs::read_to_string(cloud).map_err(|e| e.to_string())?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| named_files::without_file_content(&e.to_string()))?;
    let instances = table.get("source_instance").and_then(toml::Value::as_array);
    Ok(instances
        .into_iter()
        .flatten()
        .filter_map(|instance| instance.get("ddl")?.as_array())
        .flatten()
        .filter_map(|ddl| ddl.as_str().map(str::to_string))
        .collect())
}

fn is_written(own: &TaskFields, defaults: Option<&TaskFields>, key: &str) -> bool {
    own.written.contains(key) || defaults.is_some_and(|d| d.written.contains(key))
}

/// A duration the reader checked ([`super::raw::positive_duration`]).
fn duration(value: &Option<Spanned<String>>) -> Option<std::time::Duration> {
    value
        .as_ref()
        .and_then(|v| crate::ops::parse_duration(&v.value).ok())
}
