//! What every operation that touches state or the cloud needs: the loaded
//! configuration, the state backend, and a client (starting the embedded
//! emulator when the configuration asks for it).

use super::{Error, Result};
use crate::api::trust::{self, TrustedHosts};
use crate::api::{Client, ClientConfig, Clients, Credentials};
use crate::config::{self, Loaded};
use crate::emulator::{self, EmulatorError};
use crate::model::{DEFAULT_WORKSPACE, StateBackendKind, check_workspace_name, provider_label};
use crate::state::{Backend, LocalStore, Store, create_private_dir_all};
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the workspace is and what the command line adds to it.
#[derive(Debug, Clone, Default)]
pub struct WorkspaceOptions {
    /// The configuration directory (every `*.toml` in it is loaded).
    pub dir: PathBuf,
    /// `--state`: overrides `[state] path` (local backend).
    pub state: Option<PathBuf>,
    /// `--workspace` / `HTAPSYNC_WORKSPACE`: overrides `[state] workspace`.
    pub workspace: Option<String>,
    /// Hosts given with `--allow-endpoint` (see [`trust`]).
    pub allowed_endpoints: Vec<String>,
}

/// The configuration directory and what was loaded from it.
pub struct Workspace {
    pub dir: PathBuf,
    /// The configuration; its `warnings` are for the front end to show.
    pub loaded: Loaded,
    /// The local state file of the `default` workspace (`--state` or `[state] path`).
    pub state_path: PathBuf,
    /// The workspace this command works on.
    pub workspace: String,
    /// Hosts given with `--allow-endpoint` (see [`trust`]).
    pub allowed_endpoints: Vec<String>,
}

impl Workspace {
    /// Loads and validates the configuration and picks the workspace.
    pub fn load(opts: &WorkspaceOptions) -> Result<Workspace, Error> {
        let loaded = config::load_dir(&opts.dir).map_err(Error::Config)?;
        let settings = &loaded.desired.state;
        let state_path = match &opts.state {
            Some(p) => p.clone(),
            None => opts.dir.join(&settings.path),
        };
        if opts.state.is_some() && settings.backend != StateBackendKind::Local {
            return Err(Error::Refused(format!(
                "--state names a local file, but [state] backend = {:?}",
                settings.backend.as_str()
            )));
        }
        let workspace = opts
            .workspace
            .clone()
            .or_else(|| settings.workspace.clone())
            .unwrap_or_else(|| DEFAULT_WORKSPACE.to_string());
        check_workspace_name(&workspace).map_err(Error::Refused)?;
        Ok(Workspace {
            dir: opts.dir.clone(),
            loaded,
            state_path,
            workspace,
            allowed_endpoints: opts.allowed_endpoints.clone(),
        })
    }

    /// Where the states of every workspace live, as `[state]` says.
    pub fn store(&self) -> Result<Arc<dyn Store>> {
        self.store_of(self.loaded.desired.state.backend)
    }

    /// The store of backend `kind` with this configuration's `[state]`
    /// settings (`state migrate` opens the one it is not configured with).
    pub fn store_of(&self, kind: StateBackendKind) -> Result<Arc<dyn Store>> {
        let settings = &self.loaded.desired.state;
        match kind {
            StateBackendKind::Local => Ok(Arc::new(LocalStore::new(self.state_path.clone()))),
            StateBackendKind::Postgres => Ok(Arc::new(crate::state::PgStore::connect(
                &settings.schema,
                settings.history,
            )?)),
        }
    }

    /// The state of this command's workspace.
    pub fn backend(&self) -> Result<Arc<dyn Backend>> {
        Ok(self.store()?.open(&self.workspace)?)
    }

