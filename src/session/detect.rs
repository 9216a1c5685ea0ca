//! Which protocol and transport a server speaks, found once per endpoint and remembered.
//!
//! HTTP (`transport: http`, `protocol: auto`), after the spec's versioning and transport pages:
//! 1. `POST server/discover` on the 2026-07-28 wire. A discover result with a version we speak,
//!    or a recognised modern error (`-32022` is answered with a mutual version; `-32020`,
//!    `-32021` are surfaced) ⇒ the modern wire. Network errors, timeouts, 5xx, 401/403 are
//!    errors, not verdicts.
//! 2. Anything else (a 4xx without a modern error body, a JSON-RPC error such as `-32601`, a
//!    result that is no discover result, as a handshake-era server's `{}`) ⇒ `initialize` on
//!    the same URL (Streamable HTTP with sessions). Never keyed on one error code.
//! 3. `initialize` answered 400, 404 or 405 ⇒ `GET` the URL as a legacy HTTP+SSE endpoint.
//!
//! `transport: streamable_http` stops after step 2. `transport: sse` starts with the GET; when it
//! answers 400, 404, 405 or something that is not an event stream, steps 1–2 run on the same
//! URL and a warning says to configure `transport: http`.
//!
//! stdio: `server/discover` first, bounded by [`STDIO_PROBE`]; a discover result ⇒ modern; any
//! other answer, or none in time ⇒ `initialize` on the same process (an `initialize` answered
//! `-32022`, by a server the late probe locked into the modern era, re-probes once). A process
//! that exits (or closes its output) in answer to the probe is started again, once, straight
//! into `initialize`.
//!
//! The verdict is remembered for the process's life, per endpoint URL (origin and path: one
//! origin may serve a legacy `/sse` and a modern `/mcp`) or per command line, in a small map
//! whose lock is never held across I/O. A remembered verdict that fails to connect (other than
//! by a timeout or a refused connection) is forgotten and detection runs again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::Session;
use crate::config::{ProtocolChoice, ServerConfig, Transport as TransportConfig};
use crate::error::{Error, Result};
use crate::op::OpId;
use crate::protocol::{self, InitializeResult, modern};
use crate::transport::child::Processes;
use crate::transport::sse::{SseOptions, SseTransport};
use crate::transport::stdio::{StdioSpec, StdioTransport};
use crate::transport::streamable_http::{HttpOptions, StreamableHttpTransport};
use crate::transport::{NotificationHandler, Router, Transport};

/// The longest a stdio server is given to answer the `server/discover` probe before we fall
/// back to `initialize` (at most half the server's timeout, so that `initialize` has time too).
pub(crate) const STDIO_PROBE: Duration = Duration::from_secs(5);

/// The transport a session uses, as the config spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wire {
    StreamableHttp,
    Sse,
    Stdio,
}

impl Wire {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Wire::StreamableHttp => "streamable_http",
            Wire::Sse => "sse",
            Wire::Stdio => "stdio",
        }
    }
}

/// What detection found for one endpoint: the transport and the modern version (or the
/// handshake era).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub wire: Wire,
    pub modern: Option<&'static str>,
}

fn cache() -> &'static Mutex<HashMap<String, Verdict>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Verdict>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn remembered(key: &str) -> Option<Verdict> {
    cache().lock().unwrap_or_else(|e| e.into_inner()).get(key).copied()
}

fn remember(key: &str, verdict: Verdict) {
    cache().lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_string(), verdict);
}

fn forget(key: &str) {
    cache().lock().unwrap_or_else(|e| e.into_inner()).remove(key);
}

/// Forgets every remembered verdict (tests that restart servers on the same port).
#[cfg(test)]
#[allow(dead_code)]
pub(crate) fn forget_all() {
    cache().lock().unwrap_or_else(|e| e.into_inner()).clear();
}

/// A connected session and what it speaks.
pub(crate) struct Connected {
    pub session: Session,
    pub init: InitializeResult,
    pub wire: Wire,
    /// On the 2026-07-28 wire: how long the connect's `server/discover` answer stays fresh
    /// (its `ttlMs`; a health check within it is answered from it).
    pub discover_ttl: Option<std::time::Duration>,
}

/// What connecting needs besides the config.
pub(crate) struct Parts<'a> {
    pub op: &'a OpId,
    pub deadline: Instant,
    pub on_notification: Option<NotificationHandler>,
    pub max_event_bytes: usize,
    pub processes: Option<&'a Processes>,
    /// The program's answers to server requests (handlers.rs).
    pub handlers: crate::handlers::Handlers,
    /// The server's authorization (`auth`), shared by every connection to it (detection's
    /// attempts, reconnects): tokens and the flow in progress live there.
    pub authorizer: Option<crate::auth::Authorizer>,
}

