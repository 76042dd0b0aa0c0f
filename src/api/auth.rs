//! Credentials for the API: a token, an AK/SK pair, or an IAM user whose
//! password buys a token. They come only from the environment or from a
//! credentials file outside the repository, never from the task configuration,
//! and no credential type ever prints its secret.

use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use secrecy::zeroize::{Zeroize, Zeroizing};

/// How requests are authenticated.
#[derive(Clone)]
pub enum Credentials {
    /// A ready IAM token, sent as `X-Auth-Token`.
    Token(SecretString),
    /// AK/SK: every request is signed with `SDK-HMAC-SHA256`.
    AkSk {
        /// Access key id (not secret: it appears in every `Authorization` header).
        ak: String,
        /// Secret key: the HMAC key.
        sk: SecretString,
        /// For temporary AK/SK, sent as `X-Security-Token`.
        security_token: Option<SecretString>,
    },
    /// An IAM user: a token is fetched from IAM and cached until shortly before it expires.
    Password {
        /// IAM user name.
        user: String,
        /// IAM password.
        password: SecretString,
        /// Account (domain) name the user belongs to.
        domain: String,
        /// IAM base URL; derived from the API endpoint when absent.
        iam_endpoint: Option<String>,
    },
}

impl Credentials {
    /// A short name of the mode, safe to log.
    pub fn mode(&self) -> &'static str {
        match self {
            Credentials::Token(_) => "token",
            Credentials::AkSk { .. } => "ak/sk",
            Credentials::Password { .. } => "password",
        }
    }
}

/// Shows the mode and the non-secret identifiers only.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Token(_) => f.write_str("Credentials::Token([REDACTED])"),
            Credentials::AkSk {
                ak, security_token, ..
            } => f
                .debug_struct("Credentials::AkSk")
                .field("ak", ak)
                .field("sk", &"[REDACTED]")
                .field(
                    "security_token",
                    &security_token.as_ref().map(|_| "[REDACTED]"),
                )
                .finish(),
            Credentials::Password {
                user,
                domain,
                iam_endpoint,
                ..
            } => f
                .debug_struct("Credentials::Password")
                .field("user", user)
                .field("password", &"[REDACTED]")
                .field("domain", domain)
                .field("iam_endpoint", iam_endpoint)
                .finish(),
        }
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Token(_) => f.write_str("token"),
            Credentials::AkSk { ak, .. } => write!(f, "AK/SK (access key {ak})"),
            Credentials::Password { user, domain, .. } => {
                write!(f, "IAM password of {user} in domain {domain}")
            }
        }
    }
}

/// Why credentials could not be loaded. Messages never include a secret.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Part of a credential set is present, part missing.
    #[error("incomplete credentials: {present} is set but {missing} is not")]
    Incomplete {
        /// What was found.
        present: &'static str,
        /// What is needed with it.
        missing: &'static str,
    },
    /// The credentials file could not be read.
    #[error("cannot read credentials file {path}: {cause}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error; part of the message, so not also exposed as `source()`.
        cause: std::io::Error,
    },
    /// The credentials file is not valid TOML of the expected shape.
    #[error("credentials file {path} line {line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// The parser's message (without the offending text, which may be a secret).
        message: String,
    },
    /// The profile does not exist in the file.
    #[error("credentials file {path} has no profile [{profile}]")]
    NoProfile {
        /// The file.
        path: PathBuf,
        /// The profile asked for.
        profile: String,
    },
    /// The profile has no complete credential set.
    #[error("profile [{profile}] in {path}: {reason}")]
    BadProfile {
        /// The file.
        path: PathBuf,
        /// The profile.
        profile: String,
        /// What is wrong.
        reason: String,
    },
    /// Group or others may read the file.
    #[error(
        "credentials file {path} is readable by group or others (mode {mode:o}); run `chmod 600 {path}`"
    )]
    InsecurePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file lies inside the git work tree of the configuration directory, where it could be committed.
    #[error(
        "credentials file {path} is inside the git repository at {repo}; move it out (default: ~/.config/htapsync/credentials.toml)"
    )]
    InsideRepository {
        /// The file.
        path: PathBuf,
        /// The work tree root.
        repo: PathBuf,
    },
    /// IAM refused or failed to issue a token.
    #[error("IAM token request failed: {0}")]
    Iam(String),
}

