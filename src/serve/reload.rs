//! [`Server::apply_config`]: the servers of an edited config applied while serving (through
//! [`Orchestrator::apply_config`](crate::Orchestrator::apply_config)), and the downstream
//! clients told that the lists changed.

use super::{FORWARDED, Server};
use crate::config::Config;
use crate::error::Result;
use crate::orchestrator::ConfigChanges;

impl Server {
    /// Applies `config`'s servers to the orchestrator it serves
    /// ([`Orchestrator::apply_config`](crate::Orchestrator::apply_config): removed, added, and
    /// a changed server removed and added again; the others keep their sessions). When any
    /// server was added, removed or changed, every connection that receives notifications gets
    /// `notifications/tools/list_changed`, `notifications/prompts/list_changed` and
    /// `notifications/resources/list_changed`, so that clients list again. `mcp-orchestrator
    /// serve` calls it when its config file changes, and on `SIGHUP`.
    pub fn apply_config(&self, config: &Config) -> Result<ConfigChanges> {
        let changes = self.orchestrator.apply_config(config)?;
        let touched = !(changes.added.is_empty() && changes.removed.is_empty() && changes.changed.is_empty());
        if touched {
            for method in FORWARDED {
                self.broadcast(method);
            }
        }
        Ok(changes)
    }
}
