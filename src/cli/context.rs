//! What every command that touches state or the cloud needs: the loaded
//! configuration, the state backend, and a client (starting the embedded
//! emulator when the configuration asks for it).

use super::Failure;
use super::args::Cli;
use crate::api::trust::{self, TrustedHosts};
use crate::api::{Client, ClientConfig, Credentials};
use crate::cli::output::errln;
use crate::config::{self, Loaded};
use crate::emulator::{self, EmulatorError};
use crate::state::{Backend, LocalBackend, create_private_dir_all};
use anyhow::Context as _;
use secrecy::SecretString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The configuration directory and what was loaded from it.
pub struct Workspace {
    pub dir: PathBuf,
    pub loaded: Loaded,
    pub state_path: PathBuf,
    /// Hosts given with `--allow-endpoint` (see [`trust`]).
    pub allowed_endpoints: Vec<String>,
}

impl Workspace {
    /// Loads and validates the configuration; diagnostics become a failure
    /// that prints them all.
    pub fn load(cli: &Cli) -> Result<Workspace, Failure> {
        let dir = cli.chdir.clone().unwrap_or_else(|| PathBuf::from("."));
        let loaded = config::load_dir(&dir).map_err(Failure::Diagnostics)?;
        for w in &loaded.warnings {
            errln!("{w}");
        }
        let state_path = match &cli.state {
            Some(p) => p.clone(),
            None => dir.join(&loaded.desired.state_path),
        };
        Ok(Workspace {
            dir,
            loaded,
            state_path,
            allowed_endpoints: cli.allow_endpoint.clone(),
        })
    }

    /// The state backend; creates the state file's directory (0700) when missing.
    pub fn backend(&self) -> Result<Arc<dyn Backend>, Failure> {
        if let Some(parent) = self
            .state_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            create_private_dir_all(parent)
                .with_context(|| format!("creating the state directory {}", parent.display()))?;
        }
        Ok(Arc::new(LocalBackend::new(self.state_path.clone())))
    }

    /// A client of the configured endpoint. With `endpoint = "embedded"` the
    /// emulator is started in this process and kept alive by the returned guard.
    pub async fn connect(&self) -> anyhow::Result<(Client, Option<emulator::Running>)> {
        let provider = &self.loaded.desired.provider;
        let (endpoint, credentials, running) = if provider.endpoint == "embedded" {
            let running = start_embedded(&self.dir, provider).await?;
            let token = Credentials::Token(SecretString::from("embedded-emulator"));
            (running.url(), token, Some(running))
        } else {
            let url = self.trusted_url(&provider.endpoint)?;
            let creds = Credentials::discover(&self.dir)
                .context("reading credentials")?
                .context(
                    "no credentials: set HTAPSYNC_TOKEN, or HTAPSYNC_ACCESS_KEY and \
                     HTAPSYNC_SECRET_KEY (see docs/authentication.md)",
                )?;
            if let Some(iam) = crate::api::derived_iam_endpoint(&creds, &url) {
                self.trusted_url(iam.as_str())
                    .context("the IAM endpoint derived from `endpoint` for password credentials")?;
            }
            (provider.endpoint.clone(), creds, None)
        };
        let mut cfg = ClientConfig::new(&endpoint, &provider.project_id, credentials);
        cfg.ca_file = provider.ca_file.as_ref().map(|f| self.dir.join(f));
        if let Some(timeout) = request_timeout_override()? {
            cfg.request_timeout = timeout;
        }
        let client = Client::new(cfg)?;
        Ok((client, running))
    }
}

impl Workspace {
    /// `endpoint` parsed, if credentials may be sent there (see [`trust`]):
    /// refused before any request, naming the setting, since a pull request
    /// can write any endpoint into the configuration.
    fn trusted_url(&self, endpoint: &str) -> anyhow::Result<url::Url> {
        let setting = match &self.loaded.endpoint_location {
            Some(l) => format!("`endpoint` at {}:{}:{}", l.file.display(), l.line, l.column),
            None => "`endpoint`".to_string(),
        };
        let url = trust::parse_endpoint(endpoint).with_context(|| format!("invalid {setting}"))?;
        let env = std::env::var(trust::ALLOWED_ENDPOINTS_VAR).ok();
        let trusted = TrustedHosts::new(&self.allowed_endpoints, env.as_deref())?;
        trusted
            .check(&url)
            .with_context(|| format!("refusing {setting}"))?;
        Ok(url)
    }
}

/// `HTAPSYNC_REQUEST_TIMEOUT` (`500ms`, `5s`, `2m`) replaces the 30 s timeout
/// of each request attempt: for slow links, and so tests of a hung server
/// finish quickly. An invalid value is an error, not silently ignored.
fn request_timeout_override() -> anyhow::Result<Option<std::time::Duration>> {
    match std::env::var(REQUEST_TIMEOUT_VAR) {
        Ok(v) => super::args::parse_duration(&v)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("{REQUEST_TIMEOUT_VAR}: {e}")),
        Err(_) => Ok(None),
    }
}

const REQUEST_TIMEOUT_VAR: &str = "HTAPSYNC_REQUEST_TIMEOUT";

async fn start_embedded(
    dir: &Path,
    provider: &crate::model::Provider,
) -> anyhow::Result<emulator::Running> {
    let cloud_file = provider
        .emulator_cloud
        .as_deref()
        .context("endpoint = \"embedded\" needs emulator_cloud in [provider]")?;
    let cloud = emulator::load_cloud(&dir.join(cloud_file)).map_err(quote_nothing)?;
    let data = provider
        .emulator_data
        .as_deref()
        .unwrap_or(".htapsync/cloud.json");
    let data_path = dir.join(data);
    if let Some(parent) = data_path.parent() {
        create_private_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut cfg = emulator::EmulatorConfig::new(cloud);
    cfg.data_path = Some(data_path);
    let emu = emulator::Emulator::new(cfg).map_err(quote_nothing)?;
    let running = emulator::spawn(emu, "127.0.0.1:0".parse()?).await?;
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
