//! [`Orchestrator::status`]: what each configured server speaks and whether it is connected,
//! from what the orchestrator already knows (no I/O, no reconnect).

use super::Orchestrator;
use crate::error::Error;

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
                }
            })
            .collect()
    }
}
