//! Tokens kept per authorization server (issuer) and resource: in memory, and optionally in a
//! file the program names, created owner-only (0600) and replaced atomically (a temporary file
//! in the same directory, synced, then renamed over it).
//!
//! Several processes may share one token file. Whatever changes it (a refresh, a new token, a
//! forgotten one) runs under an advisory lock of a sidecar file, `<token_file>.lock` (0600,
//! never removed: two processes must always lock the same file), and re-reads the file first:
//! a refresh uses the token another process refreshed meanwhile instead of spending a refresh
//! token that a rotating authorization server has already revoked, and a write merges into the
//! file's current contents, so the other processes' issuers and resources are kept and newer
//! tokens are never replaced by older ones. Readers take no lock: the file is only ever
//! replaced whole, by a rename, so it is read before or after a write, never halfway.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::Secret;
use crate::deadline::Deadline;

/// How often a locked token file is tried again while waiting for it.
const LOCK_POLL: Duration = Duration::from_millis(10);

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
    /// Held only to read or change the map, never across file I/O or the network.
    map: Mutex<Option<BTreeMap<String, Tokens>>>,
}

/// The token file's lock, held (by this process) until dropped; proof for [`Store::put`]. A
/// store without a file has nothing to lock and gets an empty one.
pub(crate) struct FileLock {
    file: Option<File>,
}

impl Drop for FileLock {
    fn drop(&mut self) {
        if let Some(file) = &self.file {
            // Closing the file releases the lock too; unlocking first says so.
            let _ = file.unlock();
        }
    }
}

fn key(issuer: &str, resource: &str) -> String {
    format!("{issuer} {resource}")
}

impl Store {
    pub(crate) fn new(file: Option<PathBuf>) -> Store {
        Store { file, map: Mutex::new(None) }
    }

    fn with_map<T>(&self, f: impl FnOnce(&mut BTreeMap<String, Tokens>) -> T) -> T {
        let loaded = {
            let guard = self.map.lock().unwrap_or_else(|e| e.into_inner());
            guard.is_some()
        };
        let initial = if loaded { None } else { Some(self.file.as_deref().and_then(read_file).unwrap_or_default()) };
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

    /// Reads the file again (cheap: one small file), so tokens another process wrote are seen:
    /// when it holds a valid map, that map is what this process knows from now on. No file, a
    /// missing or an invalid one: what is in memory stays.
    pub(crate) fn reload(&self) {
        let Some(read) = self.file.as_deref().and_then(read_file) else { return };
        *self.map.lock().unwrap_or_else(|e| e.into_inner()) = Some(read);
    }

    /// Locks the token file against the other processes (and the other authorizers of this
    /// one) that share it, waiting for it until `deadline`: a non-blocking `try_lock` tried
    /// again every few milliseconds, never a blocking lock that could outlive the deadline.
    pub(crate) fn lock(&self, deadline: Deadline) -> Result<FileLock, String> {
        let Some(path) = &self.file else { return Ok(FileLock { file: None }) };
        let lock_path = lock_path(path);
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options
            .open(&lock_path)
            .map_err(|e| format!("cannot open the token file's lock {}: {e}", lock_path.display()))?;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(FileLock { file: Some(file) }),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
                    log::warn!(
                        "op=- server=- token file {}: this platform has no file locks; processes sharing it may \
                         refresh the same token",
                        path.display()
                    );
                    return Ok(FileLock { file: None });
                }
                Err(TryLockError::Error(e)) => return Err(format!("cannot lock {}: {e}", lock_path.display())),
            }
            let left = deadline.remaining();
            if left.is_zero() {
                return Err(format!(
                    "token file {} is locked by another process (or another client of this one) renewing its \
                     tokens, and was not released before the deadline",
                    path.display()
                ));
            }
            std::thread::sleep(left.min(LOCK_POLL));
        }
    }

    /// Stores (or with `None` forgets) the tokens of `issuer` and `resource`. With a file, under
    /// its lock: the file is read again and the change merged into what it holds now (other
    /// issuers and resources, perhaps written by other processes, are kept), then written.
    pub(crate) fn put(
        &self,
        _locked: &FileLock,
        issuer: &str,
        resource: &str,
        tokens: Option<Tokens>,
    ) -> Result<(), String> {
        let change = |m: &mut BTreeMap<String, Tokens>| match tokens {
            Some(t) => m.insert(key(issuer, resource), t),
            None => m.remove(&key(issuer, resource)),
        };
        let Some(path) = &self.file else {
            self.with_map(change);
            return Ok(());
        };
        let mut merged = match read_file(path) {
            Some(current) => current,
            None => self.with_map(|m| m.clone()),
        };
        change(&mut merged);
        let written = write_file(path, &merged);
        *self.map.lock().unwrap_or_else(|e| e.into_inner()) = Some(merged);
        written
    }
}

