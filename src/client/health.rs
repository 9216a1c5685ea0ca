//! Health checks: [`Client::ping`] sends `ping` on a handshake-era session and
//! `server/discover` on the 2026-07-28 wire (which has no `ping`), answered from the last
//! discover answer while its `ttlMs` lasts; [`Client::last_check`] says how the last one went.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use super::Client;
use crate::error::{Error, Result};
use crate::op::OpId;

/// A session's last health check ([`Client::last_check`], [`ServerStatus::last_check`](crate::ServerStatus::last_check)).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HealthCheck {
    /// When it ended (wall clock).
    pub at: SystemTime,
    /// How long ago that was, when this value was made.
    pub ago: Duration,
    /// What it asked: `ping` (handshake era) or `server/discover` (2026-07-28).
    pub method: &'static str,
    /// Answered from the last `server/discover` answer, still fresh by its `ttlMs`: nothing
    /// was sent.
    pub from_cache: bool,
    /// The round trip (zero from the cache), or why the check failed (naming server, method
    /// and op).
    pub outcome: std::result::Result<Duration, Error>,
}

/// What a client remembers of its checks.
#[derive(Default)]
pub(super) struct Health {
    /// The last discover answer (the connect's, or a check's) is fresh until then.
    fresh_until: Option<Instant>,
    last: Option<(Instant, HealthCheck)>,
}

impl Health {
    /// A client whose connect's discover answer is fresh for `ttl`.
    pub(super) fn after_connect(ttl: Option<Duration>) -> Mutex<Health> {
        Mutex::new(Health { fresh_until: ttl.and_then(|t| Instant::now().checked_add(t)), last: None })
    }
}

impl Client {
    /// Checks the server is alive. On a handshake-era session (2025-11-25 and older): `ping`.
    /// On the 2026-07-28 wire, which has no `ping`: `server/discover`, and only when the last
    /// discover answer (the connect's, or the last check's) is older than its `ttlMs` — within
    /// it, that answer serves and nothing is sent. [`last_check`](Self::last_check) records
    /// each check.
    pub fn ping(&self) -> Result<()> {
        let op = OpId::new();
        let deadline = self.session.deadline();
        let started = Instant::now();
        let modern = self.is_modern();
        let method = if modern { "server/discover" } else { "ping" };
        let fresh = modern && self.health().fresh_until.is_some_and(|t| started < t);
        let result = if fresh {
            Ok(())
        } else if modern {
            match self.session.discover(&op, deadline) {
                Ok(Some(found)) => {
                    self.health().fresh_until = found.ttl().and_then(|t| Instant::now().checked_add(t));
                    Ok(())
                }
                Ok(None) => Err(self.session.protocol(&op, method, "the answer is not a discover result".into())),
                Err(e) => Err(e),
            }
        } else {
            self.session
                .start::<()>(&op, "ping", None, deadline)
                .and_then(|call| self.session.finish::<serde_json::Value>(call, deadline))
                .map(drop)
        };
        let check = HealthCheck {
            at: SystemTime::now(),
            ago: Duration::ZERO,
            method,
            from_cache: fresh,
            outcome: result.clone().map(|()| if fresh { Duration::ZERO } else { started.elapsed() }),
        };
        let mut health = self.health();
        if result.is_err() {
            health.fresh_until = None;
        }
        health.last = Some((Instant::now(), check));
        drop(health);
        if let Err(e) = &result {
            log::debug!("op={op} server={}: health check failed: {e}", self.name());
        }
        result
    }

    /// The last [`ping`](Self::ping) of this session, if any: when, how long ago, what it
    /// asked, and how it went.
    pub fn last_check(&self) -> Option<HealthCheck> {
        let health = self.health();
        let (ended, check) = health.last.as_ref()?;
        Some(HealthCheck { ago: ended.elapsed(), ..check.clone() })
    }

    fn health(&self) -> MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|e| e.into_inner())
    }
}
