//! The one error type of the crate.

use std::time::Duration;

use crate::deadline::Phase;
use crate::op::OpId;

/// Everything that can go wrong, with the server, the method and the operation id it concerns.
///
/// Messages are short, lowercase, `category: detail`, followed by the context in parentheses:
///
/// ```text
/// timeout: no response to `resources/list` after 30s (server `database_mcp`, op 3fa9-17.1)
/// ```
///
/// The accessors [`Error::server`], [`Error::method`] and [`Error::op_id`] give the context
/// without parsing the message.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid: YAML syntax, an unknown or missing key, a bad value.
    #[error("config: {message}{}", location(*.line, *.column))]
    Config {
        /// What is wrong, naming the key.
        message: String,
        /// 1-based line in the YAML document, when known.
        line: Option<usize>,
        /// 1-based column in the YAML document, when known.
        column: Option<usize>,
    },

    /// The server could not be reached or refused the session (connection refused, DNS,
    /// an endpoint on another origin, a child process that would not start).
    #[error("connect: {detail} (server `{server}`, op {op})")]
    Connect {
        /// The server's name in the config.
        server: String,
        /// The operation.
        op: OpId,
        /// What failed.
        detail: String,
    },

    /// A deadline passed.
    #[error("timeout: {phase} after {after:?} (server `{server}`, method `{method}`, op {op})")]
    Timeout {
        /// The server's name in the config.
        server: String,
        /// The MCP method (or `connect` for the transport's own set-up).
        method: String,
        /// The operation.
        op: OpId,
        /// Which phase timed out, e.g. [`Phase::NoResponse`], [`Phase::NoEndpoint`].
        phase: Phase,
        /// The deadline that passed.
        after: Duration,
    },

    /// The server answered an HTTP request with an error status.
    #[error("http: status {status}: {body:?} (server `{server}`, method `{method}`, op {op})")]
    Http {
        /// The server's name in the config.
        server: String,
        /// The MCP method.
        method: String,
        /// The operation.
        op: OpId,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body (at most 200 characters).
        body: String,
    },

    /// The connection to the server ended while a request was waiting for its answer.
    #[error("connection closed: {detail} (server `{server}`, method `{method}`, op {op})")]
    ConnectionClosed {
        /// The server's name in the config.
        server: String,
        /// The MCP method.
        method: String,
        /// The operation.
        op: OpId,
        /// Why, when known (end of stream, read error, close()).
        detail: String,
    },

    /// The server broke the protocol: malformed JSON-RPC, a result of the wrong shape, an
    /// unsupported protocol version, a repeated page cursor.
    #[error("protocol: {detail} (server `{server}`, method `{method}`, op {op})")]
    Protocol {
        /// The server's name in the config.
        server: String,
        /// The MCP method.
        method: String,
        /// The operation.
        op: OpId,
        /// What was wrong.
        detail: String,
    },

    /// The server answered with a JSON-RPC error.
    #[error("rpc: error {code}: {message} (server `{server}`, method `{method}`, op {op})")]
    Rpc {
        /// The server's name in the config.
        server: String,
        /// The MCP method.
        method: String,
        /// The operation.
        op: OpId,
        /// The JSON-RPC error code.
        code: i64,
        /// The server's message.
        message: String,
        /// The server's optional `data`, as JSON text.
        data: Option<String>,
    },

    /// A limit was exceeded: an event larger than allowed, too many pages.
    #[error("limit: {what} exceeds {limit} (server `{server}`, method `{method}`, op {op})")]
    Limit {
        /// The server's name in the config.
        server: String,
        /// The MCP method.
        method: String,
        /// The operation.
        op: OpId,
        /// What was too large.
        what: &'static str,
        /// The limit.
        limit: usize,
    },

    /// The client or orchestrator was closed (or never initialized) before the call.
    #[error("closed: {what} is closed (op {op})")]
    Closed {
        /// What is closed: `client <name>` or `orchestrator`.
        what: String,
        /// The operation.
        op: OpId,
    },

    /// The server has no resource with this URI (`resources/read` answered `-32602`, or the
    /// older `-32002`).
    #[error("not found: resource {uri:?}: {message} (server `{server}`, method `resources/read`, op {op})")]
    ResourceNotFound {
        /// The server's name in the config.
        server: String,
        /// The URI asked for.
        uri: String,
        /// The operation.
        op: OpId,
        /// The JSON-RPC error code (`-32602` or `-32002`).
        code: i64,
        /// The server's message.
        message: String,
    },

    /// No connected server can do what was asked (no executor, an unknown server name, no
    /// server connected at all).
    #[error("no server: {detail} (op {op})")]
    NoServer {
        /// What was looked for.
        detail: String,
        /// The operation.
        op: OpId,
    },
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" at line {l} column {c}"),
        (Some(l), None) => format!(" at line {l}"),
        _ => String::new(),
    }
}

impl Error {
    /// The server the error concerns, if it concerns one.
    pub fn server(&self) -> Option<&str> {
        match self {
            Error::Connect { server, .. }
            | Error::Timeout { server, .. }
            | Error::Http { server, .. }
            | Error::ConnectionClosed { server, .. }
            | Error::Protocol { server, .. }
            | Error::Rpc { server, .. }
            | Error::Limit { server, .. }
            | Error::ResourceNotFound { server, .. } => Some(server),
            Error::Config { .. } | Error::Closed { .. } | Error::NoServer { .. } => None,
        }
    }

    /// The MCP method the error concerns, if any (`connect` for the transport's set-up).
    pub fn method(&self) -> Option<&str> {
        match self {
            Error::Connect { .. } => Some("connect"),
            Error::ResourceNotFound { .. } => Some("resources/read"),
            Error::Timeout { method, .. }
            | Error::Http { method, .. }
            | Error::ConnectionClosed { method, .. }
            | Error::Protocol { method, .. }
            | Error::Rpc { method, .. }
            | Error::Limit { method, .. } => Some(method),
            Error::Config { .. } | Error::Closed { .. } | Error::NoServer { .. } => None,
        }
    }

    /// The operation id of the call that failed (none for a config error).
    pub fn op_id(&self) -> Option<&OpId> {
        match self {
            Error::Connect { op, .. }
            | Error::Timeout { op, .. }
            | Error::Http { op, .. }
            | Error::ConnectionClosed { op, .. }
            | Error::Protocol { op, .. }
            | Error::Rpc { op, .. }
            | Error::Limit { op, .. }
            | Error::Closed { op, .. }
            | Error::ResourceNotFound { op, .. }
            | Error::NoServer { op, .. } => Some(op),
            Error::Config { .. } => None,
        }
    }

    /// Whether this is a config error.
    pub fn is_config(&self) -> bool {
        matches!(self, Error::Config { .. })
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_server_method_and_op() {
        let op = OpId::new();
        let e = Error::Timeout {
            server: "db".into(),
            method: "resources/list".into(),
            op: op.clone(),
            phase: Phase::NoResponse,
            after: Duration::from_secs(30),
        };
        let text = e.to_string();
        assert_eq!(text, format!("timeout: no response after 30s (server `db`, method `resources/list`, op {op})"));
        assert_eq!(e.server(), Some("db"));
        assert_eq!(e.method(), Some("resources/list"));
        assert_eq!(e.op_id(), Some(&op));
    }

    #[test]
    fn config_errors_carry_their_location() {
        let e = Error::Config { message: "unknown key `urll`".into(), line: Some(3), column: Some(5) };
        assert_eq!(e.to_string(), "config: unknown key `urll` at line 3 column 5");
        assert!(e.is_config());
        assert_eq!(e.op_id(), None);
    }
}
