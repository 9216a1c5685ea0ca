//! A stdio server's process: it leads its own process group, so that a signal reaches what it
//! started too (a launcher such as `npx` or `uv run` and the server under it).
//!
//! The leader's exit is observed without reaping it (`waitid` with `WNOWAIT`): until it is
//! reaped its pid, which is the group's id, cannot be reused, so signalling the group can never
//! hit a stranger. Only [`GroupChild::reap`] reaps, after the last signal. Signals are sent with
//! `kill(2)` directly (no `kill` utility, no subprocess). The lock on the child is held for one
//! non-blocking system call at a time, never across a wait or a sleep.
//!
//! [`Processes`] is the set of children that one `initialize` started, so that fail-fast and
//! `close()` can end those whose connect is still in flight.

use std::process::{Child, ExitStatus};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::op::OpId;

/// How often a wait for a child's exit looks again.
const POLL: Duration = Duration::from_millis(10);

/// A signal for a whole process group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Asks politely (`SIGTERM`).
    Term,
    /// Ends it (`SIGKILL`).
    Kill,
}

struct Inner {
    child: Child,
    /// Set once the leader is reaped: from then on its pid may belong to anyone.
    reaped: Option<ExitStatus>,
}

/// A child process that leads its own process group.
pub(crate) struct GroupChild {
    inner: Mutex<Inner>,
    pid: u32,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere cannot leave a Child or an Option inconsistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl GroupChild {
    /// Wraps a child spawned with `process_group(0)`.
    pub(crate) fn new(child: Child) -> GroupChild {
        let pid = child.id();
        GroupChild { inner: Mutex::new(Inner { child, reaped: None }), pid }
    }

    /// The leader's pid (and the group's id).
    pub(crate) fn id(&self) -> u32 {
        self.pid
    }

    /// How the leader ended (`exit status: 3`, `signal: 9`), if it has; it is not reaped.
    pub(crate) fn exited(&self) -> Option<String> {
        let mut inner = lock(&self.inner);
        if let Some(status) = inner.reaped {
            return Some(status.to_string());
        }
        #[cfg(unix)]
        {
            use rustix::process::{Pid, WaitId, WaitIdOptions, waitid};
            let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
            if let Some(pid) = i32::try_from(self.pid).ok().and_then(Pid::from_raw) {
                match waitid(WaitId::Pid(pid), options) {
                    Ok(Some(status)) => {
                        return Some(match (status.exit_status(), status.terminating_signal()) {
                            (Some(code), _) => format!("exit status: {code}"),
                            (None, Some(signal)) => format!("signal: {signal}"),
                            (None, None) => "ended".to_string(),
                        });
                    }
                    Ok(None) => return None,
                    // Not our child any more (cannot happen: only `reap` reaps); fall through.
                    Err(_) => {}
                }
            }
        }
        // Without `waitid`, seeing the exit means reaping it.
        let status = inner.child.try_wait().ok().flatten()?;
        inner.reaped = Some(status);
        Some(status.to_string())
    }

    /// Polls [`exited`](Self::exited) until `bound` passes; the lock is not held while waiting.
    pub(crate) fn wait_exited(&self, bound: Duration) -> Option<String> {
        let deadline = crate::transport::deadline_in(bound);
        loop {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            std::thread::sleep(left.min(POLL));
        }
    }

    /// Sends `signal` to every process of the group, unless the leader is already reaped (then
    /// its id may be someone else's). Best effort: a group that is gone is not an error.
    pub(crate) fn signal(&self, signal: Signal) {
        let mut inner = lock(&self.inner);
        if inner.reaped.is_some() {
            return;
        }
        #[cfg(unix)]
        {
            use rustix::process::{Pid, Signal as Sig, kill_process_group};
            let sig = match signal {
                Signal::Term => Sig::TERM,
                Signal::Kill => Sig::KILL,
            };
            if let Some(pid) = i32::try_from(self.pid).ok().and_then(Pid::from_raw) {
                let _ = kill_process_group(pid, sig);
            }
        }
        if signal == Signal::Kill {
            // The leader itself in any case (and the only process to kill where there are no
            // groups).
            let _ = inner.child.kill();
        }
    }

    /// Whether the leader has been reaped (nothing left to signal or wait for).
    pub(crate) fn is_reaped(&self) -> bool {
        lock(&self.inner).reaped.is_some()
    }

    /// Reaps the leader if it has exited; its status.
    pub(crate) fn reap(&self) -> Option<ExitStatus> {
        let mut inner = lock(&self.inner);
        if inner.reaped.is_none() {
            inner.reaped = inner.child.try_wait().ok().flatten();
        }
        inner.reaped
    }

    /// Kills the group and reaps the leader, waiting for its exit at most `bound`. Whether it
    /// was reaped.
    pub(crate) fn kill_and_reap(&self, bound: Duration) -> bool {
        self.signal(Signal::Kill);
        self.wait_exited(bound);
        self.reap().is_some()
    }
}

/// The children one `initialize` started, by the operation id of their connect.
#[derive(Default)]
pub(crate) struct Processes {
    state: Mutex<ProcessesState>,
    /// Signalled when a spawn in progress has ended (registered or failed).
    spawned: Condvar,
}

struct Entry {
    op: OpId,
    child: Arc<GroupChild>,
    /// Its connect succeeded: a session owns it and closes it gracefully.
    owned: bool,
}

#[derive(Default)]
struct ProcessesState {
    aborted: bool,
    /// Spawns in progress: [`reap_all`](Processes::reap_all) waits for them to register.
    spawning: usize,
    children: Vec<Entry>,
}

/// A spawn in progress that [`Processes`] knows of: register its child, or drop it.
pub(crate) struct Slot<'a> {
    processes: &'a Processes,
    done: bool,
}

