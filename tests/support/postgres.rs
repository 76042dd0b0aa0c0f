//! A real, throwaway PostgreSQL server for the tests: `initdb` into a temp
//! directory (as the `postgres` user when the tests run as root), listening
//! on 127.0.0.1 on a free port and on a Unix socket in that directory.
//!
//! Each server is stopped when its [`PgServer`] is dropped, and by a watchdog
//! process when the test process ends without dropping it (a `static` is
//! never dropped, a killed test never unwinds). Tests share one server per
//! test binary ([`PgServer::shared`]), each with its own database
//! ([`PgServer::database`]), so that they run in parallel.
//!
//! Without the binaries a test is skipped by name with the install command
//! ([`PgServer::shared`] / [`PgServer::start`] return `None`), unless
//! `HTAPSYNC_REQUIRE_POSTGRES` is set (CI), where that is a failure.

use htapsync::state::PgSettings;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Makes the PostgreSQL tests mandatory (set by `.ci/run`).
pub const REQUIRE_VAR: &str = "HTAPSYNC_REQUIRE_POSTGRES";
/// The superuser of every test server (trust authentication).
pub const ADMIN: &str = "postgres";
/// A role that must log in with [`PASSWORD`] (SCRAM), to prove it never leaks.
pub const PASSWORD_USER: &str = "htapsync_pw";
pub const PASSWORD: &str = "pw-Sesame-4711-never-printed";

/// Where `initdb`, `pg_ctl` and `postgres` are: PATH, then Debian's
/// `/usr/lib/postgresql/<version>/bin` (the newest).
pub fn binaries() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
    });
    on_path.or_else(|| {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
                let bin = entry.path().join("bin");
                bin.join("initdb").is_file().then_some((version, bin))
            })
            .collect();
        versions.sort();
        versions.pop().map(|(_, bin)| bin)
    })
}

/// Whether the binaries are there; prints the skip line (or panics under
/// [`REQUIRE_VAR`]) when they are not.
pub fn available(test: &str) -> bool {
    decide(
        test,
        binaries().is_some(),
        std::env::var_os(REQUIRE_VAR).is_some(),
    )
}

/// The skip rule: run when `found`; otherwise fail when `required`, else
/// print the skip line naming the test and the install command.
pub fn decide(test: &str, found: bool, required: bool) -> bool {
    if found {
        return true;
    }
    let message = skip_line(test);
    if required {
        panic!("{message} ({REQUIRE_VAR} is set)");
    }
    eprintln!("{message}");
    false
}

/// What a skipped PostgreSQL test prints.
pub fn skip_line(test: &str) -> String {
    format!(
        "SKIPPED {test}: PostgreSQL binaries not found; install them with: \
         apt-get update && apt-get install -y postgresql"
    )
}

/// Options of a server to start.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `ssl = on` with this certificate and key (PEM files, copied into the data directory).
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// A running test server; stopped when dropped.
pub struct PgServer {
    /// Holds `data/` and the Unix socket.
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// `Some("postgres")` when running as root (the server refuses root).
    run_as: Option<&'static str>,
    watchdog: Option<Child>,
}