const TOKEN_VARS: &[&str] = &["HTAPSYNC_TOKEN", "HW_AUTH_TOKEN"];
const AK_VARS: &[&str] = &["HTAPSYNC_ACCESS_KEY", "HUAWEICLOUD_SDK_AK", "HW_ACCESS_KEY"];
const SK_VARS: &[&str] = &["HTAPSYNC_SECRET_KEY", "HUAWEICLOUD_SDK_SK", "HW_SECRET_KEY"];
const SECURITY_TOKEN_VARS: &[&str] = &["HTAPSYNC_SECURITY_TOKEN", "HUAWEICLOUD_SDK_SECURITY_TOKEN"];
/// Overrides the credentials file location.
pub const CREDENTIALS_FILE_VAR: &str = "HTAPSYNC_CREDENTIALS_FILE";
/// Selects the profile in the credentials file.
pub const PROFILE_VAR: &str = "HTAPSYNC_PROFILE";

fn first_set(lookup: &dyn Fn(&str) -> Option<String>, names: &[&str]) -> Option<String> {
    names
        .iter()
        .filter_map(|n| lookup(n))
        .find(|v| !v.trim().is_empty())
}

impl Credentials {
    /// Reads credentials from the process environment (see [`Credentials::from_lookup`]).
    pub fn from_env() -> Result<Option<Credentials>, AuthError> {
        Credentials::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Reads credentials through `lookup` (an environment). AK/SK wins over a
    /// token, a token over user/password; `Ok(None)` when nothing is set.
    pub fn from_lookup(
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Credentials>, AuthError> {
        let ak = first_set(lookup, AK_VARS);
        let sk = first_set(lookup, SK_VARS);
        match (ak, sk) {
            (Some(ak), Some(sk)) => {
                return Ok(Some(Credentials::AkSk {
                    ak,
                    sk: sk.into(),
                    security_token: first_set(lookup, SECURITY_TOKEN_VARS).map(Into::into),
                }));
            }
            (Some(_), None) => {
                return Err(incomplete("HTAPSYNC_ACCESS_KEY", "HTAPSYNC_SECRET_KEY"));
            }
            (None, Some(_)) => {
                return Err(incomplete("HTAPSYNC_SECRET_KEY", "HTAPSYNC_ACCESS_KEY"));
            }
            (None, None) => {}
        }
        if let Some(token) = first_set(lookup, TOKEN_VARS) {
            return Ok(Some(Credentials::Token(token.into())));
        }
        let user = first_set(lookup, &["HTAPSYNC_USERNAME"]);
        let password = first_set(lookup, &["HTAPSYNC_PASSWORD"]);
        let domain = first_set(lookup, &["HTAPSYNC_DOMAIN"]);
        match (user, password, domain) {
            (None, None, None) => Ok(None),
            (Some(user), Some(password), Some(domain)) => Ok(Some(Credentials::Password {
                user,
                password: password.into(),
                domain,
                iam_endpoint: first_set(lookup, &["HTAPSYNC_IAM_ENDPOINT"]),
            })),
            (None, ..) => Err(incomplete(
                "HTAPSYNC_PASSWORD or HTAPSYNC_DOMAIN",
                "HTAPSYNC_USERNAME",
            )),
            (_, None, _) => Err(incomplete("HTAPSYNC_USERNAME", "HTAPSYNC_PASSWORD")),
            (_, _, None) => Err(incomplete("HTAPSYNC_USERNAME", "HTAPSYNC_DOMAIN")),
        }
    }

    /// Loads one profile (a TOML table) from a credentials file, after checking
    /// that only its owner can read it.
    pub fn from_file(path: &Path, profile: &str) -> Result<Credentials, AuthError> {
        check_permissions(path)?;
        // Wiped when dropped, like every profile read from it (see `FileProfile`).
        let text =
            Zeroizing::new(
                std::fs::read_to_string(path).map_err(|source| AuthError::Read {
                    path: path.to_path_buf(),
                    cause: source,
                })?,
            );
        // Parsed as plain TOML and read by hand: serde's type errors quote the
        // value (`invalid type: integer 31415926535`), and every value here is a secret.
        let parse_error =
            |span: Option<std::ops::Range<usize>>, message: String| AuthError::Parse {
                path: path.to_path_buf(),
                line: span.map_or(1, |s| line_of(&text, s.start)),
                message,
            };
        let document = toml_edit::Document::parse(text.as_str())
            .map_err(|e| parse_error(e.span(), e.message().to_string()))?;
        let found = document.get(profile).ok_or_else(|| AuthError::NoProfile {
            path: path.to_path_buf(),
            profile: profile.to_string(),
        })?;
        let mut found =
            FileProfile::read(profile, found).map_err(|(span, m)| parse_error(span, m))?;
        let bad_profile = |reason: String| AuthError::BadProfile {
            path: path.to_path_buf(),
            profile: profile.to_string(),
            reason,
        };
        found.take_credentials().map_err(bad_profile)
    }

    /// Environment first, then the credentials file (`$HTAPSYNC_CREDENTIALS_FILE`
    /// or `~/.config/htapsync/credentials.toml`, profile `$HTAPSYNC_PROFILE` or
    /// `default`). `Ok(None)` when neither holds credentials. A file inside the
    /// git work tree of the configuration directory `config_dir` is refused
    /// (that is the repository a commit would take it into, wherever the
    /// process runs). Found credentials also make the process non-dumpable
    /// (see [`forbid_dumps`]).
    pub fn discover(config_dir: &Path) -> Result<Option<Credentials>, AuthError> {
        let lookup = |name: &str| std::env::var(name).ok();
        let found = Credentials::discover_with(&lookup, Some(config_dir))?;
        if found.is_some() {
            forbid_dumps();
        }
        Ok(found)
    }

    /// The credentials of `profile` in the credentials file, for a provider
    /// that names its own (the environment's credentials do not apply to it).
    pub fn discover_profile(
        config_dir: &Path,
        profile: &str,
    ) -> Result<Option<Credentials>, AuthError> {
        let lookup = |name: &str| std::env::var(name).ok();
        let found = Credentials::from_file_of(&lookup, Some(config_dir), Some(profile))?;
        if found.is_some() {
            forbid_dumps();
        }
        Ok(found)
    }

    /// [`Credentials::discover`] with an explicit environment.
    pub fn discover_with(
        lookup: &dyn Fn(&str) -> Option<String>,
        config_dir: Option<&Path>,
    ) -> Result<Option<Credentials>, AuthError> {
        if let Some(found) = Credentials::from_lookup(lookup)? {
            return Ok(Some(found));
        }
        Credentials::from_file_of(lookup, config_dir, None)
    }

    /// The credentials file's `profile` (default: `HTAPSYNC_PROFILE`, else `default`).
    fn from_file_of(
        lookup: &dyn Fn(&str) -> Option<String>,
        config_dir: Option<&Path>,
        profile: Option<&str>,
    ) -> Result<Option<Credentials>, AuthError> {
        let explicit = first_set(lookup, &[CREDENTIALS_FILE_VAR]).map(PathBuf::from);
        let path = match explicit.clone().or_else(|| default_file(lookup)) {
            Some(p) => p,
            None => return Ok(None),
        };
        if explicit.is_none() && !path.exists() {
            return Ok(None);
        }
        if let Some(repo) = config_dir.and_then(git_work_tree) {
            let absolute = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if absolute.starts_with(&repo) {
                return Err(AuthError::InsideRepository { path, repo });
            }
        }
        let profile = match profile {
            Some(p) => p.to_string(),
            None => first_set(lookup, &[PROFILE_VAR]).unwrap_or_else(|| "default".into()),
        };
        Credentials::from_file(&path, &profile).map(Some)
    }
}

/// Marks the process non-dumpable (Linux `PR_SET_DUMPABLE` 0) for the rest of
/// its life: no core file, and other processes of the same user can no longer
/// read its memory or environment through ptrace or `/proc/PID/{mem,environ}`,
/// so secrets held in memory stay there. Failure is logged, not fatal: the
/// secrets are still never written anywhere.
pub fn forbid_dumps() {
    #[cfg(target_os = "linux")]
    if let Err(e) =
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
    {
        tracing::warn!("cannot mark the process non-dumpable: {e}");
    }
}

/// 1-based line number of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.bytes().take(offset).filter(|b| *b == b'\n').count() + 1
}

fn incomplete(present: &'static str, missing: &'static str) -> AuthError {
    AuthError::Incomplete { present, missing }
}

fn default_file(lookup: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let config = first_set(lookup, &["XDG_CONFIG_HOME"])
        .map(PathBuf::from)
        .or_else(|| first_set(lookup, &["HOME"]).map(|h| PathBuf::from(h).join(".config")))?;
    Some(config.join("htapsync").join("credentials.toml"))
}

/// The root of the git work tree containing `dir`, if any.
fn git_work_tree(dir: &Path) -> Option<PathBuf> {
    let dir = std::fs::canonicalize(dir).ok()?;
    dir.ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf)
}

