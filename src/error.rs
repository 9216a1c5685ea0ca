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
    /// The configuration is invalid: syntax, an unknown or missing key, a value of the wrong
    /// type, a bad value. `message`, `line`, `column` and `snippet` describe the first problem
    /// found; `more` holds the others of the same document (each an `Error::Config`), so that
    /// one run reports them all. [`Error::config_problems`] iterates over all of them.
    /// A program's own invalid input is one too: a tool search's regex that does not compile
    /// ([`Gathered::search_tools_matching`](crate::Gathered::search_tools_matching); no line).
    #[error("{}", display_config(message, *line, *column, snippet.as_deref(), more))]
    Config {
        /// What is wrong, naming the key (and the file, when read from one).
        message: String,
        /// 1-based line in the document, when known.
        line: Option<usize>,
        /// 1-based column in the document, when known.
        column: Option<usize>,
        /// The document's line at `line`, with values of secret-looking keys and URL user info
        /// redacted, when known.
        snippet: Option<String>,
        /// The other problems of the same document, in document order.
        more: Vec<Error>,
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

    /// Authorization failed: the OAuth flow for an HTTP server that answered 401 (or 403 with
    /// `insufficient_scope`) could not get a token. Discovery failed, the authorization server
    /// is not the one the server names (`issuer`, `iss`), the person's step failed or timed out,
    /// the person or the authorization server refused, the token endpoint rejected the client.
    /// The reason never holds a token, a code, a verifier or a secret.
    #[error("auth: {reason} (server `{server}`, method `{method}`, op {op})")]
    Auth {
        /// The server's name in the config.
        server: String,
        /// The MCP method whose request needed the authorization (`login` ahead of time).
        method: String,
        /// The operation.
        op: OpId,
        /// What failed.
        reason: String,
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

    /// The client or orchestrator was closed before (or during) the call.
    #[error("closed: {what} is closed (op {op})")]
    Closed {
        /// What is closed: `client <name>` or `orchestrator`.
        what: String,
        /// The operation.
        op: OpId,
    },

    /// The orchestrator has not been initialized yet: call `initialize` first.
    #[error("not initialized: {what} has not been initialized; call initialize() first (op {op})")]
    NotInitialized {
        /// What is not initialized: `orchestrator`.
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

    /// A tool's result does not match the `outputSchema` the tool declared in this client's last
    /// `tools/list`: its `structuredContent` fails a keyword (`path` says where in it, as a JSON
    /// pointer; `detail` what, and which keyword of the schema), or is missing (a server MUST send it when the tool
    /// declares an output schema), or its check stopped at a bound of the validator
    /// ([`Schema::MAX_DEPTH`](crate::Schema::MAX_DEPTH), [`Schema::MAX_STEPS`](crate::Schema::MAX_STEPS)).
    /// A result with `isError: true` is not checked. The message quotes no value of the result.
    #[error(
        "schema: structuredContent does not match outputSchema at {}: {detail} (server `{server}`, tool `{tool}`, method `tools/call`, op {op})",
        display_pointer(path)
    )]
    InvalidOutput {
        /// The server's name in the config.
        server: String,
        /// The tool called.
        tool: String,
        /// The operation.
        op: OpId,
        /// Where in `structuredContent`, as a JSON pointer (`/rows/3/name`; empty for all of it).
        path: String,
        /// What is wrong, and the failing keyword's place in the output schema (`expected string,
        /// got integer; keyword #/properties/rows/items/properties/name/type`).
        detail: String,
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

    /// The call is refused before anything is sent: e.g. an MCP Apps tool whose visibility
    /// excludes the model, called by its catalogue name, or by the app of another server.
    #[error("not allowed: {detail} (server `{server}`, method `{method}`, op {op})")]
    NotAllowed {
        /// The server that owns what was asked for.
        server: String,
        /// The MCP method that was not sent.
        method: String,
        /// Why it is refused.
        detail: String,
        /// The operation.
        op: OpId,
    },

    /// A task (MCP Tasks) was still running when the caller's deadline passed: its result is
    /// not lost. Resume waiting with [`Orchestrator::task`](crate::Orchestrator::task) and
    /// this `task_id` (also later, from another process), while the server keeps the task (its
    /// TTL). Kind [`ErrorKind::Timeout`].
    #[error(
        "timeout: task `{task_id}` still {status} after {after:?}; resume it by its id (server `{server}`, method \
         `tools/call`, op {op})"
    )]
    TaskPending {
        /// The server's name in the config.
        server: String,
        /// The operation.
        op: OpId,
        /// The task's id on the server.
        task_id: String,
        /// Its last known status (`working`, `input_required`).
        status: &'static str,
        /// How long the caller waited.
        after: Duration,
    },

    /// A task (MCP Tasks) was cancelled before it delivered its result (by this program, or
    /// by the server). Kind [`ErrorKind::Cancelled`].
    #[error("cancelled: task `{task_id}` was cancelled{} (server `{server}`, method `tools/call`, op {op})", said(message.as_deref()))]
    TaskCancelled {
        /// The server's name in the config.
        server: String,
        /// The operation.
        op: OpId,
        /// The task's id on the server.
        task_id: String,
        /// The server's `statusMessage`, if any.
        message: Option<String>,
    },
}