impl Parts<'_> {
    /// The server's authorizer as the transports take it.
    fn credentials(&self) -> Option<Arc<dyn crate::transport::Credentials>> {
        self.authorizer.clone().map(|a| Arc::new(a) as Arc<dyn crate::transport::Credentials>)
    }

    fn router(&self, config: &ServerConfig) -> Arc<Router> {
        Arc::new(
            Router::new(config.name.as_str().into(), self.op.clone(), self.on_notification.clone())
                .with_handlers(self.handlers.clone(), config.timeout),
        )
    }
}

/// What the config asks for.
#[derive(Clone, Copy)]
struct Ask {
    /// Try the modern wire.
    modern: bool,
    /// Fall back to (or go straight to) the handshake; the version we offer.
    handshake: Option<&'static str>,
}

fn ask(choice: &ProtocolChoice) -> Ask {
    match choice {
        ProtocolChoice::Version(v) if modern::is_modern(v) => Ask { modern: true, handshake: None },
        ProtocolChoice::Version(v) => {
            Ask { modern: false, handshake: protocol::SUPPORTED_PROTOCOL_VERSIONS.iter().copied().find(|s| s == v) }
        }
        _ => Ask { modern: true, handshake: Some(protocol::SUPPORTED_PROTOCOL_VERSIONS[0]) },
    }
}

/// The cache key of a server: its endpoint (origin and path, no user info or query) or its
/// command line.
fn key(config: &ServerConfig) -> String {
    match &config.transport {
        TransportConfig::Stdio { command, args, cwd, .. } => {
            format!("stdio\0{command}\0{}\0{:?}", args.join("\0"), cwd)
        }
        TransportConfig::Sse { url } | TransportConfig::StreamableHttp { url } | TransportConfig::Http { url } => {
            crate::url::redacted(url)
        }
    }
}

/// Connects as the config says, detecting (or remembering) the protocol and transport.
pub(crate) fn connect(config: &ServerConfig, parts: &Parts<'_>) -> Result<Connected> {
    let auto = config.protocol == ProtocolChoice::Auto;
    let key = key(config);
    if auto && let Some(verdict) = remembered(&key) {
        log::debug!("op={} server={}: remembered: {verdict:?}", parts.op, config.name);
        match connect_as(config, parts, verdict) {
            Ok(c) => return Ok(c),
            Err(e @ (Error::Timeout { .. } | Error::Connect { .. } | Error::Closed { .. } | Error::Auth { .. })) => {
                return Err(e);
            }
            Err(e) => {
                log::info!(
                    "op={} server={}: the remembered protocol failed ({e}); detecting again",
                    parts.op,
                    config.name
                );
                forget(&key);
            }
        }
    }
    let connected = detect(config, parts)?;
    if auto {
        let modern = connected
            .session
            .modern_version()
            .and_then(|v| protocol::MODERN_PROTOCOL_VERSIONS.iter().copied().find(|m| *m == v));
        remember(&key, Verdict { wire: connected.wire, modern });
    }
    Ok(connected)
}

/// Connects with a known verdict: no probing.
fn connect_as(config: &ServerConfig, parts: &Parts<'_>, verdict: Verdict) -> Result<Connected> {
    let ask = match verdict.modern {
        Some(_) => Ask { modern: true, handshake: None },
        None => Ask { modern: false, handshake: Some(protocol::SUPPORTED_PROTOCOL_VERSIONS[0]) },
    };
    match (&config.transport, verdict.wire) {
        (TransportConfig::Stdio { .. }, _) => stdio(config, parts, ask),
        (_, Wire::Sse) => {
            sse(config, parts, url_of(config), ask.handshake.unwrap_or(protocol::SUPPORTED_PROTOCOL_VERSIONS[0]))
        }
        (_, _) => streamable(config, parts, url_of(config), ask),
    }
}

fn url_of(config: &ServerConfig) -> &str {
    match &config.transport {
        TransportConfig::Sse { url } | TransportConfig::StreamableHttp { url } | TransportConfig::Http { url } => url,
        TransportConfig::Stdio { command, .. } => command,
    }
}