    /// A client per provider. Providers with `endpoint = "embedded"` share one
    /// emulator per cloud file, started in this process and kept alive by
    /// the returned guards.
    pub async fn connect(&self) -> Result<(Clients, Vec<emulator::Running>)> {
        let mut clients = BTreeMap::new();
        let mut emulators: Vec<(EmbeddedKey, emulator::Running)> = Vec::new();
        let mut discovered: Option<Credentials> = None;
        for (name, provider) in self.loaded.desired.providers.iter() {
            let (endpoint, credentials) = if provider.endpoint == "embedded" {
                let key = (
                    provider.emulator_cloud.clone(),
                    provider.emulator_data.clone(),
                );
                let url = match emulators.iter().find(|(k, _)| *k == key) {
                    Some((_, running)) => running.url(),
                    None => {
                        let running = start_embedded(&self.dir, provider).await?;
                        let url = running.url();
                        emulators.push((key, running));
                        url
                    }
                };
                let token = Credentials::Token(SecretString::from("embedded-emulator"));
                (url, token)
            } else {
                let url = self.trusted_url(name, &provider.endpoint)?;
                let creds = match &provider.profile {
                    Some(profile) => self.profile_credentials(name, profile)?,
                    None => match &discovered {
                        Some(creds) => creds.clone(),
                        None => discovered.insert(self.discovered_credentials()?).clone(),
                    },
                };
                if let Some(iam) = crate::api::derived_iam_endpoint(&creds, &url) {
                    self.trusted_url(name, iam.as_str()).map_err(|e| {
                        Error::context(
                            "the IAM endpoint derived from `endpoint` for password credentials",
                            e,
                        )
                    })?;
                }
                (provider.endpoint.clone(), creds)
            };
            let mut cfg = ClientConfig::new(&endpoint, &provider.project_id, credentials);
            cfg.ca_file = provider.ca_file.as_ref().map(|f| self.dir.join(f));
            if let Some(timeout) = duration_override(REQUEST_TIMEOUT_VAR)? {
                cfg.request_timeout = timeout;
            }
            if let Some(budget) = duration_override(RETRY_MAX_ELAPSED_VAR)? {
                cfg.retry_max_elapsed = budget;
            }
            clients.insert(name.map(str::to_string), Client::new(cfg)?);
        }
        let running = emulators.into_iter().map(|(_, r)| r).collect();
        Ok((Clients::new(clients), running))
    }

    /// The environment's credentials, else the credentials file's.
    fn discovered_credentials(&self) -> Result<Credentials> {
        Credentials::discover(&self.dir)
            .map_err(|e| Error::context("reading credentials", e))?
            .ok_or_else(|| {
                Error::Refused(
                    "no credentials: set HTAPSYNC_TOKEN, or HTAPSYNC_ACCESS_KEY and \
                     HTAPSYNC_SECRET_KEY (see docs/authentication.md)"
                        .to_string(),
                )
            })
    }

    /// The credentials of the profile a provider names.
    fn profile_credentials(&self, name: Option<&str>, profile: &str) -> Result<Credentials> {
        let label = provider_label(name);
        Credentials::discover_profile(&self.dir, profile)
            .map_err(|e| Error::context(format!("reading the credentials of {label}"), e))?
            .ok_or_else(|| {
                Error::Refused(format!(
                    "no credentials file for profile {profile:?} of {label} (see docs/authentication.md)"
                ))
            })
    }

    /// `endpoint` parsed, if credentials may be sent there (see [`trust`]):
    /// refused before any request, naming the setting, since a pull request
    /// can write any endpoint into the configuration.
    fn trusted_url(&self, provider: Option<&str>, endpoint: &str) -> Result<url::Url> {
        let key = match provider {
            None => "`endpoint`".to_string(),
            Some(_) => format!("`endpoint` of {}", provider_label(provider)),
        };
        let written = self
            .loaded
            .endpoint_locations
            .get(&provider.map(str::to_string));
        let setting = match written {
            Some(l) => format!("{key} at {}:{}:{}", l.file.display(), l.line, l.column),
            None => key,
        };
        let url = trust::parse_endpoint(endpoint)
            .map_err(|e| Error::context(format!("invalid {setting}"), e))?;
        let env = std::env::var(trust::ALLOWED_ENDPOINTS_VAR).ok();
        let trusted = TrustedHosts::new(&self.allowed_endpoints, env.as_deref())
            .map_err(|e| Error::Refused(e.to_string()))?;
        trusted
            .check(&url)
            .map_err(|e| Error::context(format!("refusing {setting}"), e))?;
        Ok(url)
    }
}