impl Slot<'_> {
    /// Records the child its connect `op` started. `false` when the set was aborted meanwhile:
    /// the caller must end the child itself (it is recorded all the same, so that
    /// [`reap_all`](Processes::reap_all) reaps it too).
    pub(crate) fn register(mut self, op: &OpId, child: Arc<GroupChild>) -> bool {
        let p = self.processes;
        let mut state = lock(&p.state);
        state.children.retain(|e| !e.child.is_reaped());
        state.children.push(Entry { op: op.clone(), child, owned: false });
        state.spawning -= 1;
        self.done = true;
        p.spawned.notify_all();
        !state.aborted
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if !self.done {
            lock(&self.processes.state).spawning -= 1;
            self.processes.spawned.notify_all();
        }
    }
}

impl Processes {
    /// Announces a spawn: `None` when the set was aborted (do not spawn).
    pub(crate) fn slot(&self) -> Option<Slot<'_>> {
        let mut state = lock(&self.state);
        if state.aborted {
            return None;
        }
        state.spawning += 1;
        Some(Slot { processes: self, done: false })
    }

    /// Marks the children of a connect that succeeded as owned by its session: [`abort`]
    /// spares them (the session closes them gracefully); [`reap_all`] does not.
    ///
    /// [`abort`]: Self::abort
    /// [`reap_all`]: Self::reap_all
    pub(crate) fn release(&self, op: &OpId) {
        for e in lock(&self.state).children.iter_mut().filter(|e| &e.op == op) {
            e.owned = true;
        }
    }

    /// Kills every child whose connect is still in flight (it is abandoned) and refuses new
    /// ones. Does not wait: each abandoned connect reaps its own child when it fails (a spawn
    /// in progress kills its child when it registers), and [`reap_all`](Self::reap_all) makes
    /// sure of it.
    pub(crate) fn abort(&self) {
        let children = {
            let mut state = lock(&self.state);
            state.aborted = true;
            state.children.iter().filter(|e| !e.owned).map(|e| e.child.clone()).collect::<Vec<_>>()
        };
        for child in children {
            child.signal(Signal::Kill);
        }
    }

    /// Refuses new children, waits for spawns in progress to register theirs, then kills and
    /// reaps every child not reaped yet, owned or not; all within `bound`. Whether all were
    /// reaped.
    pub(crate) fn reap_all(&self, bound: Duration) -> bool {
        let deadline = crate::transport::deadline_in(bound);
        let children = {
            let mut state = lock(&self.state);
            state.aborted = true;
            while state.spawning > 0 {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    log::warn!("{} process spawn(s) still in progress after {bound:?}", state.spawning);
                    break;
                }
                // The wait releases the lock.
                state = self.spawned.wait_timeout(state, left).unwrap_or_else(|e| e.into_inner()).0;
            }
            state.children.iter().map(|e| e.child.clone()).collect::<Vec<_>>()
        };
        let mut all = true;
        for child in children {
            let left = deadline.saturating_duration_since(Instant::now());
            if !child.kill_and_reap(left) {
                log::warn!("process {} did not exit even after being killed", child.id());
                all = false;
            }
        }
        all
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::process::{Command, Stdio};

    use super::*;

    fn spawn(script: &str) -> GroupChild {
        let mut command = Command::new("sh");
        command.args(["-c", script]).stdin(Stdio::null()).stdout(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        GroupChild::new(command.spawn().unwrap())
    }

    fn exists(pid: u32) -> bool {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    }

    #[test]
    fn an_exit_is_seen_without_reaping_until_reap() {
        let child = spawn("exit 3");
        assert_eq!(child.wait_exited(Duration::from_secs(5)).as_deref(), Some("exit status: 3"));
        // Still a zombie: its pid, the group's id, cannot have been reused.
        assert!(exists(child.id()) && !child.is_reaped());
        child.signal(Signal::Kill); // harmless on a zombie
        assert_eq!(child.reap().and_then(|s| s.code()), Some(3));
        assert!(!exists(child.id()));
        child.signal(Signal::Term); // reaped: no signal is sent any more
    }

    #[test]
    fn no_lock_is_held_across_a_wait() {
        let child = Arc::new(spawn("sleep 100"));
        let waiter = {
            let child = child.clone();
            std::thread::spawn(move || child.wait_exited(Duration::from_secs(3)))
        };
        std::thread::sleep(Duration::from_millis(50)); // let the waiter start polling
        let t0 = Instant::now();
        assert_eq!(child.exited(), None);
        child.signal(Signal::Term);
        assert!(t0.elapsed() < Duration::from_millis(500), "blocked for {:?}", t0.elapsed());
        assert_eq!(waiter.join().unwrap().as_deref(), Some("signal: 15"));
        assert!(child.kill_and_reap(Duration::from_secs(5)));
    }

    #[test]
    fn reap_all_kills_and_reaps_and_an_aborted_set_takes_no_more() {
        let child = Arc::new(spawn("sleep 100"));
        let processes = Processes::default();
        let op = OpId::new();
        assert!(processes.slot().unwrap().register(&op, child.clone()));
        assert_eq!(child.exited(), None);
        assert!(processes.reap_all(Duration::from_secs(5)));
        assert!(child.is_reaped() && !exists(child.id()));
        assert!(processes.slot().is_none(), "an aborted set takes no more");
    }
}
