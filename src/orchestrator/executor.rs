//! Picking servers by their config: the [`executor`](Orchestrator::executor) (the first with
//! `execute_query`), the servers with a capability, the servers for a domain.

use std::sync::Arc;

use super::Orchestrator;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::op::OpId;

/// The capability (in a server's config) that makes it an executor.
pub const EXECUTE_QUERY: &str = "execute_query";

impl Orchestrator {
    /// The executor (doc alias `get_executor_mcp`): the server with the lowest priority number
    /// whose config lists the `execute_query` capability and that has (or regains) a session.
    #[doc(alias = "get_executor_mcp")]
    pub fn executor(&self) -> Result<Arc<Client>> {
        let op = OpId::new();
        let slots = self.slots(&op)?;
        // The first capable server that has (or regains) a session; the others are not touched.
        let chosen = slots.iter().filter(|s| s.config.capabilities.iter().any(|c| c == EXECUTE_QUERY)).find_map(|s| {
            self.heal(s, &op).map_err(|e| log::debug!("op={op} server={}: not the executor: {e}", s.config.name)).ok()
        });
        match chosen {
            Some(c) => {
                log::debug!("op={op} server={}: chosen as executor", c.name());
                Ok(c)
            }
            None => {
                let config = self.config();
                let configured: Vec<&str> = config
                    .servers
                    .iter()
                    .filter(|s| s.capabilities.iter().any(|c| c == EXECUTE_QUERY))
                    .map(|s| s.name.as_str())
                    .collect();
                let detail = if configured.is_empty() {
                    format!("no server's config lists the `{EXECUTE_QUERY}` capability")
                } else {
                    format!("no connected server has `{EXECUTE_QUERY}` (configured on: {})", configured.join(", "))
                };
                Err(Error::NoServer { detail, op })
            }
        }
    }

    /// The servers whose config lists `capability` (e.g. `execute_query`), in priority order,
    /// each with a live session: a dead one is re-established first (as [`client`](Self::client)
    /// does); those that cannot be reached are left out.
    pub fn servers_with_capability(&self, capability: &str) -> Result<Vec<Arc<Client>>> {
        let op = OpId::new();
        let slots = self.slots(&op)?;
        Ok(slots
            .iter()
            .filter(|s| s.config.capabilities.iter().any(|c| c == capability))
            .filter_map(|s| match self.heal(s, &op) {
                Ok(c) => Some(c),
                Err(e) => {
                    log::debug!("op={op} server={}: left out: {e}", s.config.name);
                    None
                }
            })
            .collect())
    }

    /// The connected servers that serve a domain, in priority order (no reconnect).
    pub fn servers_for_domain(&self, domain: &str) -> Vec<Arc<Client>> {
        let state = self.lock();
        state.slots.iter().filter(|s| s.config.domains.iter().any(|d| d == domain)).filter_map(|s| s.live()).collect()
    }
}
