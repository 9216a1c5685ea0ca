//! The configuration: which servers to use and how the orchestrator behaves, read from this
//! crate's YAML or another client's JSON (recognised by content), or built in code, and
//! validated one way. The public surface is re-exported here; each concern has its file:
//!
//! - `schema.rs`: [`Config`], [`ConfigFormat`], [`ConfigBuilder`], [`Orchestration`], the defaults;
//! - `server.rs`: [`ServerConfig`] and its builder, [`Transport`], [`ProtocolChoice`], [`Headers`];
//! - `validate.rs`: the checks of a config built in code (and of what the JSON loaders read);
//! - `yaml/`: the YAML loader (serde-saphyr raw types with spans, error rewriting, raw → `Config`);
//! - `env.rs`: `${VAR}` expansion in the YAML; `auth.rs`: the YAML `auth` block;
//! - `json/`: the `mcpServers` and VS Code `servers` JSON (JSONC, variables, `envFile`);
//! - `entries.rs`: a map in document order, for both loaders;
//! - `report.rs`: located errors, several problems in one, snippets; `redact.rs`: command lines
//!   as they may be shown;
//! - `auth_settings.rs`, `naming.rs`: plain data ([`AuthConfig`], [`NameFilter`], [`Naming`]).

mod auth;
mod auth_settings;
mod entries;
mod env;
mod json;
mod naming;
mod redact;
mod report;
mod schema;
mod server;
mod validate;
mod yaml;

#[cfg(test)]
mod tests;

pub use auth_settings::{AuthConfig, ClientCredentialsConfig, DEFAULT_REDIRECT_PORT, OAuthConfig, Secret};
pub use naming::{NameFilter, Naming};
pub use schema::{
    Config, ConfigBuilder, ConfigFormat, DEFAULT_CACHE_MAX_BYTES, DEFAULT_CACHE_TTL,
    DEFAULT_MAX_CONCURRENT_CONNECTIONS, DEFAULT_MAX_LISTING_BYTES, DEFAULT_MAX_LISTING_ITEMS, DEFAULT_TIMEOUT,
    Orchestration,
};
pub use server::{Headers, ProtocolChoice, ServerConfig, Transport};