fn detect(config: &ServerConfig, parts: &Parts<'_>) -> Result<Connected> {
    let ask = ask(&config.protocol);
    match &config.transport {
        TransportConfig::Stdio { .. } => stdio(config, parts, ask),
        TransportConfig::StreamableHttp { url } => streamable(config, parts, url, ask),
        TransportConfig::Http { url } => match streamable(config, parts, url, ask) {
            Err(Error::Http { status: 400 | 404 | 405, .. }) if ask.handshake.is_some() => {
                log::debug!("op={} server={}: no Streamable HTTP here; trying legacy HTTP+SSE", parts.op, config.name);
                sse(config, parts, url, ask.handshake.unwrap_or(protocol::SUPPORTED_PROTOCOL_VERSIONS[0]))
            }
            other => other,
        },
        TransportConfig::Sse { url } => {
            let Some(offer) = ask.handshake else {
                // A pinned 2026-07-28: the legacy transport cannot carry it.
                return streamable(config, parts, url, ask);
            };
            match sse(config, parts, url, offer) {
                Err(e @ (Error::Http { status: 400 | 404 | 405, .. } | Error::Protocol { .. })) => {
                    let found = streamable(config, parts, url, ask).map_err(|_| e)?;
                    log::warn!(
                        "op={} server={}: the URL does not serve legacy HTTP+SSE but Streamable HTTP (protocol {}); \
                         configure `transport: http` (or `streamable_http`)",
                        parts.op,
                        config.name,
                        found.init.protocol_version
                    );
                    Ok(found)
                }
                other => other,
            }
        }
    }
}

/// Whether a failed `server/discover` says "not a modern server here" (fall back), rather than
/// "this failed" (an error) or "modern, but" (surface it).
fn falls_back(e: &Error) -> bool {
    match e {
        Error::Rpc { code, .. } => ![modern::HEADER_MISMATCH, modern::MISSING_CAPABILITY].contains(code),
        Error::Http { status, .. } => (400..500).contains(status) && ![401, 403].contains(status),
        Error::Protocol { .. } => true,
        _ => false,
    }
}

/// A session that failed its set-up: closed off the caller's path.
fn discard(session: Session) {
    super::close_in_background(session);
}

fn streamable(config: &ServerConfig, parts: &Parts<'_>, url: &str, ask: Ask) -> Result<Connected> {
    let router = parts.router(config);
    let auth = parts.credentials();
    let options = HttpOptions { request_timeout: config.timeout, max_event_bytes: parts.max_event_bytes, auth };
    let transport: Arc<dyn Transport> =
        Arc::new(StreamableHttpTransport::connect(url, &config.headers, router.clone(), &options, parts.op)?);
    let session =
        Session::new(config.name.as_str().into(), router, transport, config.timeout).with_log_level(config.log_level);
    probe_then_handshake(session, parts, ask, Wire::StreamableHttp, parts.deadline)
}

fn sse(config: &ServerConfig, parts: &Parts<'_>, url: &str, offer: &'static str) -> Result<Connected> {
    let router = parts.router(config);
    let options = SseOptions {
        request_timeout: config.timeout,
        max_event_bytes: parts.max_event_bytes,
        auth: parts.credentials(),
    };
    let transport: Arc<dyn Transport> =
        Arc::new(SseTransport::connect(url, &config.headers, router.clone(), &options, parts.op, parts.deadline)?);
    let session =
        Session::new(config.name.as_str().into(), router, transport, config.timeout).with_log_level(config.log_level);
    handshake(session, parts, offer, Wire::Sse)
}

/// stdio: a new process, `server/discover` first (when asked), else `initialize` on the same
/// process. A process that ends (exits, or closes its output) in answer to the probe — as some
/// handshake-era servers do on an unknown method — is started again, once, straight into
/// `initialize` (the spec's stdio fallback; a pinned 2026-07-28 does not fall back).
fn stdio(config: &ServerConfig, parts: &Parts<'_>, ask: Ask) -> Result<Connected> {
    let session = spawn_stdio(config, parts)?;
    let probe = parts.deadline.min(crate::transport::deadline_in(STDIO_PROBE.min(config.timeout / 2)));
    match probe_then_handshake(session, parts, ask, Wire::Stdio, probe) {
        Err(e @ Error::ConnectionClosed { .. }) if ask.modern && e.method() == Some("server/discover") => {
            let Some(offer) = ask.handshake else { return Err(e) };
            log::info!(
                "op={} server={}: the server ended in answer to the server/discover probe ({e}); \
                 starting it again for initialize",
                parts.op,
                config.name
            );
            let session = spawn_stdio(config, parts)?;
            handshake(session, parts, offer, Wire::Stdio)
        }
        other => other,
    }
}

