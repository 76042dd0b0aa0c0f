//! What a pull request's configuration can make htapsync read, print or send
//! (issue 17, items 1, 2 and 7; issue 10, item 10), through the real binary:
//! paths in configuration files stay inside the configuration directory and
//! errors about the files they name quote nothing of them; credentials go only
//! to official hosts, loopback or hosts allowed outside the repository; and no
//! secret from a URL, a credentials file or the environment reaches the output.

mod support;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use support::Workspace;

const SECRET: &str = "S3CRET-d41d8cd98f00b204";

/// The quick start with `endpoint` replaced (and the emulator keys removed
/// unless it stays `embedded`).
fn quickstart(endpoint: &str) -> Workspace {
    let ws = Workspace::example("quickstart");
    if endpoint != "embedded" {
        let config = ws.read("htapsync.toml");
        let config: Vec<&str> = config
            .lines()
            .filter(|l| !l.starts_with("emulator_"))
            .collect();
        ws.write("htapsync.toml", &config.join("\n"));
        ws.edit(
            "htapsync.toml",
            "endpoint = \"embedded\"",
            &format!("endpoint = {endpoint:?}"),
        );
    }
    ws
}

/// 1-based line and column of `needle`'s first character in `text`.
fn position(text: &str, needle: &str) -> String {
    let at = text.find(needle).expect("needle present");
    let line = text[..at].matches('\n').count() + 1;
    let column = at - text[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("{line}:{column}")
}

/// Runs every args list and asserts each exits `code` without `secret` in
/// stdout or stderr; returns all output, for further checks.
#[track_caller]
fn run_all(
    ws: &Workspace,
    runs: &[&[&str]],
    envs: &[(&str, &str)],
    code: i32,
    secret: &str,
) -> String {
    let mut all = String::new();
    for args in runs {
        let mut cmd = ws.std_cmd(args);
        cmd.envs(envs.iter().copied());
        let out = cmd.output().unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        );
        for text in [&stdout, &stderr] {
            assert!(
                !text.contains(secret),
                "{args:?} printed the secret:\n{text}"
            );
        }
        all.push_str(&stdout);
        all.push_str(&stderr);
    }
    all
}

const VALIDATE_AND_PLAN: &[&[&str]] = &[
    &["validate"],
    &["validate", "--json"],
    &["plan"],
    &["plan", "--json"],
];

// ---- 1. paths named in configuration files --------------------------------

#[test]
fn emulator_cloud_outside_the_directory_never_prints_the_environment() {
    let ws = quickstart("embedded");
    ws.edit("htapsync.toml", "cloud/cloud.toml", "/proc/self/environ");
    let at = position(&ws.read("htapsync.toml"), "\"/proc/self/environ\"");
    let out = run_all(
        &ws,
        VALIDATE_AND_PLAN,
        &[("HTAPSYNC_TEST_SECRET", SECRET)],
        1,
        SECRET,
    );
    assert!(
        out.contains("`emulator_cloud` must name a file inside the configuration directory"),
        "{out}"
    );
    assert!(out.contains(&format!("htapsync.toml:{at}")), "{out}");
}

#[test]
fn parent_dirs_and_symlinks_out_of_the_directory_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    let secret_json = outside.path().join("secret.json");
    std::fs::write(&secret_json, format!("\"{SECRET}\"")).unwrap();

    // `..` out of the directory, for the state file.
    let ws = quickstart("embedded");
    let relative = format!("../{}/secret.json", outside.path().display());
    ws.edit(
        "htapsync.toml",
        "path = \".htapsync/htapsync.state.json\"",
        &format!("path = {relative:?}"),
    );
    let out = run_all(&ws, VALIDATE_AND_PLAN, &[], 1, SECRET);
    assert!(
        out.contains("`[state] path` must name a file inside"),
        "{out}"
    );

    // A symlink inside the directory that leads out of it, for the data file.
    let ws = quickstart("embedded");
    std::os::unix::fs::symlink(&secret_json, ws.path("data.json")).unwrap();
    ws.edit("htapsync.toml", ".htapsync/cloud.json", "data.json");
    let out = run_all(&ws, VALIDATE_AND_PLAN, &[], 1, SECRET);
    assert!(
        out.contains("`emulator_data` must name a file inside"),
        "{out}"
    );

    // A DDL file listed by the cloud file, outside the directory.
    let ws = quickstart("embedded");
    let cloud = ws.read("cloud/cloud.toml");
    let first_ddl = cloud
        .lines()
        .find(|l| l.trim_start().starts_with("ddl"))
        .expect("the quick start's cloud file lists DDL files");
    ws.edit(
        "cloud/cloud.toml",
        first_ddl,
        "ddl = [\"/proc/self/environ\"]",
    );
    let out = run_all(
        &ws,
        VALIDATE_AND_PLAN,
        &[("HTAPSYNC_TEST_SECRET", SECRET)],
        1,
        SECRET,
    );
    assert!(
        out.contains("must be inside the configuration directory"),
        "{out}"
    );

    // A CA file outside the directory.
    let ws = quickstart("embedded");
    ws.edit(
        "htapsync.toml",
        "region = ",
        "ca_file = \"/proc/self/environ\"\nregion = ",
    );
    let out = run_all(
        &ws,
        VALIDATE_AND_PLAN,
        &[("HTAPSYNC_TEST_SECRET", SECRET)],
        1,
        SECRET,
    );
    assert!(out.contains("`ca_file` must name a file inside"), "{out}");
}

