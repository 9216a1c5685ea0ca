//! The HTTP layer both HTTP transports share: agents, the resolver, request headers, error
//! bodies, redirects and the event-stream pump. Nothing else calls ureq.
//!
//! - Agents never follow a redirect: a 3xx is an [`Error::Http`] naming the target's origin (never
//!   its path or query), so configured headers never reach another origin and a POST never turns
//!   into a GET.
//! - Every request is bounded by a [`Deadline`]; what reaches ureq is [`Deadline::for_ureq`].
//! - The resolver connects IP literals directly and bounds a name lookup by the request's
//!   deadline, on a named thread (`mcp-dns`) that exits when the system lookup returns.
//! - Every request carries the configured headers, the op id header, and Basic auth from the
//!   URL's user info (unless an `Authorization` header is configured).

use std::io::Read;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use crossbeam_channel::RecvTimeoutError;
use ureq::Agent;
use ureq::http::Response;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use crate::config::Headers;
use crate::deadline::{Deadline, Phase};
use crate::error::Error;
use crate::op::{OP_ID_HEADER, OpId};
use crate::sse::{Event, EventParser};
use crate::url::Url;

use super::excerpt;

/// The most bytes of an error response body we read (the rest is discarded).
pub(crate) const ERROR_BODY_LIMIT: u64 = 64 * 1024;

/// ureq's per-connection buffers. Its defaults (128 KiB each way) cost 256 KiB of memory per
/// connection, two or more connections per server; our requests are small JSON, and the
/// event-stream parser assembles large events itself, so small buffers do. Response headers
/// must fit in the input buffer, a request's head (with configured headers and a token) in
/// the output buffer.
pub(crate) const HTTP_INPUT_BUFFER: usize = 16 * 1024;
pub(crate) const HTTP_OUTPUT_BUFFER: usize = 8 * 1024;

const USER_AGENT: &str = concat!("mcp-orchestrator/", env!("CARGO_PKG_VERSION"));

fn agent(max_idle: usize) -> Agent {
    let config = Agent::config_builder()
        .input_buffer_size(HTTP_INPUT_BUFFER)
        .output_buffer_size(HTTP_OUTPUT_BUFFER)
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .max_idle_connections_per_host(max_idle)
        .user_agent(USER_AGENT)
        .build();
    Agent::with_parts(config, DefaultConnector::default(), DeadlineResolver { lookup: system_lookup })
}

/// The agent for requests: its idle connections are reused; each request is bounded by its
/// deadline ([`bounded`]).
pub(crate) fn request_agent() -> Agent {
    agent(64)
}

/// The agent that owns one long-lived event stream: the request up to the response headers is
/// bounded ([`stream_request`]); the stream's reads are not (close interrupts them with
/// `Agent::shutdown`).
pub(crate) fn stream_agent() -> Agent {
    agent(1)
}

/// What a request is for: names the server, method and op in its errors.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub server: &'a str,
    pub method: &'a str,
    pub op: &'a OpId,
}

impl Ctx<'_> {
    pub(crate) fn timeout(&self, phase: Phase, after: Duration) -> Error {
        Error::Timeout { server: self.server.into(), method: self.method.into(), op: self.op.clone(), phase, after }
    }

    pub(crate) fn closed(&self, detail: String) -> Error {
        Error::ConnectionClosed { server: self.server.into(), method: self.method.into(), op: self.op.clone(), detail }
    }

    pub(crate) fn protocol(&self, detail: String) -> Error {
        Error::Protocol { server: self.server.into(), method: self.method.into(), op: self.op.clone(), detail }
    }

    pub(crate) fn connect(&self, detail: String) -> Error {
        Error::Connect { server: self.server.into(), op: self.op.clone(), detail }
    }

    pub(crate) fn http(&self, status: u16, body: &str) -> Error {
        Error::Http {
            server: self.server.into(),
            method: self.method.into(),
            op: self.op.clone(),
            status,
            body: excerpt(body.trim(), 200),
        }
    }

    /// The error of a failed ureq call; `body` is the phase of a timeout in a body read.
    pub(crate) fn ureq(&self, e: ureq::Error, after: Duration, body: Phase) -> Error {
        match e {
            ureq::Error::Timeout(t) => self.timeout(Phase::of_ureq(t, body), after),
            e => self.closed(format!("request failed: {}", describe(&e))),
        }
    }
}

