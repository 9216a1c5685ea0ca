//! [`Session`]: the protocol on one connection, whatever the transport — request ids, the
//! pending table (through the [`Router`]), the handshake, deadlines, cancellation, close.
//!
//! A request is made in two steps: [`Session::start`] registers it and sends it from the
//! caller's thread; [`Session::finish`] waits for its answer until the deadline. A request that
//! passes its deadline is forgotten at once and the caller gets its `Timeout`; telling the server
//! (`notifications/cancelled`) is clean-up, done off the caller's path by the session's
//! [`Cleanup`] thread.
//!
//! # Two wires
//!
//! A session speaks the `initialize` handshake era (2024-11-05 … 2025-11-25) or the stateless
//! 2026-07-28 wire ([`Session::set_modern`]). On the modern wire every request's params carry the
//! `_meta` envelope (protocol version, the session's client capabilities, client info), and every
//! request goes out with the routing headers `MCP-Protocol-Version`, `Mcp-Method` and, for
//! `tools/call`, `prompts/get` and `resources/read` (its name or URI) and `tasks/*` (its
//! `taskId`), `Mcp-Name` (transports without headers, stdio, ignore them). A result's `resultType` is checked: absent or `complete` is a result,
//! `input_required` goes to [`Session::finish_outcome`]'s caller, `task` (a `tools/call` only)
//! is returned as a result for the client layer to drive (`client/tasks.rs`), anything else is
//! a protocol error. A `-32022` (unsupported version) is answered by switching to a mutual version and
//! sending the request once more, with a new id.
//!
//! # Lost replies
//!
//! A transport that loses a reply after the request went out (a Streamable HTTP reply stream
//! that broke and could not be resumed) fails the request with `Reply::Lost`. Listings, reads,
//! `prompts/get`, `server/discover`, `ping` and `tasks/get` are then sent once more with a new
//! id, within the caller's deadline; a `tools/call` only when [`RequestOptions::idempotent`]
//! says the tool is annotated `readOnlyHint` or `idempotentHint` (the client knows from its last
//! listing).
//! Otherwise the caller gets `Error::ConnectionClosed` saying the call may have run.
//!
//! Extra `_meta` keys, extra headers and a request's own client capabilities go in
//! [`RequestOptions`] ([`Session::start_with`]); the session-wide capabilities are
//! [`Session::set_client_capabilities`].

mod cleanup;
pub(crate) mod detect;
// The cache hints of the results a gather collects (owner: listen).
mod hints;
// `subscriptions/listen` on its own thread (owner: listen).
pub(crate) mod listen;
// Multi round-trip requests (2026-07-28), answered through the handlers (owner: conformance).
pub(crate) mod input_required;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::jsonrpc::{self, RequestId};
use crate::op::OpId;
use crate::protocol::modern::{self, ResultKind};
use crate::protocol::{self, DiscoverResult, InitializeResult};
use crate::transport::{Reply, Router, Transport, deadline_in};

pub(crate) use cleanup::Cleanup;

/// How long the clean-up thread spends telling a server about one request we gave up on.
pub(crate) const CANCEL_DEADLINE: Duration = Duration::from_secs(2);

/// What a request carries beyond its params (the modern wire only; the handshake era ignores
/// all of it).
#[derive(Clone, Debug, Default)]
pub(crate) struct RequestOptions {
    /// Extra `_meta` keys (`progressToken`, …); the envelope's own keys win over them.
    pub meta: Map<String, Value>,
    /// Extra HTTP headers (`Mcp-Param-*`).
    pub headers: Vec<(String, String)>,
    /// This request's client capabilities, instead of the session's.
    pub capabilities: Option<Value>,
    /// `tools/call` only: whether the tool is annotated `readOnlyHint` or `idempotentHint` in
    /// the client's last listing (`None`: unknown). Only such a call is sent again when its
    /// reply is lost.
    pub idempotent: Option<bool>,
    /// Cancels the request when this channel disconnects (its sender dropped) before the
    /// answer came: the wait ends with `Error::ConnectionClosed` and the server is told
    /// (`notifications/cancelled`, off the caller's path). Both eras.
    pub cancel: Option<Receiver<()>>,
}