#[test]
fn a_state_file_outside_the_directory_may_come_from_the_command_line() {
    let ws = quickstart("embedded");
    let outside = tempfile::tempdir().unwrap();
    let state = outside.path().join("state.json");
    let state = state.to_str().unwrap();
    let out = run_all(
        &ws,
        &[&["--state", state, "apply", "--auto-approve"]],
        &[],
        0,
        SECRET,
    );
    assert!(out.contains("Apply complete"), "{out}");
    assert!(std::path::Path::new(state).is_file());
}

#[test]
fn decode_errors_of_named_files_quote_nothing_of_them() {
    // A state file holding a JSON string: serde would echo it.
    let ws = quickstart("embedded");
    ws.write(".htapsync/htapsync.state.json", &format!("\"{SECRET}\""));
    let out = run_all(&ws, &[&["plan"], &["plan", "--json"]], &[], 1, SECRET);
    assert!(out.contains("htapsync.state.json:1:"), "{out}");
    assert!(out.contains("invalid type"), "{out}");

    // An emulator data file with a wrongly typed value.
    let ws = quickstart("embedded");
    ws.write(
        ".htapsync/cloud.json",
        &format!("{{\"version\": \"{SECRET}\"}}"),
    );
    let out = run_all(&ws, &[&["plan"], &["plan", "--json"]], &[], 1, SECRET);
    assert!(out.contains("invalid emulator data file"), "{out}");

    // A cloud file that is not TOML: the parser would show the line.
    let ws = quickstart("embedded");
    ws.write("cloud/cloud.toml", &format!("password = {SECRET}\n"));
    let out = run_all(&ws, VALIDATE_AND_PLAN, &[], 1, SECRET);
    assert!(out.contains("line 1"), "{out}");

    // A cloud file whose value has the wrong type: serde would echo it.
    let ws = quickstart("embedded");
    ws.write(
        "cloud/cloud.toml",
        &format!("project_id = [\"{SECRET}\"]\n"),
    );
    let out = run_all(&ws, &[&["plan"], &["plan", "--json"]], &[], 1, SECRET);
    assert!(out.contains("invalid cloud file"), "{out}");

    // A DDL file the SQL parser cannot read: it would name the token it found.
    let ws = quickstart("embedded");
    let token = "S3CRETd41d8cd98f00b204";
    ws.write("cloud/ddl/shop.sql", &format!("{token} shop;\n"));
    let out = run_all(&ws, &[&["plan"], &["plan", "--json"]], &[], 1, token);
    assert!(out.contains("cannot parse DDL file"), "{out}");
    assert!(out.contains("Line: 1, Column: 1"), "{out}");
}

// ---- 2. where credentials may be sent -------------------------------------

/// A TCP listener on loopback that counts connections and drops each one.
struct Listener {
    port: u16,
    connections: Arc<AtomicUsize>,
    listener: TcpListener,
}