/// The lock beside the token file: its name with `.lock` appended.
fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// The file's map; `None` when there is no file (or it cannot be read) or it is not valid.
fn read_file(path: &Path) -> Option<BTreeMap<String, Tokens>> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes)
        .map_err(|e| log::warn!("op=- server=- token file {} is not valid ({e}); not using it", path.display()))
        .ok()
}

/// Writes the map to a temporary file (mode 0600) beside `path`, syncs it, then renames it over
/// `path`.
fn write_file(path: &Path, map: &BTreeMap<String, Tokens>) -> Result<(), String> {
    let text = serde_json::to_vec_pretty(map).map_err(|e| format!("token file: {e}"))?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "tokens".into());
    let suffix = super::crypto::random_string(6).unwrap_or_else(|_| std::process::id().to_string());
    let tmp = dir.join(format!(".{name}.{suffix}.tmp"));
    let result = (|| {
        let mut options = OpenOptions::new();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory of this test, removed at the end.
    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            let dir = std::env::temp_dir().join(format!("mcp-store-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Dir(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn tokens(access: &str) -> Tokens {
        Tokens { access_token: Secret::new(access), refresh_token: None, refresh_at: None, scope: None }
    }

    #[test]
    fn a_lock_held_elsewhere_times_out_at_the_deadline_with_a_clear_error() {
        let dir = Dir::new("locked");
        let path = dir.0.join("tokens.json");
        let store = Store::new(Some(path.clone()));
        // Someone else (another process, here another open file) holds the lock.
        let other = File::create(lock_path(&path)).unwrap();
        other.lock().unwrap();
        let deadline = Deadline::after(Duration::from_millis(100));
        let err = store.lock(deadline).err().expect("the lock is not acquired while it is held");
        assert!(deadline.is_past(), "it waited until the deadline");
        assert!(err.contains(&format!("token file {} is locked by another process", path.display())), "{err}");
        // Released: acquired at once.
        other.unlock().unwrap();
        assert!(store.lock(Deadline::after(Duration::from_secs(10))).is_ok());
    }

    #[test]
    fn a_write_merges_into_what_another_process_wrote_and_the_lock_file_is_owner_only() {
        let dir = Dir::new("merge");
        let path = dir.0.join("tokens.json");
        let (a, b) = (Store::new(Some(path.clone())), Store::new(Some(path.clone())));
        let far = Deadline::after(Duration::from_secs(10));
        assert!(a.get("https://as", "https://r").is_none(), "a has read the (absent) file");
        b.put(&b.lock(far).unwrap(), "https://other", "https://r2", Some(tokens("b-1"))).unwrap();
        a.put(&a.lock(far).unwrap(), "https://as", "https://r", Some(tokens("a-1"))).unwrap();
        let fresh = Store::new(Some(path.clone()));
        assert_eq!(fresh.get("https://other", "https://r2").unwrap().access_token.expose(), "b-1");
        assert_eq!(fresh.get("https://as", "https://r").unwrap().access_token.expose(), "a-1");
        // b sees a's token once it reads the file again.
        assert!(b.get("https://as", "https://r").is_none());
        b.reload();
        assert_eq!(b.get("https://as", "https://r").unwrap().access_token.expose(), "a-1");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            for p in [path.clone(), lock_path(&path)] {
                assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600, "{}", p.display());
            }
        }
    }
}