/// Starts a stdio server's process: a session on it, nothing sent yet.
fn spawn_stdio(config: &ServerConfig, parts: &Parts<'_>) -> Result<Session> {
    let TransportConfig::Stdio { command, args, env, cwd } = &config.transport else {
        return Err(Error::Connect { server: config.name.clone(), op: parts.op.clone(), detail: "not stdio".into() });
    };
    let spec = StdioSpec {
        command,
        args,
        env,
        cwd: cwd.as_deref(),
        max_line_bytes: parts.max_event_bytes,
        processes: parts.processes,
    };
    let router = parts.router(config);
    let transport: Arc<dyn Transport> = Arc::new(StdioTransport::spawn(&spec, router.clone(), parts.op)?);
    Ok(Session::new(config.name.as_str().into(), router, transport, config.timeout).with_log_level(config.log_level))
}

/// `server/discover` (when asked, until `probe_deadline`), else the handshake on the same
/// connection.
fn probe_then_handshake(
    session: Session,
    parts: &Parts<'_>,
    ask: Ask,
    wire: Wire,
    probe_deadline: Instant,
) -> Result<Connected> {
    let op = parts.op;
    if ask.modern {
        session.set_modern(Some(modern::MODERN_PROTOCOL_VERSIONS[0]));
        let fallback = match session.discover(op, probe_deadline) {
            Ok(Some(found)) => match found.mutual_version() {
                Some(version) => {
                    session.set_modern(Some(version));
                    let init = InitializeResult::from_discover(version, &found);
                    return Ok(Connected { session, init, wire, discover_ttl: found.ttl() });
                }
                None => format!("it speaks {:?}", found.supported_versions),
            },
            Ok(None) => "its answer is not a discover result".to_string(),
            // stdio: any error, or no answer in time, means "not modern" (if the process lives on).
            Err(e) if (wire == Wire::Stdio && falls_back_stdio(&e)) || (wire != Wire::Stdio && falls_back(&e)) => {
                e.to_string()
            }
            Err(e) => {
                discard(session);
                return Err(e);
            }
        };
        let Some(offer) = ask.handshake else {
            let e = session.protocol(
                op,
                "server/discover",
                format!("the server does not speak protocol 2026-07-28 ({fallback})"),
            );
            discard(session);
            return Err(e);
        };
        log::debug!("op={op} server={}: not the 2026-07-28 wire ({fallback}); initializing", session.name);
        session.set_modern(None);
        return handshake(session, parts, offer, wire);
    }
    let offer = ask.handshake.unwrap_or(protocol::SUPPORTED_PROTOCOL_VERSIONS[0]);
    handshake(session, parts, offer, wire)
}

/// On stdio everything but a recognised modern error or the end of the process falls back (a
/// timeout included).
fn falls_back_stdio(e: &Error) -> bool {
    match e {
        Error::Rpc { code, .. } => ![modern::HEADER_MISMATCH, modern::MISSING_CAPABILITY].contains(code),
        Error::ConnectionClosed { .. } | Error::Closed { .. } | Error::Limit { .. } => false,
        _ => true,
    }
}

fn handshake(session: Session, parts: &Parts<'_>, offer: &'static str, wire: Wire) -> Result<Connected> {
    let op = parts.op;
    match session.handshake_offering(op, parts.deadline, offer) {
        Ok(init) => Ok(Connected { session, init, wire, discover_ttl: None }),
        // A stdio server that our late probe locked into the modern era: probe once more.
        Err(Error::Rpc { code, data, .. }) if code == modern::UNSUPPORTED_VERSION && wire == Wire::Stdio => {
            let supported = modern::supported_versions(data.as_deref());
            let Some(version) = modern::mutual(&supported, protocol::MODERN_PROTOCOL_VERSIONS) else {
                let e = session.protocol(
                    op,
                    "initialize",
                    format!("no mutual protocol version: the server speaks {supported:?}"),
                );
                discard(session);
                return Err(e);
            };
            session.set_modern(Some(version));
            match session.discover(op, parts.deadline) {
                Ok(Some(found)) => {
                    let init = InitializeResult::from_discover(version, &found);
                    Ok(Connected { session, init, wire, discover_ttl: found.ttl() })
                }
                Ok(None) => {
                    let e = session.protocol(op, "server/discover", "the answer is not a discover result".into());
                    discard(session);
                    Err(e)
                }
                Err(e) => {
                    discard(session);
                    Err(e)
                }
            }
        }
        Err(e) => {
            discard(session);
            Err(e)
        }
    }
}