fn listener() -> Listener {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let (accepting, counter) = (listener.try_clone().unwrap(), connections.clone());
    std::thread::spawn(move || {
        for stream in accepting.incoming() {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    Listener {
        port,
        connections,
        listener,
    }
}

impl Listener {
    /// Connections made so far, including any still waiting to be accepted.
    fn count(&self) -> usize {
        self.listener.set_nonblocking(true).unwrap();
        let waiting = match self.listener.accept() {
            Ok(_) => 1,
            Err(e) if e.kind() == ErrorKind::WouldBlock => 0,
            Err(e) => panic!("{e}"),
        };
        self.connections.load(Ordering::SeqCst) + waiting
    }
}

const TOKEN: (&str, &str) = ("HTAPSYNC_TOKEN", SECRET);

#[test]
fn an_endpoint_outside_official_hosts_is_refused_before_any_request() {
    let ws = quickstart("https://evil.example.com");
    let at = position(&ws.read("htapsync.toml"), "\"https://evil.example.com\"");
    let out = run_all(&ws, &[&["plan"], &["plan", "--json"]], &[TOKEN], 1, SECRET);
    assert!(out.contains("`endpoint` at "), "{out}");
    assert!(out.contains(&format!("htapsync.toml:{at}")), "{out}");
    assert!(
        out.contains("credentials may not be sent to `evil.example.com`"),
        "{out}"
    );
    assert!(out.contains("HTAPSYNC_ALLOWED_ENDPOINTS"), "{out}");

    // 0.0.0.0 reaches the local listener but is neither loopback nor official.
    let server = listener();
    let ws = quickstart(&format!("https://0.0.0.0:{}", server.port));
    let out = run_all(&ws, &[&["plan"], &["status"]], &[TOKEN], 1, SECRET);
    assert!(
        out.contains("credentials may not be sent to `0.0.0.0`"),
        "{out}"
    );
    assert_eq!(server.count(), 0, "a request was made");
}

#[test]
fn hosts_allowed_outside_the_repository_get_past_the_check() {
    let server = listener();
    let ws = quickstart(&format!("https://0.0.0.0:{}", server.port));
    let timeout = ("HTAPSYNC_REQUEST_TIMEOUT", "2s");
    let budget = ("HTAPSYNC_RETRY_MAX_ELAPSED", "3s");
    let out = run_all(
        &ws,
        &[&["plan"]],
        &[
            TOKEN,
            timeout,
            budget,
            (
                "HTAPSYNC_ALLOWED_ENDPOINTS",
                "gaussdb.corp.example, 0.0.0.0",
            ),
        ],
        1,
        SECRET,
    );
    assert!(!out.contains("credentials may not be sent"), "{out}");
    let after_env = server.count();
    assert!(after_env > 0, "no connection was made:\n{out}");

    let out = run_all(
        &ws,
        &[&["--allow-endpoint", "0.0.0.0", "plan"]],
        &[TOKEN, timeout, budget],
        1,
        SECRET,
    );
    assert!(!out.contains("credentials may not be sent"), "{out}");
    assert!(server.count() > after_env, "no connection was made:\n{out}");
}

#[test]
fn the_iam_host_derived_for_passwords_is_checked_too() {
    let ws = quickstart("https://gaussdb.corp.example");
    let password = [
        ("HTAPSYNC_USERNAME", "alice"),
        ("HTAPSYNC_PASSWORD", SECRET),
        ("HTAPSYNC_DOMAIN", "acme"),
        ("HTAPSYNC_ALLOWED_ENDPOINTS", "gaussdb.corp.example"),
    ];
    let out = run_all(&ws, &[&["plan"]], &password, 1, SECRET);
    assert!(
        out.contains("IAM endpoint derived from `endpoint`"),
        "{out}"
    );
    assert!(
        out.contains("credentials may not be sent to `iam.corp.example`"),
        "{out}"
    );
}

// ---- 3. secrets in error messages -----------------------------------------

#[test]
fn user_info_in_the_endpoint_is_refused_and_never_printed() {
    let endpoint = format!("http://alice:{SECRET}@127.0.0.1:9");
    let ws = quickstart(&endpoint);
    let at = position(&ws.read("htapsync.toml"), &format!("{endpoint:?}"));
    let out = run_all(&ws, VALIDATE_AND_PLAN, &[TOKEN], 1, SECRET);
    assert!(out.contains("user info"), "{out}");
    assert!(out.contains("http://***@127.0.0.1:9"), "{out}");
    assert!(out.contains(&format!("htapsync.toml:{at}")), "{out}");
}

#[test]
fn validate_refuses_a_path_query_or_fragment_in_the_endpoint() {
    for endpoint in [
        "https://gaussdb.ap-southeast-1.myhuaweicloud.com/v3",
        "https://gaussdb.ap-southeast-1.myhuaweicloud.com?x=1",
        "https://gaussdb.ap-southeast-1.myhuaweicloud.com#x",
    ] {
        let ws = quickstart(endpoint);
        let out = run_all(&ws, &[&["validate"]], &[], 1, SECRET);
        assert!(out.contains("path, query or fragment"), "{endpoint}: {out}");
    }
}

/// A credentials file outside any repository, mode 0600.
fn credentials_file(contents: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.toml");
    std::fs::write(&path, contents).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let path = path.to_str().unwrap().to_string();
    (dir, path)
}

#[test]
fn a_wrongly_typed_credential_is_named_but_never_echoed() {
    let ws = quickstart("http://127.0.0.1:9");
    let number = "31415926535";
    for contents in [
        format!("[default]\nusername = \"u\"\npassword = {number}\ndomain = \"d\"\n"),
        format!("[default]\ntoken = [{number}]\n"),
        format!("default = {number}\n"),
    ] {
        let (_dir, path) = credentials_file(&contents);
        let env = [("HTAPSYNC_CREDENTIALS_FILE", path.as_str())];
        let out = run_all(&ws, &[&["plan"], &["plan", "--json"]], &env, 1, number);
        assert!(out.contains("profile [default]"), "{out}");
    }
    let (_dir, path) = credentials_file(&format!("[default]\npassword = {number}\n"));
    let env = [("HTAPSYNC_CREDENTIALS_FILE", path.as_str())];
    let out = run_all(&ws, &[&["plan"]], &env, 1, number);
    assert!(
        out.contains("`password` in profile [default] must be a string, found integer"),
        "{out}"
    );
}

#[test]
fn a_credentials_file_in_the_configuration_directory_is_refused_unread() {
    for contents in [
        format!("[default]\ntoken = \"{SECRET}\"\n"),
        format!("[default]\naccess_key = \"AK\"\nsecret_key = \"{SECRET}\"\n"),
        // Broken TOML: a syntax error would show the line.
        format!("[default]\ntoken = {SECRET}\n"),
        format!("sk = \"{SECRET}\"\n"),
    ] {
        let ws = quickstart("embedded");
        ws.write("credentials.toml", &contents);
        let runs: &[&[&str]] = &[
            &["validate"],
            &["validate", "--json"],
            &["plan"],
            &["plan", "--json"],
            &["fmt", "--check", "--diff"],
        ];
        let out = run_all(&ws, &runs[..4], &[], 1, SECRET);
        assert!(
            out.contains("credentials.toml looks like a credentials file; keep credentials outside the configuration directory"),
            "{out}"
        );
        run_all(&ws, &runs[4..], &[], 1, SECRET);
    }
}

#[test]
fn a_table_named_like_a_credential_is_still_configuration() {
    let ws = quickstart("embedded");
    ws.edit(
        "htapsync.toml",
        "orders = \"order by id\"",
        "orders = \"order by id\"\ntoken = \"order by id\"",
    );
    ws.edit(
        "htapsync.toml",
        "tables = [\"orders\", ",
        "tables = [\"orders\", \"token\", ",
    );
    let out = ws.run(&["validate"]);
    assert!(!out.2.contains("looks like a credentials file"), "{out:?}");
}

#[test]
fn the_repository_check_uses_the_configuration_directory() {
    let root = tempfile::tempdir().unwrap();
    let repo = root.path().join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    let ws = quickstart("http://127.0.0.1:9");
    let config = repo.join("cfg");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::copy(ws.path("htapsync.toml"), config.join("htapsync.toml")).unwrap();
    let creds = repo.join("credentials.toml");
    std::fs::write(&creds, format!("[default]\ntoken = \"{SECRET}\"\n")).unwrap();
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).unwrap();
    let elsewhere = root.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();

    let out = support::clean_cmd()
        .current_dir(&elsewhere)
        .env("HTAPSYNC_CREDENTIALS_FILE", &creds)
        .arg("-C")
        .arg(&config)
        .arg("plan")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is inside the git repository"), "{stderr}");
    assert!(!stderr.contains(SECRET), "{stderr}");
}
