//! The PostgreSQL state store against a real, throwaway server
//! (tests/support/postgres.rs): the write contract, compare-and-swap,
//! advisory locks that die with their holder, history, workspaces, schema
//! creation, TLS and passwords that never leak. Skipped by name without the
//! PostgreSQL binaries, mandatory in CI (`HTAPSYNC_REQUIRE_POSTGRES`).

mod support;

use htapsync::state::{
    Backend, LockGuard, PgSettings, PgStore, State, StateError, Store, TaskRecord,
};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use support::postgres::{PASSWORD, PASSWORD_USER, PgServer};

/// Generous: waits end as soon as the lock is free; this only bounds a hang.
const WAIT: Duration = Duration::from_secs(60);

/// `backend`'s lock for `operation` with no wait, taken in a thread of its
/// own: a lock held by another that is retried for ever (a broken deadline)
/// fails the test in seconds instead of hanging it.
#[allow(clippy::result_large_err)] // `Backend::lock`'s own result
fn lock_now(backend: &Arc<dyn Backend>, operation: &'static str) -> Result<LockGuard, StateError> {
    let (backend, (sent, result)) = (backend.clone(), std::sync::mpsc::channel());
    std::thread::spawn(move || sent.send(backend.lock(operation, Duration::ZERO)));
    result
        .recv_timeout(Duration::from_secs(20))
        .expect("a lock with no wait still retrying after 20 s")
}

/// A new role of `db` that may only read `schema` (an SQL identifier, quoted
/// if need be) and create nothing, and the settings it connects with.
fn reader(server: &PgServer, db: &str, schema: &str) -> (String, PgSettings) {
    let reader = format!("reader_{db}");
    server
        .admin(db)
        .batch_execute(&format!(
            "CREATE ROLE {reader} LOGIN; GRANT USAGE ON SCHEMA {schema} TO {reader};
             GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {reader};
             REVOKE CREATE ON DATABASE {db} FROM PUBLIC;"
        ))
        .unwrap();
    let port = server.port();
    let settings = server.settings_from(&[(
        "HTAPSYNC_PG_CONN",
        &format!("host=127.0.0.1 port={port} user={reader} dbname={db}"),
    )]);
    (reader, settings)
}

fn record(name: &str) -> TaskRecord {
    TaskRecord {
        spec: support::spec(name).build(),
        prevent_destroy: false,
        updated_at: String::new(),
    }
}

fn store(server: &PgServer, db: &str, schema: &str, history: u32) -> PgStore {
    PgStore::connect_with(&server.settings(db), schema, history).expect("connect")
}

/// The number of rows of `table` in `schema` for `workspace`.
fn rows(server: &PgServer, db: &str, table: &str, workspace: &str) -> i64 {
    server
        .admin(db)
        .query_one(
            &format!("SELECT count(*) FROM htapsync.{table} WHERE workspace = $1"),
            &[&workspace],
        )
        .expect("count")
        .get(0)
}