/// `: <message>` for a message a server gave, else nothing.
fn said(message: Option<&str>) -> String {
    message.map(|m| format!(": {m}")).unwrap_or_default()
}

/// What kind of failure an [`Error`] is, for a program deciding what to do about it
/// ([`Error::kind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration is invalid ([`Error::Config`]): fix the file or the code.
    Config,
    /// The server could not be reached or refused the session ([`Error::Connect`]); retrying
    /// later may help.
    Unreachable,
    /// A deadline passed ([`Error::Timeout`]; a task still running: [`Error::TaskPending`]).
    Timeout,
    /// The server answered HTTP 401 or 403 ([`Error::Http`]), or the authorization flow failed
    /// ([`Error::Auth`]): credentials are missing, wrong, or could not be obtained.
    Unauthorized,
    /// The server reported an error: a JSON-RPC error ([`Error::Rpc`]) or another HTTP error
    /// status ([`Error::Http`]).
    ServerError,
    /// The server broke the protocol ([`Error::Protocol`]).
    Protocol,
    /// The connection ended while a request waited for its answer ([`Error::ConnectionClosed`]).
    Disconnected,
    /// A limit was exceeded ([`Error::Limit`]).
    Limit,
    /// The client or orchestrator was closed ([`Error::Closed`]).
    Closed,
    /// The orchestrator was used before `initialize` ([`Error::NotInitialized`]).
    NotInitialized,
    /// No connected server can do what was asked ([`Error::NoServer`]).
    NoServer,
    /// The call is refused by a rule of the client, before anything is sent
    /// ([`Error::NotAllowed`]).
    NotAllowed,
    /// A tool's result does not match the output schema it declared ([`Error::InvalidOutput`]):
    /// the server's fault; the same call is likely to fail the same way.
    Schema,
    /// A task was cancelled before it delivered its result ([`Error::TaskCancelled`]).
    Cancelled,
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" at line {l} column {c}"),
        (Some(l), None) => format!(" at line {l}"),
        _ => String::new(),
    }
}

/// `config: message at line L column C`, the snippet under it with a caret, then the other
/// problems, numbered.
fn display_config(
    message: &str,
    line: Option<usize>,
    column: Option<usize>,
    snippet: Option<&str>,
    more: &[Error],
) -> String {
    let mut out = String::new();
    if !more.is_empty() {
        out.push_str(&format!("config: {} problems:\n1. ", more.len() + 1));
    } else {
        out.push_str("config: ");
    }
    one_problem(&mut out, message, line, column, snippet);
    for (i, e) in more.iter().enumerate() {
        if let Error::Config { message, line, column, snippet, .. } = e {
            out.push_str(&format!("\n{}. ", i + 2));
            one_problem(&mut out, message, *line, *column, snippet.as_deref());
        }
    }
    out
}

fn one_problem(out: &mut String, message: &str, line: Option<usize>, column: Option<usize>, snippet: Option<&str>) {
    out.push_str(message);
    out.push_str(&location(line, column));
    if let (Some(l), Some(text)) = (line, snippet) {
        let number = l.to_string();
        out.push_str(&format!("\n   {number} | {text}"));
        if let Some(c) = column {
            let pad = " ".repeat(number.len());
            let indent: String =
                text.chars().take(c.saturating_sub(1)).map(|ch| if ch == '\t' { '\t' } else { ' ' }).collect();
            out.push_str(&format!("\n   {pad} | {indent}^"));
        }
    }
}