/// A ureq error for a message: never a URL (which may carry a secret in its query).
pub(crate) fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::BadUri(_) => "invalid URL".into(),
        ureq::Error::Http(_) => "invalid HTTP request".into(),
        e => e.to_string(),
    }
}

/// Adds the op id header, the configured headers and Basic auth from the URL's user info.
pub(crate) fn with_headers<B>(
    mut request: ureq::RequestBuilder<B>,
    url: &Url,
    headers: &Headers,
    op: &OpId,
) -> ureq::RequestBuilder<B> {
    request = request.header(OP_ID_HEADER, op.as_str());
    let mut authorization = false;
    for (name, value) in headers.iter() {
        authorization |= name.eq_ignore_ascii_case("authorization");
        request = request.header(name, value);
    }
    if !authorization && let Some(basic) = url.basic_auth() {
        request = request.header("Authorization", basic);
    }
    request
}

/// Bounds the whole request, body read included, by the deadline.
pub(crate) fn bounded<B>(request: ureq::RequestBuilder<B>, deadline: Deadline) -> ureq::RequestBuilder<B> {
    request.config().timeout_global(Some(deadline.for_ureq())).build()
}

/// Bounds an event stream's request up to its response headers by the deadline; its body is
/// not bounded.
pub(crate) fn stream_request<B>(request: ureq::RequestBuilder<B>, deadline: Deadline) -> ureq::RequestBuilder<B> {
    let t = Some(deadline.for_ureq());
    request.config().timeout_resolve(t).timeout_connect(t).timeout_send_request(t).timeout_recv_response(t).build()
}

/// A 3xx: never followed. The error names the target's origin, never its path or query.
pub(crate) fn redirect_error(response: &Response<ureq::Body>, base: &Url, ctx: Ctx<'_>) -> Option<Error> {
    let status = response.status().as_u16();
    if !(300..400).contains(&status) {
        return None;
    }
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("");
    let target = match base.join(location) {
        Ok(u) => u.origin(),
        Err(_) => "an invalid location".to_string(),
    };
    Some(ctx.http(status, &format!("redirect to {target} not followed")))
}