#[cfg(unix)]
fn check_permissions(path: &Path) -> Result<(), AuthError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|source| AuthError::Read {
        path: path.to_path_buf(),
        cause: source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(AuthError::InsecurePermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path) -> Result<(), AuthError> {
    Ok(())
}

/// One `[profile]` table of the credentials file. Its secrets are wiped when
/// it is dropped; the ones used move into [`SecretString`]s.
#[derive(Default)]
struct FileProfile {
    token: Option<String>,
    access_key: Option<String>,
    secret_key: Option<String>,
    security_token: Option<String>,
    username: Option<String>,
    password: Option<String>,
    domain: Option<String>,
    iam_endpoint: Option<String>,
}

/// The keys of a profile, each a string.
const PROFILE_KEYS: &[&str] = &[
    "token",
    "access_key",
    "secret_key",
    "security_token",
    "username",
    "password",
    "domain",
    "iam_endpoint",
];

impl FileProfile {
    /// Reads the table of profile `name`; errors name the key, the expected
    /// type and where (a byte span), never a value.
    fn read(
        name: &str,
        item: &toml_edit::Item,
    ) -> Result<FileProfile, (Option<std::ops::Range<usize>>, String)> {
        let table = item.as_table_like().ok_or_else(|| {
            let found = item.type_name();
            (
                item.span(),
                format!("profile [{name}] must be a table, found {found}"),
            )
        })?;
        let mut profile = FileProfile::default();
        for (key, value) in table.iter() {
            let span = table.key(key).and_then(|k| k.span());
            let slot = match key {
                "token" => &mut profile.token,
                "access_key" => &mut profile.access_key,
                "secret_key" => &mut profile.secret_key,
                "security_token" => &mut profile.security_token,
                "username" => &mut profile.username,
                "password" => &mut profile.password,
                "domain" => &mut profile.domain,
                "iam_endpoint" => &mut profile.iam_endpoint,
                _ => {
                    let allowed = PROFILE_KEYS.join(", ");
                    let message =
                        format!("unknown key `{key}` in profile [{name}]; allowed keys: {allowed}");
                    return Err((span, message));
                }
            };
            let text = value.as_str().ok_or_else(|| {
                let found = value.type_name();
                let message =
                    format!("`{key}` in profile [{name}] must be a string, found {found}");
                (span, message)
            })?;
            *slot = Some(text.to_string());
        }
        Ok(profile)
    }

    fn take_credentials(&mut self) -> Result<Credentials, String> {
        let modes = [
            self.token.is_some(),
            self.access_key.is_some() || self.secret_key.is_some(),
            self.username.is_some() || self.password.is_some(),
        ];
        if modes.iter().filter(|m| **m).count() != 1 {
            return Err(
                "set exactly one of: token; access_key + secret_key; username + password + domain"
                    .into(),
            );
        }
        if let Some(token) = self.token.take() {
            return Ok(Credentials::Token(token.into()));
        }
        if modes[1] {
            return match (self.access_key.take(), self.secret_key.take()) {
                (Some(ak), Some(sk)) => Ok(Credentials::AkSk {
                    ak,
                    sk: sk.into(),
                    security_token: self.security_token.take().map(Into::into),
                }),
                _ => Err("access_key and secret_key go together".into()),
            };
        }
        match (
            self.username.take(),
            self.password.take(),
            self.domain.take(),
        ) {
            (Some(user), Some(password), Some(domain)) => Ok(Credentials::Password {
                user,
                password: password.into(),
                domain,
                iam_endpoint: self.iam_endpoint.take(),
            }),
            _ => Err("username, password and domain go together".into()),
        }
    }
}

impl Drop for FileProfile {
    fn drop(&mut self) {
        self.token.zeroize();
        self.secret_key.zeroize();
        self.security_token.zeroize();
        self.password.zeroize();
    }
}