/// A request sent and awaiting its answer.
pub(crate) struct Call {
    id: RequestId,
    rx: Receiver<Reply>,
    method: &'static str,
    op: OpId,
    sent: Instant,
    /// `params.name` or `params.uri`: what the request is about (errors name it).
    target: Option<String>,
    /// Whether it went out on the 2026-07-28 wire.
    modern: bool,
    /// What it takes to send the request again (a `-32022` on the modern wire, a lost reply):
    /// its params (without the envelope) and options. Kept only when it may be needed.
    again: Option<Box<(Option<Value>, RequestOptions)>>,
    /// Whether a lost reply may be answered by sending the request again (`Ok`), or why not.
    resend: std::result::Result<(), &'static str>,
    /// Disconnects when the caller cancels ([`RequestOptions::cancel`]).
    cancel: Option<Receiver<()>>,
}

/// Whether a request whose reply was lost may be sent again with a new id (`Ok`), or why not:
/// listings, reads, `prompts/get`, `server/discover`, `ping` and `tasks/get` change nothing on
/// the server;
/// a `tools/call` only when the tool is annotated read-only or idempotent.
fn resend_policy(method: &str, options: &RequestOptions) -> std::result::Result<(), &'static str> {
    match method {
        "tools/call" => match options.idempotent {
            Some(true) => Ok(()),
            Some(false) => Err("the tool is not annotated readOnlyHint or idempotentHint"),
            None => Err("the tool's annotations are unknown (the tools were not listed on this session)"),
        },
        "resources/read" | "prompts/get" | "server/discover" | "ping" | "tasks/get" => Ok(()),
        m if m.ends_with("/list") => Ok(()),
        _ => Err("only listings, reads and idempotent tool calls are sent again"),
    }
}

/// What a modern-wire result is.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// A result (`resultType` absent or `complete`).
    Complete(Box<RawValue>),
    /// `resultType: input_required`: the server asks for input before it answers.
    InputRequired(Box<RawValue>),
}