impl PgServer {
    /// The server shared by the tests of this binary; `None` (after the skip
    /// line) without the binaries. Stopped by its watchdog when the process ends.
    pub fn shared(test: &str) -> Option<&'static PgServer> {
        static SHARED: OnceLock<PgServer> = OnceLock::new();
        if !available(test) {
            return None;
        }
        Some(SHARED.get_or_init(|| PgServer::launch(Options::default())))
    }

    /// A server of the test's own (to stop, restart or configure it); `None`
    /// (after the skip line) without the binaries.
    pub fn start(test: &str) -> Option<PgServer> {
        PgServer::start_with(test, Options::default())
    }

    pub fn start_with(test: &str, options: Options) -> Option<PgServer> {
        available(test).then(|| PgServer::launch(options))
    }

    fn launch(options: Options) -> PgServer {
        let bin = binaries().expect("PostgreSQL binaries");
        let run_as = is_root().then_some("postgres");
        let dir = tempfile::Builder::new()
            .prefix("htapsync-pg-")
            .tempdir()
            .expect("temp dir");
        let data = dir.path().join("data");
        let mut server = PgServer {
            dir,
            bin,
            port: 0,
            run_as,
            watchdog: None,
        };
        server.own(server.dir.path());
        server.check(
            server
                .command("initdb")
                .args([
                    "-U",
                    ADMIN,
                    "--auth=trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "-D",
                ])
                .arg(&data),
            "initdb",
        );
        server.port = free_port();
        let mut conf = format!(
            "\nlisten_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\n\
             fsync = off\nfull_page_writes = off\n\
             max_connections = 200\nshared_buffers = 16MB\npassword_encryption = 'scram-sha-256'\n",
            server.port,
            server.dir.path().display()
        );
        if let Some((cert, key)) = &options.tls {
            for (from, to) in [(cert, "server.crt"), (key, "server.key")] {
                std::fs::copy(from, data.join(to)).expect("copy TLS file");
            }
            server.own(&data.join("server.crt"));
            server.own(&data.join("server.key"));
            set_mode(&data.join("server.key"), 0o600);
            conf.push_str("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        }
        append(&data.join("postgresql.conf"), &conf);
        std::fs::write(
            data.join("pg_hba.conf"),
            format!(
                "local all all trust\n\
                 host all {PASSWORD_USER} 127.0.0.1/32 scram-sha-256\n\
                 host all all 127.0.0.1/32 trust\n"
            ),
        )
        .expect("write pg_hba.conf");
        server.own(&data.join("pg_hba.conf"));
        server.start_server();
        server.watchdog = Some(server.spawn_watchdog());
        server
            .admin("postgres")
            .batch_execute(&format!(
                "CREATE ROLE {PASSWORD_USER} LOGIN PASSWORD '{PASSWORD}'"
            ))
            .expect("create the password role");
        server
    }

    /// A command of the server's binaries, as the server's user.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        match self.run_as {
            Some(user) => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", user, "--"]).arg(program);
                cmd
            }
            None => Command::new(program),
        }
    }

    fn pg_ctl(&self, args: &[&str]) -> Command {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("-D").arg(self.data()).args(args);
        cmd
    }

    #[track_caller]
    fn check(&self, cmd: &mut Command, what: &str) {
        let out = cmd.stdin(Stdio::null()).output().expect(what);
        assert!(
            out.status.success(),
            "{what} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Hands `path` to the server's user (when running as root).
    fn own(&self, path: &Path) {
        if let Some(user) = self.run_as {
            self.check(
                Command::new("chown")
                    .args(["-R", &format!("{user}:{user}")])
                    .arg(path),
                "chown",
            );
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn start_server(&self) {
        let log = self.dir.path().join("server.log");
        self.check(
            self.pg_ctl(&["-w", "-t", "60", "-l"])
                .arg(&log)
                .arg("start"),
            "pg_ctl start",
        );
    }

    /// A shell loop that stops the server once this test process is gone.
    fn spawn_watchdog(&self) -> Child {
        let stop = format!(
            "{} '{}' -D '{}' -m immediate stop",
            self.run_as
                .map(|u| format!("runuser -u {u} --"))
                .unwrap_or_default(),
            self.bin.join("pg_ctl").display(),
            self.data().display()
        );
        let script = format!(
            "while kill -0 {} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf '{}'",
            std::process::id(),
            self.dir.path().display()
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the watchdog")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the server's Unix socket.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A new empty database with a unique name made from `name`.
    pub fn database(&self, name: &str) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let db = format!(
            "{}_{}",
            name.chars()
                .map(|c| if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                })
                .take(40)
                .collect::<String>(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let mut admin = self.admin("postgres");
        // One statement each: CREATE DATABASE refuses to run in a transaction block.
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .expect("create database");
        admin
            .batch_execute(&format!("GRANT ALL ON DATABASE {db} TO {PASSWORD_USER}"))
            .expect("grant on database");
        db
    }

    /// The connection string of `db` as the superuser (loopback TCP, no TLS).
    pub fn conn_string(&self, db: &str) -> String {
        format!("host=127.0.0.1 port={} user={ADMIN} dbname={db}", self.port)
    }

    /// What a child process needs to use `db` (set after removing any `PG*`
    /// variables of the test's own environment).
    pub fn env_for(&self, db: &str) -> Vec<(String, String)> {
        vec![("HTAPSYNC_PG_CONN".to_string(), self.conn_string(db))]
    }

    /// Settings for `db`, as the binary would read them from [`PgServer::env_for`].
    pub fn settings(&self, db: &str) -> PgSettings {
        self.settings_from(&[("HTAPSYNC_PG_CONN", &self.conn_string(db))])
    }

    /// Settings from these variables alone (no ambient `PG*`).
    pub fn settings_from(&self, vars: &[(&str, &str)]) -> PgSettings {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        PgSettings::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
            .expect("valid settings")
    }

    /// A superuser client of `db` over the Unix socket.
    pub fn admin(&self, db: &str) -> postgres::Client {
        postgres::Config::new()
            .host_path(self.socket_dir())
            .port(self.port)
            .user(ADMIN)
            .dbname(db)
            .connect(postgres::NoTls)
            .expect("admin connection")
    }

    /// Stops the server at once (as a crash would: `-m immediate`).
    pub fn stop(&self) {
        self.check(
            &mut self.pg_ctl(&["-m", "immediate", "-w", "stop"]),
            "pg_ctl stop",
        );
    }

    /// Starts it again after [`PgServer::stop`], on the same port and data.
    pub fn restart(&self) {
        self.start_server();
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self
            .pg_ctl(&["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .expect("append to postgresql.conf");
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}