impl Error {
    /// The server the error concerns, if it concerns one.
    pub fn server(&self) -> Option<&str> {
        match self {
            Error::Connect { server, .. }
            | Error::Auth { server, .. }
            | Error::Timeout { server, .. }
            | Error::Http { server, .. }
            | Error::ConnectionClosed { server, .. }
            | Error::Protocol { server, .. }
            | Error::Rpc { server, .. }
            | Error::Limit { server, .. }
            | Error::ResourceNotFound { server, .. }
            | Error::InvalidOutput { server, .. }
            | Error::TaskPending { server, .. }
            | Error::TaskCancelled { server, .. }
            | Error::NotAllowed { server, .. } => Some(server),
            Error::Config { .. } | Error::Closed { .. } | Error::NotInitialized { .. } | Error::NoServer { .. } => None,
        }
    }

    /// The MCP method the error concerns, if any (`connect` for the transport's set-up).
    pub fn method(&self) -> Option<&str> {
        match self {
            Error::Connect { .. } => Some("connect"),
            Error::ResourceNotFound { .. } => Some("resources/read"),
            Error::InvalidOutput { .. } | Error::TaskPending { .. } | Error::TaskCancelled { .. } => Some("tools/call"),
            Error::Timeout { method, .. }
            | Error::Auth { method, .. }
            | Error::Http { method, .. }
            | Error::ConnectionClosed { method, .. }
            | Error::Protocol { method, .. }
            | Error::Rpc { method, .. }
            | Error::Limit { method, .. }
            | Error::NotAllowed { method, .. } => Some(method),
            Error::Config { .. } | Error::Closed { .. } | Error::NotInitialized { .. } | Error::NoServer { .. } => None,
        }
    }

    /// The operation id of the call that failed (none for a config error).
    pub fn op_id(&self) -> Option<&OpId> {
        match self {
            Error::Connect { op, .. }
            | Error::Auth { op, .. }
            | Error::Timeout { op, .. }
            | Error::Http { op, .. }
            | Error::ConnectionClosed { op, .. }
            | Error::Protocol { op, .. }
            | Error::Rpc { op, .. }
            | Error::Limit { op, .. }
            | Error::Closed { op, .. }
            | Error::NotInitialized { op, .. }
            | Error::ResourceNotFound { op, .. }
            | Error::InvalidOutput { op, .. }
            | Error::NoServer { op, .. }
            | Error::TaskPending { op, .. }
            | Error::TaskCancelled { op, .. }
            | Error::NotAllowed { op, .. } => Some(op),
            Error::Config { .. } => None,
        }
    }

    /// Whether this is a config error.
    pub fn is_config(&self) -> bool {
        matches!(self, Error::Config { .. })
    }