/// The start of an error response's body, read within the deadline. A body that stalls on a
/// stream agent (no body timeout) is cut off by shutting that agent down at the deadline, from a
/// named watchdog thread that is joined before this returns.
pub(crate) fn error_body(
    response: &mut Response<ureq::Body>,
    deadline: Deadline,
    stream_agent: Option<&Agent>,
    server: &str,
) -> String {
    let read = |r: &mut Response<ureq::Body>| {
        r.body_mut()
            .with_config()
            .limit(ERROR_BODY_LIMIT)
            .read_to_vec()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    let Some(agent) = stream_agent else {
        return read(response).unwrap_or_default();
    };
    let (tx, rx) = crossbeam_channel::bounded::<()>(0);
    let agent = agent.clone();
    let until = deadline.instant();
    let watchdog = std::thread::Builder::new().name(format!("mcp-http-watchdog:{server}")).spawn(move || {
        if rx.recv_deadline(until) == Err(RecvTimeoutError::Timeout) {
            agent.shutdown();
        }
    });
    let Ok(watchdog) = watchdog else {
        return String::new(); // no way to bound the read: do not read
    };
    let text = read(response).unwrap_or_default();
    drop(tx);
    let _ = watchdog.join();
    text
}

/// Reads a JSON reply body of at most `limit` bytes within the request's own bound. Bytes that
/// are not UTF-8 are a protocol error, not a closed connection.
pub(crate) fn json_body(
    response: &mut Response<ureq::Body>,
    limit: usize,
    after: Duration,
    ctx: Ctx<'_>,
) -> Result<String, Error> {
    let bytes = match response.body_mut().with_config().limit(limit as u64).read_to_vec() {
        Ok(b) => b,
        Err(ureq::Error::BodyExceedsLimit(_)) => {
            return Err(Error::Limit {
                server: ctx.server.into(),
                method: ctx.method.into(),
                op: ctx.op.clone(),
                what: "reply size",
                limit,
            });
        }
        Err(ureq::Error::Timeout(t)) => return Err(ctx.timeout(Phase::of_ureq(t, Phase::ReadingReply), after)),
        Err(e) => return Err(ctx.closed(format!("reading the reply failed: {}", describe(&e)))),
    };
    String::from_utf8(bytes)
        .map_err(|e| ctx.protocol(format!("the reply is not UTF-8 (at byte {})", e.utf8_error().valid_up_to())))
}

/// The response's content type, lowercase.
pub(crate) fn content_type(response: &Response<ureq::Body>) -> String {
    response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase()
}

/// How an event stream ended.
#[derive(Debug)]
pub(crate) enum PumpEnd {
    /// The server ended it.
    Eof,
    /// `on_event` asked to stop.
    Stopped,
    /// An event broke the size limit.
    Limit(usize),
    /// A read failed (or was interrupted by close).
    Read(std::io::Error),
}

/// How much of an event stream [`pump`] takes from ureq at a time. ureq's own input buffer
/// ([`HTTP_INPUT_BUFFER`]) is what the socket is read into; this is only the hand-over to the
/// parser, which assembles events itself, so a small chunk on the stack does (a 32 KiB heap
/// buffer here was 1.6 MB of a 50-session gather's heap, though mostly untouched pages).
const PUMP_CHUNK: usize = 4 * 1024;

/// Reads an event stream into `parser`, handing each event to `on_event` until it returns false,
/// the stream ends, or it breaks a limit. Used by both HTTP transports.
pub(crate) fn pump(mut body: impl Read, parser: &mut EventParser, mut on_event: impl FnMut(Event) -> bool) -> PumpEnd {
    let mut events = Vec::new();
    let mut buf = [0u8; PUMP_CHUNK];
    loop {
        match body.read(&mut buf) {
            Ok(0) => return PumpEnd::Eof,
            Ok(n) => {
                let fed = parser.feed(&buf[..n], &mut events);
                for event in events.drain(..) {
                    if !on_event(event) {
                        return PumpEnd::Stopped;
                    }
                }
                if let Err(e) = fed {
                    return PumpEnd::Limit(e.limit);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return PumpEnd::Read(e),
        }
    }
}

/// The answer to a small non-MCP request ([`exchange`]): OAuth discovery, registration, tokens.
pub(crate) struct Exchanged {
    /// The HTTP status.
    pub status: u16,
    /// The `Location` header of a 3xx (never followed).
    pub location: Option<String>,
    /// The body, read up to the limit (an over-long body is an [`Error::Limit`]).
    pub body: String,
}

/// One small request that is not MCP (used by `auth/`): `GET` without a body or `POST` with
/// `body = (content type, bytes)`, extra headers, bounded by the deadline, no redirect followed
/// (a 3xx comes back with its `Location`), the body read up to `limit` bytes. No configured
/// header and no URL user info is sent.
pub(crate) fn exchange(
    agent: &Agent,
    url: &Url,
    headers: &[(&str, String)],
    body: Option<(&str, &[u8])>,
    limit: usize,
    deadline: Deadline,
    ctx: Ctx<'_>,
) -> Result<Exchanged, Error> {
    let after = deadline.remaining();
    if deadline.is_past() {
        return Err(ctx.timeout(Phase::BeforeSending, after));
    }
    let result = match body {
        None => {
            let mut request = agent.get(url.request_target()).header(OP_ID_HEADER, ctx.op.as_str());
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            bounded(request, deadline).call()
        }
        Some((content_type, bytes)) => {
            let mut request = agent
                .post(url.request_target())
                .header(OP_ID_HEADER, ctx.op.as_str())
                .header("Content-Type", content_type);
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            bounded(request, deadline).send(bytes)
        }
    };
    let mut response = result.map_err(|e| match e {
        ureq::Error::Timeout(_) => ctx.ureq(e, after, Phase::ReadingReply),
        e => ctx.connect(format!("{} unreachable: {}", url.origin(), describe(&e))),
    })?;
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
    let status = response.status().as_u16();
    let body = json_body(&mut response, limit, after, ctx)?;
    Ok(Exchanged { status, location, body })
}

/// A system name lookup (blocking).
type Lookup = fn(&str, u16) -> std::io::Result<Vec<SocketAddr>>;

fn system_lookup(host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    (host, port).to_socket_addrs().map(Iterator::collect)
}

/// ureq's resolver: IP literals need no lookup (and no thread); a name is looked up on a named
/// thread and waited for no longer than the request's deadline. The thread is not joined: it
/// exits when the system lookup returns (bounded by the system resolver's own timeouts).
#[derive(Debug)]
struct DeadlineResolver {
    lookup: Lookup,
}

#[cfg(test)]
thread_local! {
    /// Lookup threads started from this thread (tests observe that IP literals start none).
    static LOOKUP_THREADS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl Resolver for DeadlineResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().ok_or(ureq::Error::HostNotFound)?;
        let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("https") { 443 } else { 80 });
        let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        let found: Vec<SocketAddr> = if let Ok(ip) = host.parse::<IpAddr>() {
            vec![SocketAddr::new(ip, port)]
        } else if timeout.after.is_not_happening() {
            (self.lookup)(host, port)?
        } else {
            let (tx, rx) = crossbeam_channel::bounded(1);
            let (lookup, name) = (self.lookup, host.to_string());
            #[cfg(test)]
            LOOKUP_THREADS.with(|n| n.set(n.get() + 1));
            std::thread::Builder::new()
                .name("mcp-dns".into())
                .spawn(move || {
                    let _ = tx.send(lookup(&name, port));
                })
                .map_err(ureq::Error::Io)?;
            match rx.recv_timeout(*timeout.after) {
                Ok(found) => found?,
                Err(RecvTimeoutError::Timeout) => return Err(ureq::Error::Timeout(timeout.reason)),
                Err(RecvTimeoutError::Disconnected) => return Err(ureq::Error::HostNotFound),
            }
        };
        let mut result = ResolvedSocketAddrs::from_fn(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        for addr in config.ip_family().keep_wanted(found.into_iter()).take(16) {
            result.push(addr);
        }
        if result.is_empty() { Err(ureq::Error::HostNotFound) } else { Ok(result) }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn resolve(resolver: &DeadlineResolver, url: &str, after: Duration) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let timeout = NextTimeout { after: after.into(), reason: ureq::Timeout::Resolve, ..NextTimeout::default() };
        resolver.resolve(&url.parse().unwrap(), &ureq::config::Config::default(), timeout)
    }

    #[test]
    fn ip_literals_are_not_looked_up_and_start_no_thread() {
        fn never(_: &str, _: u16) -> std::io::Result<Vec<SocketAddr>> {
            panic!("an IP literal must not be looked up")
        }
        let resolver = DeadlineResolver { lookup: never };
        let before = LOOKUP_THREADS.with(|n| n.get());
        let v4 = resolve(&resolver, "http://127.0.0.1:8000/sse", Duration::from_secs(5)).unwrap();
        assert_eq!(v4.iter().collect::<Vec<_>>(), [&"127.0.0.1:8000".parse::<SocketAddr>().unwrap()]);
        let v6 = resolve(&resolver, "https://[::1]/mcp", Duration::from_secs(5)).unwrap();
        assert_eq!(v6.iter().collect::<Vec<_>>(), [&"[::1]:443".parse::<SocketAddr>().unwrap()]);
        assert_eq!(LOOKUP_THREADS.with(|n| n.get()), before);
    }

    #[test]
    fn a_name_lookup_is_bounded_by_the_deadline() {
        fn slow(_: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
            std::thread::sleep(Duration::from_secs(3));
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
        }
        let resolver = DeadlineResolver { lookup: slow };
        let started = Instant::now();
        let err = resolve(&resolver, "http://slow.example:80/", Duration::from_millis(100)).unwrap_err();
        assert!(matches!(err, ureq::Error::Timeout(ureq::Timeout::Resolve)), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
        fn quick(_: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
            Ok(vec![SocketAddr::from(([10, 0, 0, 1], port))])
        }
        let found = resolve(&DeadlineResolver { lookup: quick }, "http://h:81/", Duration::from_secs(5)).unwrap();
        assert_eq!(found.iter().collect::<Vec<_>>(), [&"10.0.0.1:81".parse::<SocketAddr>().unwrap()]);
    }

    #[test]
    fn the_lookup_thread_is_named() {
        fn name(_: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
            assert_eq!(std::thread::current().name(), Some("mcp-dns"));
            Ok(vec![SocketAddr::from(([10, 0, 0, 1], port))])
        }
        resolve(&DeadlineResolver { lookup: name }, "http://h:81/", Duration::from_secs(5)).unwrap();
    }
}
