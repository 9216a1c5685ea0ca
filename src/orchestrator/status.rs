//! [`Orchestrator::status`]: what each configured server speaks and whether it is connected,
//! from what the orchestrator already knows (no I/O, no reconnect), with each session's last
//! health check; [`Orchestrator::check_health`] checks every connected server first.

use std::sync::Arc;

use super::{COLLECT_SLACK, Orchestrator};
use crate::client::{Client, HealthCheck};
use crate::error::Error;
use crate::op::OpId;
use crate::transport::deadline_in;

/// One configured server's connection, as [`Orchestrator::status`] reports it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServerStatus {
    /// Its name in the config.
    pub name: String,
    /// Whether it is enabled in the config (a disabled server is never connected).
    pub enabled: bool,
    /// Whether it has a live session now.
    pub connected: bool,
    /// The protocol version its session speaks or spoke (`2026-07-28`, `2025-11-25`, …), as
    /// negotiated or detected ([`Client::protocol_version`](crate::Client::protocol_version));
    /// `None` when it never had a session.
    pub protocol_version: Option<String>,
    /// The transport its session uses or used: `streamable_http`, `sse` or `stdio` (what
    /// `transport: http` detected; [`Client::transport`](crate::Client::transport)); `None`
    /// when it never had a session.
    pub transport: Option<&'static str>,
    /// Why it has no session: its last connect failure (or why its session died and could not
    /// be re-established). `None` while connected.
    pub error: Option<Error>,
    /// The last health check of its session ([`Orchestrator::check_health`],
    /// [`Client::ping`](crate::Client::ping)): when, how long ago, `ping` or `server/discover`
    /// (from the cache or not), and its outcome. `None` before the first.
    pub last_check: Option<HealthCheck>,
}

impl Orchestrator {
    /// Each configured server, in priority order: whether it is connected, and the protocol
    /// version and transport its session speaks (detected per server with `protocol: auto` and
    /// `transport: http`). Before [`initialize`](Self::initialize) (and after
    /// [`close`](Self::close)) nothing is connected. Does no I/O and never reconnects: a session
    /// that died is reported as not connected, with the protocol it spoke.
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// use mcp_orchestrator::testing::TestServer;
    /// use mcp_orchestrator::{Config, Orchestration, Orchestrator, ServerConfig};
    ///
    /// let server = TestServer::builder().start()?;
    /// let config = Config::new(vec![ServerConfig::http("db", server.mcp_url())], Orchestration::default())?;
    /// let orchestrator = Orchestrator::new(config);
    /// orchestrator.initialize()?;
    /// let db = &orchestrator.status()[0];
    /// assert!(db.connected);
    /// assert_eq!((db.protocol_version.as_deref(), db.transport), (Some("2025-11-25"), Some("streamable_http")));
    /// orchestrator.close();
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn status(&self) -> Vec<ServerStatus> {
        let (slots, config) = {
            let state = self.lock();
            (state.slots.clone(), state.config.clone())
        };
        config
            .servers
            .iter()
            .map(|config| {
                let slot = slots.iter().find(|s| s.config.name == config.name);
                let (client, error) = match slot {
                    Some(slot) => {
                        let state = slot.lock();
                        (state.client.clone(), state.error.clone())
                    }
                    None => (None, None),
                };
                let connected = client.as_ref().is_some_and(|c| !c.is_closed());
                ServerStatus {
                    name: config.name.clone(),
                    enabled: config.enabled,
                    connected,
                    protocol_version: client.as_ref().map(|c| c.protocol_version().to_string()),
                    transport: client.as_ref().map(|c| c.transport()),
                    error: if connected { None } else { error },
                    last_check: client.as_ref().and_then(|c| c.last_check()),
                }
            })
            .collect()
    }

    /// Checks the health of every server with a live session, in parallel on the pool (each
    /// within its `timeout`; see [`Client::ping`](crate::Client::ping): `ping` on the handshake
    /// era, `server/discover` on the 2026-07-28 wire unless its last answer is still fresh by
    /// its `ttlMs`), then returns [`status`](Self::status), each with that check in
    /// [`ServerStatus::last_check`]. Never reconnects; a server without a session is not asked.
    pub fn check_health(&self) -> Vec<ServerStatus> {
        let op = OpId::new();
        let (slots, pool) = {
            let state = self.lock();
            (state.slots.clone(), state.pool.clone())
        };
        let clients: Vec<Arc<Client>> = slots.iter().filter_map(|s| s.live()).collect();
        log::debug!("op={op}: checking the health of {} server(s)", clients.len());
        match pool {
            Some(pool) if !clients.is_empty() => {
                let total = clients.len();
                let longest = clients.iter().map(|c| c.timeout()).max().unwrap_or_default();
                let rounds = total.div_ceil(pool.size()) as u32;
                let deadline = deadline_in(longest.saturating_mul(rounds).saturating_add(COLLECT_SLACK));
                let rx = pool.fan_out(clients, |_, client: Arc<Client>| {
                    let _ = client.ping(); // recorded in its last check
                });
                for _ in 0..total {
                    if rx.recv_deadline(deadline).is_err() {
                        log::warn!("op={op}: a health check did not end in time");
                        break;
                    }
                }
            }
            _ => clients.iter().for_each(|c| {
                let _ = c.ping();
            }),
        }
        self.status()
    }
}