    /// What kind of failure this is, to decide what to do without matching every variant.
    ///
    /// ```
    /// use mcp_orchestrator::{Config, ErrorKind};
    /// let e = Config::from_yaml_str("mcp_servers: {}").unwrap_err();
    /// assert_eq!(e.kind(), ErrorKind::Config);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Config { .. } => ErrorKind::Config,
            Error::Connect { .. } => ErrorKind::Unreachable,
            Error::Timeout { .. } | Error::TaskPending { .. } => ErrorKind::Timeout,
            Error::TaskCancelled { .. } => ErrorKind::Cancelled,
            Error::Http { status: 401 | 403, .. } | Error::Auth { .. } => ErrorKind::Unauthorized,
            Error::Http { .. } | Error::Rpc { .. } | Error::ResourceNotFound { .. } => ErrorKind::ServerError,
            Error::Protocol { .. } => ErrorKind::Protocol,
            Error::ConnectionClosed { .. } => ErrorKind::Disconnected,
            Error::Limit { .. } => ErrorKind::Limit,
            Error::Closed { .. } => ErrorKind::Closed,
            Error::NotInitialized { .. } => ErrorKind::NotInitialized,
            Error::NoServer { .. } => ErrorKind::NoServer,
            Error::InvalidOutput { .. } => ErrorKind::Schema,
            Error::NotAllowed { .. } => ErrorKind::NotAllowed,
        }
    }

    /// Every problem of a config error, in document order, each an `Error::Config` of its own
    /// (with an empty `more`); empty for any other error.
    pub fn config_problems(&self) -> Vec<Error> {
        match self {
            Error::Config { message, line, column, snippet, more } => {
                let first = Error::Config {
                    message: message.clone(),
                    line: *line,
                    column: *column,
                    snippet: snippet.clone(),
                    more: Vec::new(),
                };
                std::iter::once(first).chain(more.iter().flat_map(Error::config_problems)).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A JSON pointer as errors show it: the empty pointer is "the root".
pub(crate) fn display_pointer(pointer: &str) -> &str {
    if pointer.is_empty() { "the root" } else { pointer }
}

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
    fn task_errors_name_the_task() {
        let op = OpId::new();
        let e = Error::TaskPending {
            server: "jobs".into(),
            op: op.clone(),
            task_id: "t-1".into(),
            status: "working",
            after: Duration::from_secs(2),
        };
        assert_eq!(
            e.to_string(),
            format!(
                "timeout: task `t-1` still working after 2s; resume it by its id (server `jobs`, method `tools/call`, op {op})"
            )
        );
        assert_eq!((e.kind(), e.server(), e.method()), (ErrorKind::Timeout, Some("jobs"), Some("tools/call")));
        let e = Error::TaskCancelled {
            server: "jobs".into(),
            op: op.clone(),
            task_id: "t-1".into(),
            message: Some("by request".into()),
        };
        assert_eq!(e.kind(), ErrorKind::Cancelled);
        assert!(e.to_string().starts_with("cancelled: task `t-1` was cancelled: by request (server `jobs`"), "{e}");
    }

    #[test]
    fn config_errors_carry_their_location() {
        let e = Error::Config {
            message: "unknown key `urll`".into(),
            line: Some(3),
            column: Some(5),
            snippet: None,
            more: vec![],
        };
        assert_eq!(e.to_string(), "config: unknown key `urll` at line 3 column 5");
        assert!(e.is_config());
        assert_eq!(e.kind(), ErrorKind::Config);
        assert_eq!(e.op_id(), None);
        assert_eq!(e.config_problems().len(), 1);
    }

    #[test]
    fn several_config_problems_with_snippets() {
        let problem = |message: &str, line, column, snippet: &str| Error::Config {
            message: message.into(),
            line: Some(line),
            column: Some(column),
            snippet: Some(snippet.into()),
            more: vec![],
        };
        let Error::Config { message, line, column, snippet, .. } = problem("`a`: bad", 3, 5, "    urll: x") else {
            unreachable!()
        };
        let e = Error::Config { message, line, column, snippet, more: vec![problem("`b`: worse", 12, 3, "  b: 1")] };
        assert_eq!(
            e.to_string(),
            "config: 2 problems:\n1. `a`: bad at line 3 column 5\n   3 |     urll: x\n     |     ^\n\
             2. `b`: worse at line 12 column 3\n   12 |   b: 1\n      |   ^"
        );
        assert_eq!(e.config_problems().len(), 2);
    }

    #[test]
    fn kinds() {
        let op = OpId::new();
        let http = |status| Error::Http {
            server: "s".into(),
            method: "m".into(),
            op: op.clone(),
            status,
            body: String::new(),
        };
        assert_eq!(http(401).kind(), ErrorKind::Unauthorized);
        assert_eq!(http(500).kind(), ErrorKind::ServerError);
        assert_eq!(Error::Closed { what: "orchestrator".into(), op: op.clone() }.kind(), ErrorKind::Closed);
        let e = Error::NotInitialized { what: "orchestrator".into(), op: op.clone() };
        assert_eq!(e.kind(), ErrorKind::NotInitialized);
        assert!(e.to_string().starts_with("not initialized: orchestrator has not been initialized"), "{e}");
        let e = Error::Auth { server: "s".into(), method: "tools/list".into(), op: op.clone(), reason: "no".into() };
        assert_eq!((e.kind(), e.server(), e.method()), (ErrorKind::Unauthorized, Some("s"), Some("tools/list")));
        assert_eq!(e.to_string(), format!("auth: no (server `s`, method `tools/list`, op {op})"));
        let e = Error::Connect { server: "s".into(), op: op.clone(), detail: "refused".into() };
        assert_eq!(e.kind(), ErrorKind::Unreachable);
        let e = Error::InvalidOutput {
            server: "db".into(),
            tool: "query".into(),
            op: op.clone(),
            path: "/rows/3/name".into(),
            detail: "expected string, got integer; keyword #/properties/rows/items/properties/name/type".into(),
        };
        assert_eq!(
            (e.kind(), e.server(), e.method(), e.op_id()),
            (ErrorKind::Schema, Some("db"), Some("tools/call"), Some(&op))
        );
        assert_eq!(
            e.to_string(),
            format!(
                "schema: structuredContent does not match outputSchema at /rows/3/name: expected string, got integer; \
                 keyword #/properties/rows/items/properties/name/type (server `db`, tool `query`, method `tools/call`, op {op})"
            )
        );
    }
}