#[test]
fn state_round_trips_and_a_write_bumps_the_serial_only_when_tasks_or_intents_change() {
    let Some(server) = PgServer::shared("state_round_trips") else {
        return;
    };
    let db = server.database("round_trip");
    let store = store(server, &db, "htapsync", 20);
    let backend = store.open("default").unwrap();
    assert_eq!(backend.read().unwrap(), None);

    let mut state = State::new();
    let lineage = state.lineage.clone();
    state.tasks.insert("a".into(), record("a"));
    backend.write(&mut state).unwrap();
    assert_eq!(state.serial, 1);
    assert_eq!(state.lineage, lineage, "the lineage is kept");

    // Unchanged content: nothing written, no serial bump, no history row.
    backend.write(&mut state).unwrap();
    assert_eq!(state.serial, 1);
    assert_eq!(rows(server, &db, "state_history", "default"), 0);

    state.intents.push(htapsync::state::Intent {
        id: "i1".into(),
        address: record("b").spec.address(),
        operation: htapsync::state::IntentOp::Create,
        spec: record("b").spec,
        started_at: String::new(),
    });
    backend.write(&mut state).unwrap();
    assert_eq!(state.serial, 2, "an intent alone is a change");
    state.intents.clear();
    state.tasks.insert("b".into(), record("b"));
    backend.write(&mut state).unwrap();
    assert_eq!(state.serial, 3);

    // Another store (another process, another runner) reads exactly it back.
    let other = PgServer::settings(server, &db);
    let read_by_another = || {
        PgStore::connect_with(&other, "htapsync", 20)
            .unwrap()
            .open("default")
            .unwrap()
            .read()
            .unwrap()
    };
    assert_eq!(read_by_another(), Some(state.clone()));

    // A backend that never read compares with what is there: same content, no write.
    let fresh = store.open("default").unwrap();
    let mut same = state.clone();
    fresh.write(&mut same).unwrap();
    assert_eq!(same.serial, 3);
    // One backend is one command: it kept the version it found (there was none).
    assert_eq!(rows(server, &db, "state_history", "default"), 0);
    // Through the Unix socket (plain text: it never leaves this machine).
    let port = server.port().to_string();
    let socket = server.settings_from(&[
        ("PGHOST", server.socket_dir().to_str().unwrap()),
        ("PGPORT", &port),
        ("PGUSER", "postgres"),
        ("PGDATABASE", &db),
    ]);
    let over_socket = PgStore::connect_with(&socket, "htapsync", 20).unwrap();
    assert_eq!(
        over_socket.open("default").unwrap().read().unwrap(),
        Some(state.clone())
    );
    assert!(fresh.describe().starts_with(&format!(
        "postgresql://postgres@127.0.0.1:{}/{db} schema htapsync workspace default",
        server.port()
    )));

    // A removed task leaves the database too.
    state.tasks.remove("a");
    backend.write(&mut state).unwrap();
    assert_eq!(state.serial, 4);
    assert_eq!(read_by_another(), Some(state.clone()));

    // A row edited by hand into nonsense: the error names where the state lives.
    server
        .admin(&db)
        .execute(
            "UPDATE htapsync.state_tasks SET record = '{\"spec\": 1}' WHERE workspace = 'default'",
            &[],
        )
        .expect("update");
    let err = store.open("default").unwrap().read().unwrap_err();
    assert!(
        err.to_string()
            .contains("schema htapsync workspace default"),
        "{err}"
    );
}