/// Providers with the same emulator files share one embedded emulator.
type EmbeddedKey = (Option<String>, Option<String>);

/// A duration (`500ms`, `5s`, `2m`) from the environment variable `var`. An
/// invalid value is an error, not silently ignored.
fn duration_override(var: &str) -> Result<Option<std::time::Duration>> {
    match std::env::var(var) {
        Ok(v) => parse_duration(&v)
            .map(Some)
            .map_err(|e| Error::Refused(format!("{var}: {e}"))),
        Err(_) => Ok(None),
    }
}

/// Replaces the 30 s timeout of each request attempt: for slow links, and so
/// tests of a hung server finish quickly.
const REQUEST_TIMEOUT_VAR: &str = "HTAPSYNC_REQUEST_TIMEOUT";
/// Replaces the 2-minute retry budget of each call (e.g. `90s`, `10m`).
const RETRY_MAX_ELAPSED_VAR: &str = "HTAPSYNC_RETRY_MAX_ELAPSED";

/// Parses `10s`, `2m`, `500ms`, `1h` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: expected e.g. 10s, 2m, 500ms"))?;
    let ms = match unit {
        "ms" => n,
        "s" => n * 1000,
        "m" => n * 60_000,
        "h" => n * 3_600_000,
        _ => return Err(format!("invalid duration unit in {s:?}: use ms, s, m or h")),
    };
    Ok(std::time::Duration::from_millis(ms))
}

async fn start_embedded(
    dir: &Path,
    provider: &crate::model::Provider,
) -> Result<emulator::Running> {
    let cloud_file = provider.emulator_cloud.as_deref().ok_or_else(|| {
        Error::Refused("endpoint = \"embedded\" needs emulator_cloud in its provider".to_string())
    })?;
    let cloud = emulator::load_cloud(&dir.join(cloud_file)).map_err(quote_nothing)?;
    let data = provider
        .emulator_data
        .as_deref()
        .unwrap_or(".htapsync/cloud.json");
    let data_path = dir.join(data);
    if let Some(parent) = data_path.parent() {
        create_private_dir_all(parent)
            .map_err(|e| Error::context(format!("creating {}", parent.display()), e))?;
    }
    let mut cfg = emulator::EmulatorConfig::new(cloud);
    cfg.data_path = Some(data_path);
    let emu = emulator::Emulator::new(cfg).map_err(quote_nothing)?;
    let listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let running = emulator::spawn(emu, listen).await?;
    tracing::info!(url = %running.url(), "embedded emulator started");
    Ok(running)
}

/// The cloud, DDL and data files are named by the configuration, not part of
/// it: their decode errors keep the position and kind of the problem but
/// never quote the file (see [`config::named_files`]).
fn quote_nothing(error: EmulatorError) -> EmulatorError {
    let clean = |msg: String| config::named_files::without_file_content(&msg);
    match error {
        EmulatorError::CloudFile { path, msg } => EmulatorError::CloudFile {
            path,
            msg: clean(msg),
        },
        EmulatorError::Ddl { path, msg } => EmulatorError::Ddl {
            path,
            msg: clean(msg),
        },
        EmulatorError::Data { path, msg } => EmulatorError::Data {
            path,
            msg: clean(msg),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap().as_secs(), 10);
        assert_eq!(parse_duration("2m").unwrap().as_secs(), 120);
        assert_eq!(parse_duration("5").unwrap().as_secs(), 5);
        assert!(parse_duration("5x").is_err());
    }
}
