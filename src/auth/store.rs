//! Tokens kept per authorization server (issuer) and resource: in memory, and optionally in a
//! file the program names, created owner-only (0600) and replaced atomically (temporary file in
//! the same directory, then rename).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::Secret;

/// One stored token set.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Tokens {
    pub access_token: Secret,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Secret>,
    /// Unix seconds after which the access token is refreshed (a margin before it expires).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_at: Option<u64>,
    /// The scopes granted (or requested, when the server did not say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl Tokens {
    /// Whether the access token is due for a refresh.
    pub(crate) fn stale(&self) -> bool {
        self.refresh_at.is_some_and(|at| now() >= at)
    }
}

pub(crate) fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The store: a map from `issuer resource` to tokens, mirrored to a file when one is named.
pub(crate) struct Store {
    file: Option<PathBuf>,
    map: Mutex<Option<BTreeMap<String, Tokens>>>,
    /// Serialises file writes (a local file, not the network; never held with `map`).
    writing: Mutex<()>,
}

fn key(issuer: &str, resource: &str) -> String {
    format!("{issuer} {resource}")
}

impl Store {
    pub(crate) fn new(file: Option<PathBuf>) -> Store {
        Store { file, map: Mutex::new(None), writing: Mutex::new(()) }
    }

    fn with_map<T>(&self, f: impl FnOnce(&mut BTreeMap<String, Tokens>) -> T) -> T {
        let loaded = {
            let guard = self.map.lock().unwrap_or_else(|e| e.into_inner());
            guard.is_some()
        };
        let initial = if loaded { None } else { Some(self.file.as_deref().map(read_file).unwrap_or_default()) };
        let mut guard = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let map = guard.get_or_insert_with(|| initial.unwrap_or_default());
        f(map)
    }

    /// The tokens for `issuer` and `resource`.
    pub(crate) fn get(&self, issuer: &str, resource: &str) -> Option<Tokens> {
        self.with_map(|m| m.get(&key(issuer, resource)).cloned())
    }

    /// Any tokens for `resource` (before discovery has named the issuer), with their issuer.
    pub(crate) fn any_for(&self, resource: &str) -> Option<(String, Tokens)> {
        self.with_map(|m| {
            m.iter().find_map(|(k, t)| {
                k.strip_suffix(&format!(" {resource}")).map(|issuer| (issuer.to_string(), t.clone()))
            })
        })
    }

    /// Stores (or with `None` forgets) the tokens, and writes the file if there is one.
    pub(crate) fn put(&self, issuer: &str, resource: &str, tokens: Option<Tokens>) -> Result<(), String> {
        let snapshot = self.with_map(|m| {
            match tokens {
                Some(t) => m.insert(key(issuer, resource), t),
                None => m.remove(&key(issuer, resource)),
            };
            m.clone()
        });
        let Some(path) = &self.file else { return Ok(()) };
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        write_file(path, &snapshot)
    }
}

fn read_file(path: &Path) -> BTreeMap<String, Tokens> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            log::warn!("op=- server=- token file {} is not valid ({e}); starting empty", path.display());
            BTreeMap::new()
        }),
        Err(_) => BTreeMap::new(),
    }
}

/// Writes the map to a temporary file (mode 0600) beside `path`, then renames it over `path`.
fn write_file(path: &Path, map: &BTreeMap<String, Tokens>) -> Result<(), String> {
    let text = serde_json::to_vec_pretty(map).map_err(|e| format!("token file: {e}"))?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "tokens".into());
    let suffix = super::crypto::random_string(6).unwrap_or_else(|_| std::process::id().to_string());
    let tmp = dir.join(format!(".{name}.{suffix}.tmp"));
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(&text)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write the token file {}: {e}", path.display())
    })
}