/// The transport-independent half of a client: ids, the pending table, deadlines, cancellation.
pub(crate) struct Session {
    pub(crate) name: Arc<str>,
    pub(crate) router: Arc<Router>,
    pub(crate) transport: Arc<dyn Transport>,
    next_id: AtomicI64,
    pub(crate) timeout: Duration,
    closed: AtomicBool,
    cleanup: Cleanup,
    /// `Some(version)` on the 2026-07-28 wire.
    modern: Mutex<Option<String>>,
    /// The client capabilities the modern envelope declares.
    capabilities: Mutex<Value>,
    /// The cache hints collected for the ops that asked ([`Session::collect_hints`]).
    hints: hints::Collected,
    /// The `subscriptions/listen` thread, if one runs (the modern wire).
    listener: Mutex<Option<listen::Listener>>,
    /// The config's `log_level`: on the modern wire every request's `_meta` carries it.
    log_level: Option<protocol::LoggingLevel>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Session {
    /// A session over a connected transport; nothing is sent yet.
    pub(crate) fn new(name: Arc<str>, router: Arc<Router>, transport: Arc<dyn Transport>, timeout: Duration) -> Self {
        let cleanup = Cleanup::new(name.clone(), transport.clone());
        // One kind per registered handler (handlers.rs), and the tasks extension.
        let capabilities = Mutex::new(router.modern_capabilities());
        Session {
            name,
            router,
            transport,
            next_id: AtomicI64::new(1),
            timeout,
            closed: AtomicBool::new(false),
            cleanup,
            modern: Mutex::new(None),
            capabilities,
            hints: hints::Collected::default(),
            listener: Mutex::new(None),
            log_level: None,
        }
    }

    /// The same session asking for log messages from `level` up in every modern request's
    /// `_meta` (`io.modelcontextprotocol/logLevel`).
    pub(crate) fn with_log_level(mut self, level: Option<protocol::LoggingLevel>) -> Self {
        self.log_level = level;
        self
    }

    /// Speaks the 2026-07-28 wire at `version` from now on (`None`: the handshake era).
    pub(crate) fn set_modern(&self, version: Option<&str>) {
        *lock(&self.modern) = version.map(str::to_string);
        self.transport.set_modern(version.is_some());
    }

    /// The modern wire's version, if the session speaks it.
    pub(crate) fn modern_version(&self) -> Option<String> {
        lock(&self.modern).clone()
    }

    /// The client capabilities every modern request declares (default `{}`). Declare a kind
    /// only when a handler for it is registered.
    #[allow(dead_code)] // the server-request handlers set it
    pub(crate) fn set_client_capabilities(&self, capabilities: Value) {
        *lock(&self.capabilities) = capabilities;
    }

    /// `server/discover` at the session's modern version (a `-32022` is retried once with a
    /// mutual version). `Ok(None)`: the answer is not a discover result (a handshake-era server).
    pub(crate) fn discover(&self, op: &OpId, deadline: Instant) -> Result<Option<DiscoverResult>> {
        let call = self.start_with(op, "server/discover", None, deadline, &RequestOptions::default())?;
        let raw = self.finish_raw(call, deadline)?;
        Ok(DiscoverResult::parse(raw.get()))
    }

    /// On the modern wire, starts the `subscriptions/listen` thread (`session/listen.rs`) for
    /// the change notifications `capabilities` advertise. Nothing on the handshake era (its
    /// notifications come on the transport's own stream) or when nothing is advertised.
    pub(crate) fn listen(&self, capabilities: &protocol::ServerCapabilities, op: &OpId) {
        if let Some(filter) = listen::filter(capabilities) {
            self.start_listener(filter, op);
        }
    }

    /// On the modern wire, asks the listen thread for `notifications/resources/updated` of
    /// `uris` (starting it if it does not run), when the session has a notification handler.
    pub(crate) fn watch_resources(&self, uris: Vec<String>, op: &OpId) {
        if self.router.notification_handler().is_none() {
            return;
        }
        let filter = lock(&self.listener).as_ref().map(listen::Listener::filter);
        match filter {
            Some(f) => f.set_resources(uris), // outside the lock: it may close a subscription's transport
            None if !uris.is_empty() => {
                self.start_listener(serde_json::json!({ "resourceSubscriptions": uris }), op);
            }
            None => {}
        }
    }

    /// On the modern wire, asks a running listen thread for `notifications/tasks` of the tasks
    /// `ids` (none starts one: a task waiter polls anyway).
    pub(crate) fn watch_tasks(&self, ids: Vec<String>) {
        let filter = lock(&self.listener).as_ref().map(listen::Listener::filter);
        if let Some(f) = filter {
            f.set_tasks(ids); // outside the lock: it may close a subscription's transport
        }
    }

    fn start_listener(&self, filter: Value, op: &OpId) {
        let Some(version) = self.modern_version() else { return };
        let parts = listen::Parts {
            server: self.name.clone(),
            router: self.router.clone(),
            transport: self.transport.clone(),
            version,
            filter,
            op: op.clone(),
            timeout: self.timeout,
        };
        if lock(&self.listener).is_some() || self.closed.load(Ordering::SeqCst) {
            return;
        }
        // Started without the lock; a close that ran meanwhile did not see it: stop it here.
        let Some(listener) = listen::Listener::start(parts) else { return };
        let mut slot = lock(&self.listener);
        if self.closed.load(Ordering::SeqCst) || slot.is_some() {
            drop(slot);
            listener.stop();
            self.transport.close();
            listener.join(&self.name);
            return;
        }
        *slot = Some(listener);
    }

    /// The deadline of a request made now.
    pub(crate) fn deadline(&self) -> Instant {
        deadline_in(self.timeout)
    }

    /// Whether the session is gone (closed, or the connection ended).
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst) || self.router.is_dead()
    }

    /// `initialize`, the version check, `notifications/initialized`.
    #[allow(dead_code)]
    pub(crate) fn handshake(&self, op: &OpId, deadline: Instant) -> Result<InitializeResult> {
        self.handshake_offering(op, deadline, protocol::SUPPORTED_PROTOCOL_VERSIONS[0])
    }

    /// [`Session::handshake`] offering `version`.
    pub(crate) fn handshake_offering(&self, op: &OpId, deadline: Instant, version: &str) -> Result<InitializeResult> {
        let mut params = protocol::initialize_params(self.router.capabilities());
        params["protocolVersion"] = Value::String(version.to_string());
        let call = self.start(op, "initialize", Some(&params), deadline)?;
        let init: InitializeResult = self.finish(call, deadline)?;
        protocol::check_protocol_version(&init.protocol_version).map_err(|d| self.protocol(op, "initialize", d))?;
        self.transport.set_protocol_version(&init.protocol_version);
        let body = jsonrpc::encode_notification::<()>("notifications/initialized", None);
        self.transport.send(body, "notifications/initialized", op, deadline)?;
        Ok(init)
    }

    /// Registers and sends a request. A send that times out may have reached the server: it is
    /// cancelled (off the caller's path) like a request whose answer never came.
    pub(crate) fn start<P: Serialize>(
        &self,
        op: &OpId,
        method: &'static str,
        params: Option<&P>,
        deadline: Instant,
    ) -> Result<Call> {
        let params = match params.map(serde_json::to_value).transpose() {
            Ok(p) => p,
            Err(e) => return Err(self.protocol(op, method, format!("cannot encode the params: {e}"))),
        };
        self.start_with(op, method, params, deadline, &RequestOptions::default())
    }

    /// [`Session::start`] with raw params and, on the modern wire, extra `_meta` keys, headers
    /// and capabilities.
    pub(crate) fn start_with(
        &self,
        op: &OpId,
        method: &'static str,
        params: Option<Value>,
        deadline: Instant,
        options: &RequestOptions,
    ) -> Result<Call> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::Closed { what: format!("client `{}`", self.name), op: op.clone() });
        }
        let target = params
            .as_ref()
            .and_then(|p| match method {
                "tools/call" | "prompts/get" => p.get("name"),
                "resources/read" => p.get("uri"),
                "tasks/get" | "tasks/update" | "tasks/cancel" | "tasks/result" => p.get("taskId"),
                _ => None,
            })
            .and_then(Value::as_str)
            .map(str::to_string);
        let modern = self.modern_version();
        let resend = resend_policy(method, options);
        let keep = |params: &Option<Value>| Some(Box::new((params.clone(), options.clone())));
        let (wire_params, headers, again) = match &modern {
            None => {
                let again = if resend.is_ok() { keep(&params) } else { None };
                (params, Vec::new(), again)
            }
            Some(version) => {
                let capabilities = options.capabilities.clone().unwrap_or_else(|| lock(&self.capabilities).clone());
                let mut envelope = modern::envelope(version, &capabilities);
                if let Some(level) = self.log_level {
                    envelope.insert(protocol::META_LOG_LEVEL.into(), Value::String(level.as_str().into()));
                }
                let wire = modern::with_envelope(params.clone(), envelope, &options.meta);
                let mut headers = vec![
                    ("MCP-Protocol-Version".to_string(), version.clone()),
                    ("Mcp-Method".to_string(), method.to_string()),
                ];
                if let Some(t) = &target {
                    headers.push(("Mcp-Name".into(), modern::encode_header_value(t)));
                }
                headers.extend(options.headers.iter().cloned());
                let again = keep(&params);
                (Some(wire), headers, again)
            }
        };
        let id = RequestId::Number(self.next_id.fetch_add(1, Ordering::Relaxed));
        let rx = self.router.register(id.clone(), op).map_err(|why| self.reply_error(why, op, method, None))?;
        let body = jsonrpc::encode_request(&id, method, wire_params.as_ref());
        log::debug!("op={op} server={}: -> {method} (id {id})", self.name);
        log::trace!("op={op} server={}: -> {}", self.name, String::from_utf8_lossy(&body));
        let sent = Instant::now();
        let cancel = options.cancel.clone();
        let call =
            Call { id, rx, method, op: op.clone(), sent, target, modern: modern.is_some(), again, resend, cancel };
        if let Err(e) = self.transport.send_with(body, method, op, deadline, &headers) {
            if self.router.forget(&call.id) && matches!(e, Error::Timeout { .. }) {
                self.cancel(&call, "the request could not be sent in time".into());
            }
            return Err(e);
        }
        Ok(call)
    }

    /// Waits for a request's answer until `deadline` and decodes its result.
    pub(crate) fn finish<R: DeserializeOwned>(&self, call: Call, deadline: Instant) -> Result<R> {
        let (op, method) = (call.op.clone(), call.method);
        let raw = self.finish_raw(call, deadline)?;
        self.decode(&op, method, &raw)
    }

    /// Decodes a raw result into its type.
    pub(crate) fn decode<R: DeserializeOwned>(&self, op: &OpId, method: &str, raw: &RawValue) -> Result<R> {
        serde_json::from_str(raw.get())
            .map_err(|e| self.protocol(op, method, format!("the result does not have the expected shape: {e}")))
    }

    /// Waits for a request's answer until `deadline`; the result stays raw. On the modern wire
    /// an `input_required` result is an error here (no handler answers it on this path; see
    /// [`Session::finish_outcome`]).
    pub(crate) fn finish_raw(&self, call: Call, deadline: Instant) -> Result<Box<RawValue>> {
        let (op, method) = (call.op.clone(), call.method);
        match self.finish_outcome(call, deadline)? {
            Outcome::Complete(raw) => Ok(raw),
            Outcome::InputRequired(_) => Err(self.protocol(
                &op,
                method,
                "the server asked for input (resultType input_required) and no handler answers it".into(),
            )),
        }
    }

    /// [`Session::finish_raw`], telling a result from an `input_required` one (modern wire).
    ///
    /// Two answers are met by sending the request once more, with a new id, within the same
    /// deadline: a `-32022` (modern wire: the session switches to a mutual version first), and a
    /// lost reply (a reply stream that broke and could not be resumed) of a request that is safe
    /// to repeat ([`resend_policy`]). Any other lost reply is an error saying the request may
    /// have been processed.
    pub(crate) fn finish_outcome(&self, call: Call, deadline: Instant) -> Result<Outcome> {
        let (op, method) = (call.op.clone(), call.method);
        let (mut call, mut version_retried, mut resent) = (call, false, false);
        loop {
            let again = call.again.take();
            let (modern, target, resend) = (call.modern, call.target.clone(), call.resend);
            let reply = match self.wait(call, deadline) {
                Ok(raw) if modern => {
                    return match modern::result_kind(raw.get()) {
                        Ok(ResultKind::Complete) => {
                            self.hints.note(&op, method, &raw);
                            Ok(Outcome::Complete(raw))
                        }
                        Ok(ResultKind::InputRequired) => Ok(Outcome::InputRequired(raw)),
                        // A created task (the tasks extension): the client layer drives it.
                        Ok(ResultKind::Task) if method == "tools/call" => Ok(Outcome::Complete(raw)),
                        Ok(ResultKind::Task) => Err(self.protocol(
                            &op,
                            method,
                            "resultType \"task\" answers a request that cannot be a task: the result is invalid".into(),
                        )),
                        Err(why) => Err(self.protocol(&op, method, why)),
                    };
                }
                Ok(raw) => return Ok(Outcome::Complete(raw)),
                Err(reply) => reply,
            };
            match reply {
                Reply::Rpc(e) if modern && !version_retried && e.code == modern::UNSUPPORTED_VERSION => {
                    let data = e.data.as_ref().map(|d| d.to_string());
                    let supported = modern::supported_versions(data.as_deref());
                    let Some(version) = modern::mutual(&supported, protocol::MODERN_PROTOCOL_VERSIONS) else {
                        return Err(self.protocol(
                            &op,
                            method,
                            format!(
                                "no mutual protocol version: the server speaks {supported:?}, we speak {:?}",
                                protocol::PROTOCOL_VERSIONS
                            ),
                        ));
                    };
                    log::debug!("op={op} server={}: {method}: -32022, retrying once with {version}", self.name);
                    self.set_modern(Some(version));
                    version_retried = true;
                    let (params, options) = again.map(|a| *a).unwrap_or_default();
                    call = self.start_with(&op, method, params, deadline, &options)?;
                }
                Reply::Lost(why) => {
                    let what = match target.as_deref() {
                        Some(t) if method == "tools/call" => format!("the call of tool `{t}`"),
                        _ => "the request".to_string(),
                    };
                    let detail = match (resend, again) {
                        (Ok(()), Some(again)) if !resent => {
                            log::info!(
                                "op={op} server={}: the reply to `{method}` was lost ({why}); sending it again",
                                self.name
                            );
                            resent = true;
                            let (params, options) = *again;
                            call = self.start_with(&op, method, params, deadline, &options)?;
                            continue;
                        }
                        (Ok(()), _) => {
                            format!("{why}; {what} was sent again with a new id and that reply was lost too")
                        }
                        (Err(not), _) if method == "tools/call" => {
                            format!("{why}; {what} may have run on the server: not sent again, as {not}")
                        }
                        (Err(not), _) => {
                            format!("{why}; {what} may have been processed by the server: not sent again ({not})")
                        }
                    };
                    return Err(Error::ConnectionClosed {
                        server: self.name.to_string(),
                        method: method.to_string(),
                        op: op.clone(),
                        detail,
                    });
                }
                reply => return Err(self.reply_error(reply, &op, method, target.as_deref())),
            }
        }
    }

    /// Waits for a request's answer until `deadline`; the result stays raw. A request that
    /// passes its deadline fails at once with `Timeout`; its cancellation is queued for the
    /// clean-up thread (never for `initialize`, which the spec forbids cancelling).
    fn wait(&self, call: Call, deadline: Instant) -> std::result::Result<Box<RawValue>, Reply> {
        let received = match &call.cancel {
            None => call.rx.recv_deadline(deadline),
            Some(cancel) => crossbeam_channel::select! {
                recv(call.rx) -> r => r.map_err(|_| RecvTimeoutError::Disconnected),
                recv(cancel) -> _ => {
                    if self.router.forget(&call.id) {
                        self.cancel(&call, "cancelled by the caller".into());
                        return Err(Reply::Closed("the call was cancelled by the caller".into()));
                    }
                    // The answer arrived as the call was cancelled: keep it.
                    call.rx.try_recv().map_err(|_| RecvTimeoutError::Disconnected)
                }
                default(deadline.saturating_duration_since(Instant::now())) => Err(RecvTimeoutError::Timeout),
            },
        };
        let reply = match received {
            Ok(reply) => reply,
            Err(RecvTimeoutError::Timeout) => {
                if self.router.forget(&call.id) {
                    self.cancel(&call, format!("timeout after {:?}", call.sent.elapsed()));
                    return Err(Reply::TimedOut(call.sent.elapsed()));
                }
                // The answer arrived as the deadline passed: it is in the channel. Keep it.
                match call.rx.try_recv() {
                    Ok(reply) => reply,
                    Err(_) => Reply::Closed("the request was abandoned".into()),
                }
            }
            Err(RecvTimeoutError::Disconnected) => Reply::Closed("the session ended".into()),
        };
        match reply {
            Reply::Result(raw) => {
                log::debug!(
                    "op={} server={}: <- {} (id {}, {:?})",
                    call.op,
                    self.name,
                    call.method,
                    call.id,
                    call.sent.elapsed()
                );
                log::trace!("op={} server={}: <- {}", call.op, self.name, raw.get());
                Ok(raw)
            }
            other => Err(other),
        }
    }

    fn reply_error(&self, reply: Reply, op: &OpId, method: &str, target: Option<&str>) -> Error {
        let server = self.name.to_string();
        let (op, method) = (op.clone(), method.to_string());
        match reply {
            Reply::Rpc(e)
                if method == "resources/read"
                    && (e.code == jsonrpc::INVALID_PARAMS || e.code == modern::RESOURCE_NOT_FOUND_LEGACY) =>
            {
                let uri = e
                    .data
                    .as_ref()
                    .and_then(|d| d.get("uri"))
                    .and_then(Value::as_str)
                    .or(target)
                    .unwrap_or_default()
                    .to_string();
                Error::ResourceNotFound { server, uri, op, code: e.code, message: e.message }
            }
            Reply::Rpc(e) if e.code == modern::MISSING_CAPABILITY => {
                let required = e.data.as_ref().and_then(|d| d.get("requiredCapabilities")).map(Value::to_string);
                Error::Rpc {
                    server,
                    method,
                    op,
                    code: e.code,
                    message: format!(
                        "the server requires client capabilities {}: {}",
                        required.as_deref().unwrap_or("(unnamed)"),
                        e.message
                    ),
                    data: e.data.map(|d| d.to_string()),
                }
            }
            Reply::Rpc(e) => {
                Error::Rpc { server, method, op, code: e.code, message: e.message, data: e.data.map(|d| d.to_string()) }
            }
            Reply::TimedOut(after) => {
                Error::Timeout { server, method, op, phase: crate::deadline::Phase::NoResponse, after }
            }
            Reply::Closed(detail) | Reply::Lost(detail) => Error::ConnectionClosed { server, method, op, detail },
            Reply::Limit { what, limit } => Error::Limit { server, method, op, what, limit },
            Reply::Result(_) => Error::Protocol { server, method, op, detail: "unexpected result".into() },
        }
    }

    /// A protocol error naming this server, `method` and `op`.
    pub(crate) fn protocol(&self, op: &OpId, method: &str, detail: String) -> Error {
        Error::Protocol { server: self.name.to_string(), method: method.into(), op: op.clone(), detail }
    }

    /// Queues `notifications/cancelled` for a request we gave up on; returns at once.
    fn cancel(&self, call: &Call, reason: String) {
        if call.method == "initialize" {
            // "The initialize request MUST NOT be cancelled by clients" (MCP, cancellation).
            log::debug!("op={} server={}: not cancelling initialize (id {})", call.op, self.name, call.id);
            return;
        }
        if !self.transport.cancels_with_notice() {
            log::debug!(
                "op={} server={}: {} (id {}) abandoned; nothing to send",
                call.op,
                self.name,
                call.method,
                call.id
            );
            return;
        }
        let until = deadline_in(CANCEL_DEADLINE.min(self.timeout));
        self.cleanup.cancel(&call.id, call.method, &call.op, reason, until);
    }

    /// Ends the session: pending requests fail at once, the transport closes, the clean-up
    /// thread is joined (bounded). Idempotent.
    pub(crate) fn close(&self) {
        if !self.closed.swap(true, Ordering::SeqCst) {
            log::debug!("server={}: closing", self.name);
            self.cleanup.stop();
            let listener = lock(&self.listener).take();
            if let Some(l) = &listener {
                l.stop();
            }
            self.transport.close();
            if let Some(l) = listener {
                l.join(&self.name);
            }
            self.cleanup.join();
        }
    }
}

