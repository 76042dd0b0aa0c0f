//! A temporary configuration directory copied from an example (which runs
//! the embedded emulator), and the real binary run inside it.

use super::process;
use assert_cmd::Command;
use std::path::{Path, PathBuf};

pub struct Workspace {
    pub dir: tempfile::TempDir,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == ".htapsync" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

impl Workspace {
    /// A fresh copy of `examples/NAME` (without any state it may have).
    pub fn example(name: &str) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name);
        copy_dir(&src, dir.path());
        Workspace { dir }
    }

    /// An empty directory.
    pub fn empty() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, contents: &str) {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(p, contents).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    /// Replaces `from` by `to` in a file; panics when `from` is absent.
    pub fn edit(&self, rel: &str, from: &str, to: &str) {
        let s = self.read(rel);
        assert!(s.contains(from), "{rel} does not contain {from:?}");
        self.write(rel, &s.replacen(from, to, 1));
    }

    /// The real binary, run with `-C` this directory, no colour, no ambient credentials.
    pub fn cmd(&self, args: &[&str]) -> Command {
        Command::from_std(self.std_cmd(args))
    }

    /// The same as [`Workspace::cmd`], as a std command (to spawn it).
    pub fn std_cmd(&self, args: &[&str]) -> std::process::Command {
        process::in_dir(self.dir.path(), args)
    }

    /// Runs the binary; returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        process::output(&mut self.std_cmd(args))
    }

    /// Runs the binary and asserts its exit code, showing its output otherwise.
    #[track_caller]
    pub fn run_ok(&self, args: &[&str], code: i32) -> String {
        process::run_expecting(self.std_cmd(args), args, code)
    }

    /// The state file of the examples, parsed.
    pub fn state(&self) -> serde_json::Value {
        serde_json::from_str(&self.read(".htapsync/htapsync.state.json")).unwrap()
    }
}