#[test]
fn a_write_based_on_a_stale_serial_is_refused_and_writes_nothing() {
    let Some(server) = PgServer::shared("stale_serial") else {
        return;
    };
    let db = server.database("stale");
    let first = store(server, &db, "htapsync", 20).open("default").unwrap();
    let mut state = State::new();
    state.tasks.insert("a".into(), record("a"));
    first.write(&mut state).unwrap();

    // Two clients read serial 1, neither holding the lock.
    let second = store(server, &db, "htapsync", 20).open("default").unwrap();
    let mut theirs = second.read().unwrap().unwrap();
    let mut ours = first.read().unwrap().unwrap();
    theirs.tasks.insert("b".into(), record("b"));
    second.write(&mut theirs).unwrap();
    assert_eq!(theirs.serial, 2);

    ours.tasks.insert("c".into(), record("c"));
    let before = ours.clone();
    let err = first.write(&mut ours).unwrap_err();
    assert!(
        matches!(
            err,
            StateError::StaleSerial {
                expected: Some(1),
                found: Some(2),
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("serial 1") && message.contains("serial 2"),
        "{message}"
    );
    assert!(message.contains("htapsync plan") && message.contains("Nothing was written"));
    assert_eq!(ours, before, "the caller's state is left as it was");
    let stored = store(server, &db, "htapsync", 20)
        .open("default")
        .unwrap()
        .read()
        .unwrap()
        .unwrap();
    assert_eq!(stored, theirs, "the other client's write is not lost");
    assert_eq!(rows(server, &db, "state_history", "default"), 1);

    // Two first writers of a new workspace: the second finds a row it never saw.
    let a = store(server, &db, "htapsync", 20).open("new").unwrap();
    let b = store(server, &db, "htapsync", 20).open("new").unwrap();
    assert_eq!(a.read().unwrap(), None);
    assert_eq!(b.read().unwrap(), None);
    let mut sa = State::new();
    sa.tasks.insert("a".into(), record("a"));
    a.write(&mut sa).unwrap();
    let mut sb = State::new();
    sb.tasks.insert("b".into(), record("b"));
    let err = b.write(&mut sb).unwrap_err();
    assert!(
        matches!(
            err,
            StateError::StaleSerial {
                expected: None,
                found: Some(1),
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn the_lock_refuses_a_second_holder_naming_the_first_and_is_free_after_release() {
    let Some(server) = PgServer::shared("lock_refuses_second") else {
        return;
    };
    let db = server.database("lock");
    let one = store(server, &db, "htapsync", 20).open("prod").unwrap();
    let two = store(server, &db, "htapsync", 20).open("prod").unwrap();
    let guard = one.lock("apply", Duration::ZERO).unwrap();
    let err = lock_now(&two, "plan").unwrap_err();
    let StateError::Locked { info, .. } = &err else {
        panic!("{err:?}");
    };
    let info = info.as_ref().expect("the holder is named");
    assert_eq!(info.id, guard.info().id);
    assert_eq!(info.operation, "apply");
    let message = err.to_string();
    assert!(
        message.contains(&guard.info().id) && message.contains("workspace prod"),
        "{message}"
    );
    // Another workspace is another lock; the same backend cannot take it twice.
    let other = store(server, &db, "htapsync", 20).open("dev").unwrap();
    drop(other.lock("apply", Duration::ZERO).unwrap());
    assert!(matches!(
        lock_now(&one, "apply"),
        Err(StateError::Locked { .. })
    ));

    drop(guard);
    assert_eq!(
        rows(server, &db, "locks", "prod"),
        0,
        "record removed on release"
    );
    let again = two.lock("plan", Duration::ZERO).unwrap();

    // A waiter with a timeout gets the lock once its holder lets go.
    let waiter = std::thread::spawn(move || one.lock("apply", WAIT).map(|g| g.info().clone()));
    // The waiter is retrying while `again` is held; release it.
    std::thread::sleep(Duration::from_millis(200));
    drop(again);
    let info = waiter.join().unwrap().expect("the waiter gets the lock");
    assert_eq!(info.operation, "apply");
}

#[test]
fn the_lock_dies_with_its_holders_connection_and_the_holder_stops_writing() {
    let Some(server) = PgServer::shared("lock_dies_with_connection") else {
        return;
    };
    let db = server.database("lock_dies");
    let holder = store(server, &db, "htapsync", 20).open("default").unwrap();
    let mut state = holder.read().unwrap().unwrap_or_default();
    let guard = holder.lock("apply", Duration::ZERO).unwrap();
    let lock_id = guard.info().id.clone();
    let waiter = store(server, &db, "htapsync", 20).open("default").unwrap();
    assert!(matches!(
        lock_now(&waiter, "apply"),
        Err(StateError::Locked { .. })
    ));

    // The holder's session ends (crash, cut network): the server frees the lock.
    assert!(terminate_lock_holder(server, &db) >= 1);
    let taken = waiter.lock("apply", WAIT).expect("the lock is free again");
    let lock_row: String = server
        .admin(&db)
        .query_one("SELECT info FROM htapsync.locks", &[])
        .unwrap()
        .get(0);
    assert!(
        lock_row.contains(&taken.info().id) && !lock_row.contains(&lock_id),
        "the leftover record was replaced: {lock_row}"
    );

    // The old holder no longer holds anything, so it writes nothing.
    state.tasks.insert("a".into(), record("a"));
    let err = holder.write(&mut state).unwrap_err();
    assert!(
        matches!(err, StateError::PgConnectionLost { .. }),
        "{err:?}"
    );
    assert_eq!(state.serial, 0);
    assert!(
        err.to_string()
            .contains("released this command's state lock")
    );
    drop(guard);
}

/// Ends the session holding the state lock in `db`, as a crash or a cut network would.
fn terminate_lock_holder(server: &PgServer, db: &str) -> i64 {
    server
        .admin(db)
        .query_one(
            "SELECT count(pg_terminate_backend(l.pid)) FROM pg_locks l
             JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND a.datname = $1",
            &[&db],
        )
        .expect("terminate")
        .get(0)
}

/// Run by [`the_lock_is_released_when_its_holder_process_is_killed`] in a
/// child process: takes the lock through `HTAPSYNC_PG_CONN`, says so, waits.
#[test]
#[ignore = "helper process of the_lock_is_released_when_its_holder_process_is_killed"]
fn hold_the_lock_until_killed() {
    let Ok(schema) = std::env::var("HTAPSYNC_TEST_HOLD_SCHEMA") else {
        return;
    };
    let backend = PgStore::connect(&schema, 20)
        .unwrap()
        .open("default")
        .unwrap();
    let guard = backend.lock("apply", Duration::ZERO).unwrap();
    println!("LOCKED {}", guard.info().id);
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn the_lock_is_released_when_its_holder_process_is_killed() {
    let Some(server) = PgServer::shared("lock_released_when_holder_killed") else {
        return;
    };
    let db = server.database("killed");
    let mut child = Command::new(std::env::current_exe().unwrap());
    child
        .args([
            "--exact",
            "hold_the_lock_until_killed",
            "--ignored",
            "--nocapture",
        ])
        .env("HTAPSYNC_TEST_HOLD_SCHEMA", "htapsync")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("PG") {
            child.env_remove(k);
        }
    }
    for (k, v) in server.env_for(&db) {
        child.env(k, v);
    }
    let mut child = child.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let lock_id = loop {
        let line = lines.next().expect("the helper reports its lock").unwrap();
        if let Some(id) = line.strip_prefix("LOCKED ") {
            break id.to_string();
        }
    };
    let backend = store(server, &db, "htapsync", 20).open("default").unwrap();
    let err = lock_now(&backend, "apply").unwrap_err();
    assert!(
        matches!(&err, StateError::Locked { info: Some(info), .. } if info.id == lock_id),
        "{err:?}"
    );
    assert!(matches!(
        backend.force_unlock(&lock_id),
        Err(StateError::LockHeld { .. })
    ));
    child.kill().unwrap(); // SIGKILL: no cleanup runs in the holder
    child.wait().unwrap();
    let guard = backend
        .lock("apply", WAIT)
        .expect("no stale lock after the holder died");
    let held: i64 = server
        .admin(&db)
        .query_one(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(held, 1, "only the new holder's lock is left");
    drop(guard);
}

#[test]
fn force_unlock_removes_only_a_record_whose_holder_is_gone_and_whose_id_matches() {
    let Some(server) = PgServer::shared("force_unlock") else {
        return;
    };
    let db = server.database("force");
    let holder = store(server, &db, "htapsync", 20).open("default").unwrap();
    let guard = holder.lock("apply", Duration::ZERO).unwrap();
    let id = guard.info().id.clone();
    let other = store(server, &db, "htapsync", 20).open("default").unwrap();
    let err = other.force_unlock(&id).unwrap_err();
    assert!(matches!(err, StateError::LockHeld { .. }), "{err:?}");
    assert!(err.to_string().contains("Nothing was changed"));

    // The holder dies without releasing: its record stays, its lock does not.
    assert_eq!(terminate_lock_holder(server, &db), 1);
    std::mem::forget(guard); // its session is gone: nothing to release
    let wait_free = other.lock("probe", WAIT).unwrap();
    drop(wait_free); // took over and removed the leftover record
    // Leave a record again, as a dead holder does.
    let holder = store(server, &db, "htapsync", 20).open("default").unwrap();
    let guard = holder.lock("apply", Duration::ZERO).unwrap();
    let id = guard.info().id.clone();
    terminate_lock_holder(server, &db);
    std::mem::forget(guard);
    // The server ends the terminated session asynchronously; waiting for the
    // lock through a throwaway lock would remove the record, so wait on pg_locks.
    wait_until_no_advisory_lock(server, &db);
    assert_eq!(rows(server, &db, "locks", "default"), 1);

    let err = other.force_unlock("not-the-id").unwrap_err();
    assert!(
        matches!(&err, StateError::LockIdMismatch { actual, .. } if *actual == id),
        "{err:?}"
    );
    other.force_unlock(&id).unwrap();
    assert_eq!(rows(server, &db, "locks", "default"), 0);
    assert!(matches!(
        other.force_unlock(&id),
        Err(StateError::NotLocked { .. })
    ));
}

fn wait_until_no_advisory_lock(server: &PgServer, db: &str) {
    let mut admin = server.admin(db);
    for _ in 0..600 {
        let held: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                &[],
            )
            .unwrap()
            .get(0);
        if held == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the terminated session still holds its advisory lock");
}

#[test]
fn history_keeps_the_last_versions_and_any_of_them_can_be_read_back() {
    let Some(server) = PgServer::shared("history") else {
        return;
    };
    let db = server.database("history");
    let store = store(server, &db, "htapsync", 3);
    let mut state = State::new();
    let mut written = Vec::new();
    // Six commands, each writing twice: the history keeps what each found.
    for i in 0..6 {
        let run = store.open("default").unwrap();
        state
            .tasks
            .insert(format!("t{i}"), record(&format!("t{i}")));
        run.write(&mut state).unwrap();
        state.intents.push(htapsync::state::Intent {
            id: format!("i{i}"),
            address: record("x").spec.address(),
            operation: htapsync::state::IntentOp::Create,
            spec: record("x").spec,
            started_at: String::new(),
        });
        run.write(&mut state).unwrap();
        state.intents.clear();
        run.write(&mut state).unwrap();
        written.push(state.clone());
    }
    let backend = store.open("default").unwrap();
    let history = backend.history().unwrap();
    let serials: Vec<u64> = history.iter().map(|v| v.serial).collect();
    assert_eq!(
        serials,
        [18, 15, 12, 9],
        "the current one and the last 3 versions runs found"
    );
    assert_eq!(history[0].tasks, 6);
    assert_eq!(history[1].tasks, 5);
    assert!(history.iter().all(|v| v.lineage == state.lineage));
    assert!(
        history[0]
            .written_by
            .as_deref()
            .is_some_and(|w| w.contains('@'))
    );
    assert!(
        history[0].written_at.ends_with('Z'),
        "{}",
        history[0].written_at
    );
    for serial in [9, 12, 15, 18] {
        assert_eq!(
            backend.read_version(serial).unwrap().as_ref(),
            Some(&written[serial as usize / 3 - 1])
        );
    }
    assert_eq!(backend.read_version(6).unwrap(), None, "pruned");
    assert_eq!(backend.read_version(10).unwrap(), None, "not kept");
    assert_eq!(rows(server, &db, "state_history", "default"), 3);
}

#[test]
fn workspaces_are_listed_and_deleted_with_their_history_unless_default_or_locked() {
    let Some(server) = PgServer::shared("workspaces") else {
        return;
    };
    let db = server.database("workspaces");
    let store = store(server, &db, "htapsync", 20);
    assert_eq!(store.workspaces().unwrap(), ["default"]);
    for name in ["staging", "prod"] {
        let mut state = State::new();
        state.tasks.insert("a".into(), record("a"));
        store.open(name).unwrap().write(&mut state).unwrap();
        state.tasks.insert("b".into(), record("b"));
        store.open(name).unwrap().write(&mut state).unwrap();
    }
    assert_eq!(store.workspaces().unwrap(), ["default", "prod", "staging"]);
    assert!(matches!(
        store.delete_workspace("default"),
        Err(StateError::DefaultWorkspace)
    ));

    let holder = store.open("prod").unwrap();
    let guard = holder.lock("apply", Duration::ZERO).unwrap();
    assert!(matches!(
        store.delete_workspace("prod"),
        Err(StateError::Locked { .. })
    ));
    drop(guard);
    store.delete_workspace("prod").unwrap();
    assert_eq!(store.workspaces().unwrap(), ["default", "staging"]);
    for table in ["states", "state_history", "locks"] {
        assert_eq!(rows(server, &db, table, "prod"), 0, "{table}");
    }
    assert_eq!(rows(server, &db, "state_history", "staging"), 1);
}

#[test]
fn the_schema_is_created_once_even_by_concurrent_first_users() {
    let Some(server) = PgServer::shared("schema_creation") else {
        return;
    };
    let db = server.database("schema");
    let settings = server.settings(&db);
    let firsts: Vec<_> = (0..4)
        .map(|_| {
            let settings = settings.clone();
            std::thread::spawn(move || {
                PgStore::connect_with(&settings, "team state", 20).map(|_| ())
            })
        })
        .collect();
    for first in firsts {
        first.join().unwrap().expect("each first user succeeds");
    }
    PgStore::connect_with(&settings, "team state", 20).expect("again: nothing to do");
    let versions: Vec<i32> = server
        .admin(&db)
        .query("SELECT version FROM \"team state\".schema_version", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, [1]);

    // A newer htapsync's tables are refused, not written over.
    server
        .admin(&db)
        .batch_execute("INSERT INTO \"team state\".schema_version (version) VALUES (99)")
        .unwrap();
    // Also for a role that may only read: said before any attempt to
    // migrate, which such a role would see fail for want of privileges.
    let (_, as_reader) = reader(server, &db, "\"team state\"");
    for settings in [settings, as_reader] {
        let err = PgStore::connect_with(&settings, "team state", 20)
            .err()
            .expect("refused");
        assert!(
            matches!(err, StateError::PgSchemaNewer { found: 99, .. }),
            "{err:?}"
        );
    }
}

#[test]
fn passwords_never_appear_in_errors_or_descriptions() {
    let Some(server) = PgServer::shared("passwords_never_leak") else {
        return;
    };
    let db = server.database("passwords");
    let port = server.port().to_string();
    let wrong = "wrong-Pa55word-never-printed";
    let settings = server.settings_from(&[
        ("PGHOST", "127.0.0.1"),
        ("PGPORT", &port),
        ("PGUSER", PASSWORD_USER),
        ("PGDATABASE", &db),
        ("PGPASSWORD", wrong),
    ]);
    let err = PgStore::connect_with(&settings, "htapsync", 20)
        .err()
        .expect("wrong password");
    let shown = format!("{err}\n{err:?}\n{settings:?}\n{settings}");
    assert!(matches!(err, StateError::PgConnect { .. }), "{err:?}");
    assert!(shown.contains("password"), "names the cause: {shown}");
    assert!(shown.contains(PASSWORD_USER) && shown.contains(&port));
    assert!(!shown.contains(wrong), "{shown}");

    let url = format!("postgres://{PASSWORD_USER}:{PASSWORD}@127.0.0.1:{port}/{db}");
    let settings = server.settings_from(&[("HTAPSYNC_PG_CONN", &url)]);
    let store = PgStore::connect_with(&settings, "htapsync", 20).expect("right password");
    let backend = store.open("default").unwrap();
    let mut state = State::new();
    state.tasks.insert("a".into(), record("a"));
    backend.write(&mut state).unwrap();
    let shown = format!(
        "{}\n{}\n{settings:?}\n{settings}\n{:?}",
        store.describe(),
        backend.describe(),
        backend.history().unwrap()
    );
    assert!(!shown.contains(PASSWORD), "{shown}");
    let stored: String = server
        .admin(&db)
        .query_one(
            "SELECT string_agg(record, '') || (SELECT string_agg(intents || written_by, '')
               FROM htapsync.states) FROM htapsync.state_tasks",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(!stored.contains(PASSWORD));
}

#[test]
fn a_role_that_may_not_write_fails_check_writable_before_anything_is_done() {
    let Some(server) = PgServer::shared("check_writable") else {
        return;
    };
    let db = server.database("writable");
    store(server, &db, "htapsync", 20); // the tables exist
    let (reader, settings) = reader(server, &db, "htapsync");
    let port = server.port();
    let backend = PgStore::connect_with(&settings, "htapsync", 20)
        .unwrap()
        .open("default")
        .unwrap();
    assert_eq!(backend.read().unwrap(), None, "reading is allowed");
    let err = backend.check_writable().unwrap_err();
    assert!(matches!(err, StateError::PgNotWritable { .. }), "{err:?}");
    assert!(err.to_string().contains("Grant the role"), "{err}");
    let endpoint = format!("postgresql://{reader}@127.0.0.1:{port}/{db}");
    assert!(err.to_string().contains(&endpoint), "{err}");
    let mut state = State::new();
    state.tasks.insert("a".into(), record("a"));
    let err = backend.write(&mut state).unwrap_err();
    assert!(matches!(err, StateError::PgNotWritable { .. }), "{err:?}");
    assert_eq!(state.serial, 0);

    let writer = store(server, &db, "htapsync", 20).open("default").unwrap();
    writer.check_writable().unwrap();
}

#[test]
fn a_server_stopped_mid_run_fails_cleanly_and_a_new_run_after_restart_continues() {
    let Some(server) = PgServer::start("server_stopped_mid_run") else {
        return;
    };
    let db = server.database("stopped");
    let backend = store(&server, &db, "htapsync", 20).open("default").unwrap();
    let _guard = backend.lock("apply", Duration::ZERO).unwrap();
    let mut state = State::new();
    state.tasks.insert("a".into(), record("a"));
    backend.write(&mut state).unwrap();

    server.stop();
    assert!(backend.check_writable().is_err());
    state.tasks.insert("b".into(), record("b"));
    let err = backend.write(&mut state).unwrap_err();
    assert!(
        matches!(err, StateError::PgConnectionLost { .. }),
        "{err:?}"
    );
    assert_eq!(state.serial, 1, "not recorded, and the caller knows");
    let err = PgStore::connect_with(&server.settings(&db), "htapsync", 20)
        .err()
        .unwrap();
    assert!(matches!(err, StateError::PgConnect { .. }), "{err:?}");
    assert!(err.to_string().contains("Nothing was changed"));

    server.restart();
    let again = store(&server, &db, "htapsync", 20).open("default").unwrap();
    let _lock = again
        .lock("apply", WAIT)
        .expect("no stale lock after the restart");
    let mut current = again.read().unwrap().unwrap();
    assert_eq!(current.serial, 1);
    assert_eq!(current.tasks.len(), 1);
    current.tasks.insert("b".into(), record("b"));
    again.write(&mut current).unwrap();
    assert_eq!(current.serial, 2);
}

// ---- TLS ----

#[test]
fn tls_verify_full_trusts_a_private_ca_and_refuses_another_ca_or_name() {
    let certs = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    if !(support::tls::private_ca(certs.path(), "htapsync test CA")
        && support::tls::private_ca(other.path(), "another CA"))
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "the openssl command is needed in CI"
        );
        eprintln!(
            "SKIPPED tls_verify_full_trusts_a_private_ca: the openssl command is not available"
        );
        return;
    }
    let options = support::postgres::Options {
        tls: Some((certs.path().join("leaf.pem"), certs.path().join("leaf.key"))),
    };
    let Some(server) = PgServer::start_with("tls_verify_full", options) else {
        return;
    };
    let db = server.database("tls");
    let port = server.port().to_string();
    let conn = |host: &str, mode: &str, ca: &Path| {
        server.settings_from(&[
            (
                "HTAPSYNC_PG_CONN",
                &format!("host={host} port={port} user=postgres dbname={db} sslmode={mode}"),
            ),
            ("PGSSLROOTCERT", ca.to_str().unwrap()),
        ])
    };
    let ca = certs.path().join("ca.pem");
    let store = PgStore::connect_with(&conn("127.0.0.1", "verify-full", &ca), "htapsync", 20)
        .expect("verify-full with the private CA");
    let backend = store.open("default").unwrap();
    let mut state = State::new();
    state.tasks.insert("a".into(), record("a"));
    backend.write(&mut state).unwrap();
    let encrypted: i64 = server
        .admin(&db)
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE a.application_name = 'htapsync' AND s.ssl",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(encrypted, 1, "the backend's session is encrypted");

    let err = PgStore::connect_with(
        &conn("127.0.0.1", "verify-full", &other.path().join("ca.pem")),
        "htapsync",
        20,
    )
    .err()
    .expect("a certificate of another CA is refused");
    assert!(matches!(err, StateError::PgConnect { .. }), "{err:?}");
    assert!(err.to_string().contains("PGSSLROOTCERT"), "{err}");

    // The certificate names 127.0.0.1, not localhost: verify-ca accepts, verify-full refuses.
    PgStore::connect_with(&conn("localhost", "verify-ca", &ca), "htapsync", 20)
        .expect("verify-ca checks the chain only");
    assert!(PgStore::connect_with(&conn("localhost", "verify-full", &ca), "htapsync", 20).is_err());
    // require: encrypted, not verified (libpq), with no CA file.
    let require = server.settings_from(&[(
        "HTAPSYNC_PG_CONN",
        &format!("host=127.0.0.1 port={port} user=postgres dbname={db} sslmode=require"),
    )]);
    PgStore::connect_with(&require, "htapsync", 20).expect("require");
}

#[test]
fn without_the_binaries_a_test_is_skipped_by_name_or_fails_when_required() {
    assert!(support::postgres::decide("some_test", true, true));
    assert!(!support::postgres::decide("some_test", false, false));
    let failure = std::panic::catch_unwind(|| support::postgres::decide("some_test", false, true))
        .expect_err("required: a failure, never a silent pass");
    let message = failure
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.starts_with(&support::postgres::skip_line("some_test")),
        "{message}"
    );
    assert!(message.contains("apt-get install -y postgresql"));
}

/// `Backend` is called from inside tokio workers too (plan, apply); the
/// session lives on a thread of its own, so it works there without
/// `block_in_place` (the sync client alone panics inside a runtime).
#[test]
fn the_backend_works_from_inside_a_tokio_runtime() {
    let Some(server) = PgServer::shared("backend_inside_tokio") else {
        return;
    };
    let db = server.database("tokio");
    let settings = server.settings(&db);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let versions = runtime.block_on(async move {
        let store = PgStore::connect_with(&settings, "htapsync", 20).unwrap();
        let backend = store.open("default").unwrap();
        let guard = backend.lock("apply", Duration::ZERO).unwrap();
        let mut state = backend.read().unwrap().unwrap_or_default();
        state.tasks.insert("a".into(), record("a"));
        backend.write(&mut state).unwrap();
        backend.check_writable().unwrap();
        drop(guard);
        tokio::spawn(async move { backend.history().map(|h| h.len()) })
            .await
            .unwrap()
    });
    assert_eq!(versions.unwrap(), 1);
}

/// A server that takes the connection and never answers (a wedged server, a
/// port that is not PostgreSQL's): `connect_timeout` bounds the whole
/// connection, as in libpq, so the command fails instead of hanging. Needs no
/// PostgreSQL: a bare listener plays the server.
#[test]
fn a_server_that_never_answers_fails_the_connection_after_connect_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let (socket, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_secs(5));
        drop(socket);
    });
    let conn = format!("host=127.0.0.1 port={port} user=u dbname=d connect_timeout=1");
    let settings = PgSettings::from_lookup(|name| {
        (name == htapsync::state::PG_CONN_VAR).then(|| conn.clone())
    })
    .unwrap();
    let started = std::time::Instant::now();
    let err = PgStore::connect_with(&settings, "htapsync", 20)
        .err()
        .expect("refused");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, StateError::PgConnect { .. }), "{err:?}");
    assert!(err.to_string().contains("connect_timeout (1s)"), "{err}");
    held.join().unwrap();
}
