//! mcp-orchestrator: use many MCP (Model Context Protocol) servers as one, from synchronous Rust.
//!
//! (The guided tour is written in the documentation issue.)

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cache;
mod client;
mod config;
mod error;
mod jsonrpc;
mod op;
mod orchestrator;
mod pool;
mod protocol;
mod sse;
#[cfg(feature = "testing")]
pub mod testing;
mod transport;

pub use cache::CacheStats;
pub use client::{Client, ClientBuilder, DEFAULT_MAX_PAGES};
pub use config::{
    Config, DEFAULT_CACHE_MAX_BYTES, DEFAULT_CACHE_TTL, DEFAULT_MAX_CONCURRENT_CONNECTIONS, DEFAULT_TIMEOUT, Headers,
    Orchestration, ServerConfig, Transport,
};
pub use error::{Error, Result};
pub use jsonrpc::RequestId;
pub use op::{OP_ID_HEADER, OpId};
pub use orchestrator::{EXECUTE_QUERY, Gathered, MergedResource, Orchestrator, ServerOutcome, ServerResources, Status};
pub use protocol::{
    Annotations, CallToolResult, Content, ContentsBody, Implementation, InitializeResult, ListChangedCapability,
    Resource, ResourceContents, ResourceTemplate, ResourcesCapability, SUPPORTED_PROTOCOL_VERSIONS, ServerCapabilities,
    Tool,
};
pub use transport::Notification;
