//! The stdio test server (`mcp-test-server`) as a config, and what tests check about the
//! processes it runs as.

#![allow(dead_code)] // reason: each test file uses a different part of this module

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mcp_orchestrator::{ServerConfig, Transport};

/// The binary built with this package (feature `testing`).
pub const TEST_SERVER: &str = env!("CARGO_BIN_EXE_mcp-test-server");

/// A `mcp-test-server` with these flags, as a server config (timeout 10 s).
pub fn config(name: &str, flags: &[&str]) -> ServerConfig {
    let mut args: Vec<String> = vec!["--name".into(), name.into()];
    args.extend(flags.iter().map(|a| a.to_string()));
    let mut c = ServerConfig::new(
        name,
        Transport::Stdio { command: TEST_SERVER.into(), args, env: BTreeMap::new(), cwd: None },
    );
    c.timeout = Duration::from_secs(10);
    c
}

/// A fresh scratch directory for one test (removed on drop).
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(what: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("mcp-orch-{what}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    /// A path in the directory, as a string for a flag.
    pub fn path(&self, file: &str) -> String {
        self.0.join(file).to_string_lossy().into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `(pid, grandchild pid or 0)` a server wrote to its `--pid-file`, once it is there.
pub fn pids(path: &str) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string(path).ok()?;
    let (a, b) = text.trim().split_once(' ')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Whether a process with this pid exists at all (running, or a zombie not yet reaped).
pub fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Whether a process with this pid exists and is not a zombie (an orphan that was killed may
/// stay a zombie where nothing reaps orphans; it no longer runs).
pub fn running(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with(['Z', 'X']))
}

/// The names of this process's threads that start with `prefix` (Linux truncates a thread's
/// name to 15 bytes).
pub fn threads(prefix: &str) -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return Vec::new() };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_string())
        .filter(|name| name.starts_with(prefix))
        .collect()
}