/// Closes a session whose set-up failed on a thread of its own (`mcp-close:<server>`), so that
/// the caller's error is not held up by the clean-up (a stdio child's exit grace, a DELETE).
/// Closing is bounded, so the thread ends; without a thread it is closed here.
pub(crate) fn close_in_background(session: Session) {
    let session = Arc::new(session);
    let closer = session.clone();
    let spawned = std::thread::Builder::new().name(format!("mcp-close:{}", session.name)).spawn(move || closer.close());
    if spawned.is_err() {
        session.close();
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    /// A server that answers each of our answers with another `ping` (as a Streamable HTTP
    /// server can, in the reply to the POST of our answer): the router answers them one after
    /// the other, never nested more than one level, and stops a chain that does not end.
    #[test]
    fn server_requests_are_answered_iteratively() {
        let router = Router::new("s".into(), OpId::new(), None);
        let (depth, max_depth, answered) = (Cell::new(0usize), Cell::new(0usize), Cell::new(0usize));
        let ping = |k: usize| format!(r#"{{"jsonrpc":"2.0","id":"p{k}","method":"ping"}}"#);
        let reply = |body: Vec<u8>, method: &str| {
            assert_eq!(method, "ping");
            assert!(String::from_utf8(body).unwrap().contains(r#""result":{}"#));
            answered.set(answered.get() + 1);
            depth.set(depth.get() + 1);
            max_depth.set(max_depth.get().max(depth.get()));
            if answered.get() < 200 {
                // The reply to our answer carries the next request.
                router.handle(&ping(answered.get()), &|_, _| unreachable!("queued for the outermost call"));
            }
            depth.set(depth.get() - 1);
        };
        router.handle(&ping(0), &reply);
        assert_eq!(answered.get(), 200);
        assert_eq!(max_depth.get(), 1, "answers were sent from inside other answers");

        // A chain that never ends is cut after MAX_CHAINED_ANSWERS answers.
        let count = Cell::new(0usize);
        let endless = |_: Vec<u8>, _: &str| {
            count.set(count.get() + 1);
            router.handle(&ping(count.get()), &|_, _| unreachable!("queued for the outermost call"));
        };
        router.handle(&ping(0), &endless);
        assert_eq!(count.get(), crate::transport::MAX_CHAINED_ANSWERS);
    }
}
