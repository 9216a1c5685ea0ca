//! [`Handlers`]: what a program answers when a server asks *it* something — elicitation (ask
//! the user), sampling (ask a language model) and roots (which directories the client exposes).
//!
//! A server sends these as JSON-RPC requests during another call (the handshake era) or as
//! `inputRequests` of an `input_required` result (2026-07-28). Register a handler per kind on
//! [`ClientBuilder::handlers`](crate::ClientBuilder::handlers) or
//! [`Orchestrator::with_handlers`](crate::Orchestrator::with_handlers); the client declares a
//! capability in `initialize` only for the kinds that have one, and answers a request of any
//! other kind with the spec's "method not found" (`-32601`).
//!
//! A handler is a closure (or any type implementing the kind's trait). It is called on no lock,
//! on the thread that received the request (the session's reader thread, or the caller's thread
//! over Streamable HTTP), so that connection routes nothing else while it runs: return by the
//! [`RequestContext::deadline`] it is given. A handler that panics answers `-32603`.
//!
//! ```
//! use mcp_orchestrator::{ElicitResult, Handlers, Root};
//!
//! let handlers = Handlers::new()
//!     .elicitation(|_cx: &_, request: mcp_orchestrator::ElicitRequest| {
//!         // Accept with every default the form declares.
//!         Ok(ElicitResult::accept(request.defaults()))
//!     })
//!     .roots(|_cx: &_| Ok(vec![Root::new("file:///home/me/project")]));
//! assert!(handlers.has_elicitation() && handlers.has_roots() && !handlers.has_sampling());
//! ```

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::jsonrpc::{self, RequestId, RpcError};

/// The method of an elicitation request.
pub(crate) const ELICITATION: &str = "elicitation/create";
/// The method of a sampling request.
pub(crate) const SAMPLING: &str = "sampling/createMessage";
/// The method of a roots request.
pub(crate) const ROOTS: &str = "roots/list";

/// What a handler learns about the request it answers, besides its params.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RequestContext {
    /// The configured name of the server that asks.
    pub server: String,
    /// The id of the server's request (`None` for an `inputRequests` entry, which has a key
    /// instead: see `input_key`).
    pub id: Option<RequestId>,
    /// The key of the `inputRequests` entry this answers (2026-07-28), if it is one.
    pub input_key: Option<String>,
    /// When the answer is due: return by then (the server, or the call waiting on the answer,
    /// gives up after it).
    pub deadline: Instant,
}

/// Why a handler declines to answer: the server receives it as a JSON-RPC error.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandlerError {
    /// The JSON-RPC error code.
    pub code: i64,
    /// A message for the server.
    pub message: String,
}

impl HandlerError {
    /// An error with this JSON-RPC code and message.
    pub fn new(code: i64, message: impl Into<String>) -> HandlerError {
        HandlerError { code, message: message.into() }
    }

    /// The user (or the program) refused: code `-1`, as the spec's sampling example.
    pub fn rejected(message: impl Into<String>) -> HandlerError {
        HandlerError { code: -1, message: message.into() }
    }

    /// The handler failed: code `-32603` (internal error).
    pub fn internal(message: impl Into<String>) -> HandlerError {
        HandlerError { code: INTERNAL_ERROR, message: message.into() }
    }
}

impl std::fmt::Display for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for HandlerError {}

const INTERNAL_ERROR: i64 = -32603;

/// An `elicitation/create` request in form mode: a message for the user and the schema of
/// the answer wanted (flat properties of primitive types).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ElicitRequest {
    /// What to ask the user.
    #[serde(default)]
    pub message: String,
    /// The JSON Schema of the content wanted, as the server sent it.
    #[serde(default)]
    pub requested_schema: Value,
    /// The request's `_meta`, if any.
    #[serde(default, rename = "_meta")]
    pub meta: Option<Value>,
}

impl ElicitRequest {
    /// Each property of the requested schema that declares a `default`, with that default (as
    /// the server typed it): what a form pre-fills.
    pub fn defaults(&self) -> Map<String, Value> {
        let mut out = Map::new();
        if let Some(props) = self.requested_schema.get("properties").and_then(Value::as_object) {
            for (name, schema) in props {
                if let Some(default) = schema.get("default") {
                    out.insert(name.clone(), default.clone());
                }
            }
        }
        out
    }
}

/// An `elicitation/create` request in URL mode (2025-11-25): the server asks the user to visit
/// `url` (to sign in elsewhere, pay, enter a secret the client must not see). The handler gets
/// the full URL and — in its [`RequestContext::server`] — the asking server's name: show both
/// and ask the user before opening it; never fetch it yourself. Only `https:` and `http:`
/// URLs reach a handler (any other scheme is refused as invalid params).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UrlElicitRequest {
    /// Why the user should visit the URL.
    #[serde(default)]
    pub message: String,
    /// The URL, in full, as the server sent it.
    pub url: String,
    /// The server's id of this elicitation (its `notifications/elicitation/complete` names it).
    #[serde(default)]
    pub elicitation_id: Option<String>,
    /// The request's `_meta`, if any.
    #[serde(default, rename = "_meta")]
    pub meta: Option<Value>,
}

/// Whether a URL elicitation's `url` may be shown to the user as a link to open: `https:` or
/// `http:` with a host (never `javascript:`, `file:`, `data:`, …).
fn is_openable(url: &str) -> bool {
    let lower = url.get(..8).map(str::to_ascii_lowercase).unwrap_or_default();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return false;
    };
    !rest.is_empty() && !rest.starts_with('/') && !url.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// The user's answer to an elicitation.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ElicitResult {
    /// What the user did.
    pub action: ElicitAction,
    /// The content (with `Accept`): property name to value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<Map<String, Value>>,
}

impl ElicitResult {
    /// The user submitted `content`.
    pub fn accept(content: Map<String, Value>) -> ElicitResult {
        ElicitResult { action: ElicitAction::Accept, content: Some(content) }
    }

    /// The user agreed to open a URL elicitation's URL (no content: what they do there is
    /// between them and the server).
    pub fn accept_url() -> ElicitResult {
        ElicitResult { action: ElicitAction::Accept, content: None }
    }

    /// The user explicitly declined.
    pub fn decline() -> ElicitResult {
        ElicitResult { action: ElicitAction::Decline, content: None }
    }

    /// The user dismissed the request without choosing.
    pub fn cancel() -> ElicitResult {
        ElicitResult { action: ElicitAction::Cancel, content: None }
    }
}

/// What the user did with an elicitation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ElicitAction {
    /// Submitted the form.
    Accept,
    /// Declined.
    Decline,
    /// Dismissed it.
    Cancel,
}

/// A `sampling/createMessage` request: the conversation to continue and its limits. Fields
/// this crate does not model stay in `params`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct CreateMessageRequest {
    /// The messages (`{role, content}` objects), as the server sent them.
    pub messages: Vec<Value>,
    /// The most tokens to sample.
    pub max_tokens: Option<u64>,
    /// The system prompt, if any.
    pub system_prompt: Option<String>,
    /// Every param as sent (`modelPreferences`, `temperature`, `stopSequences`, `tools`, …).
    pub params: Value,
}

/// A sampled message.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CreateMessageResult {
    /// `"assistant"` (or `"user"`).
    pub role: String,
    /// The content block (`{"type":"text","text":…}`, image, audio, …).
    pub content: Value,
    /// The model that produced it.
    pub model: String,
    /// Why sampling stopped (`endTurn`, `stopSequence`, `maxTokens`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
}

impl CreateMessageResult {
    /// An assistant's text answer from `model`, ended by the turn's end.
    pub fn text(model: impl Into<String>, text: impl Into<String>) -> CreateMessageResult {
        CreateMessageResult {
            role: "assistant".into(),
            content: json!({ "type": "text", "text": text.into() }),
            model: model.into(),
            stop_reason: Some("endTurn".into()),
        }
    }
}

/// A root the client exposes to servers (a directory or file, as a `file://` URI).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Root {
    /// The root's URI.
    pub uri: String,
    /// A display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Root {
    /// A root without a display name.
    pub fn new(uri: impl Into<String>) -> Root {
        Root { uri: uri.into(), name: None }
    }

    /// The same root with a display name.
    pub fn named(mut self, name: impl Into<String>) -> Root {
        self.name = Some(name.into());
        self
    }
}

/// Answers elicitation requests.
pub trait ElicitationHandler: Send + Sync {
    /// The user's answer to `request`, by `cx.deadline`.
    fn elicit(&self, cx: &RequestContext, request: ElicitRequest) -> Result<ElicitResult, HandlerError>;
}

impl<F> ElicitationHandler for F
where
    F: Fn(&RequestContext, ElicitRequest) -> Result<ElicitResult, HandlerError> + Send + Sync,
{
    fn elicit(&self, cx: &RequestContext, request: ElicitRequest) -> Result<ElicitResult, HandlerError> {
        self(cx, request)
    }
}

/// Answers URL-mode elicitation requests ([`UrlElicitRequest`]).
pub trait UrlElicitationHandler: Send + Sync {
    /// The user's answer to `request` (asked of `cx.server`), by `cx.deadline`:
    /// [`ElicitResult::accept_url`] once they consented to open it, else decline or cancel.
    fn elicit_url(&self, cx: &RequestContext, request: UrlElicitRequest) -> Result<ElicitResult, HandlerError>;
}

impl<F> UrlElicitationHandler for F
where
    F: Fn(&RequestContext, UrlElicitRequest) -> Result<ElicitResult, HandlerError> + Send + Sync,
{
    fn elicit_url(&self, cx: &RequestContext, request: UrlElicitRequest) -> Result<ElicitResult, HandlerError> {
        self(cx, request)
    }
}

/// Answers sampling requests.
pub trait SamplingHandler: Send + Sync {
    /// A message sampled for `request`, by `cx.deadline`.
    fn create_message(
        &self,
        cx: &RequestContext,
        request: CreateMessageRequest,
    ) -> Result<CreateMessageResult, HandlerError>;
}

impl<F> SamplingHandler for F
where
    F: Fn(&RequestContext, CreateMessageRequest) -> Result<CreateMessageResult, HandlerError> + Send + Sync,
{
    fn create_message(
        &self,
        cx: &RequestContext,
        request: CreateMessageRequest,
    ) -> Result<CreateMessageResult, HandlerError> {
        self(cx, request)
    }
}

/// Answers roots requests.
pub trait RootsHandler: Send + Sync {
    /// The roots exposed to the server now.
    fn list_roots(&self, cx: &RequestContext) -> Result<Vec<Root>, HandlerError>;
}

impl<F> RootsHandler for F
where
    F: Fn(&RequestContext) -> Result<Vec<Root>, HandlerError> + Send + Sync,
{
    fn list_roots(&self, cx: &RequestContext) -> Result<Vec<Root>, HandlerError> {
        self(cx)
    }
}

/// Passes server requests on as they are, instead of answering them: `serve` installs one to
/// ask its own downstream client. Raw params in, the raw result (or the JSON-RPC error) out.
pub(crate) trait Relay: Send + Sync {
    /// The answer to the server request `method` with `params`, by `cx.deadline`.
    fn relay(&self, cx: &RequestContext, method: &str, params: Value) -> Result<Value, RpcError>;
}

/// Where a [`Relay`] is installed, after the handlers were built: an orchestrator's clients
/// share its slot, so a relay installed before they connect answers for all of them. The
/// last one installed answers.
#[derive(Default)]
pub(crate) struct RelaySlot(std::sync::Mutex<Option<Arc<dyn Relay>>>);

impl RelaySlot {
    /// Installs `relay` (instead of the one before, if any).
    pub(crate) fn install(&self, relay: Arc<dyn Relay>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(relay);
    }

    fn get(&self) -> Option<Arc<dyn Relay>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The handlers of one client (or every client of an orchestrator). Cheap to clone.
#[derive(Clone, Default)]
pub struct Handlers {
    elicitation: Option<Arc<dyn ElicitationHandler>>,
    url_elicitation: Option<Arc<dyn UrlElicitationHandler>>,
    sampling: Option<Arc<dyn SamplingHandler>>,
    roots: Option<Arc<dyn RootsHandler>>,
    /// When a relay is installed here, it answers every kind (the closures above are unused).
    relay: Option<Arc<RelaySlot>>,
    /// MCP Apps: the MIME types of the UI resources this host renders (`None`: it renders none
    /// and declares no `io.modelcontextprotocol/ui` extension).
    ui_mime_types: Option<Arc<[String]>>,
}

impl std::fmt::Debug for Handlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handlers")
            .field("elicitation", &self.has_elicitation())
            .field("url_elicitation", &self.has_url_elicitation())
            .field("sampling", &self.has_sampling())
            .field("roots", &self.has_roots())
            .field("ui_mime_types", &self.ui_mime_types)
            .finish()
    }
}

impl Handlers {
    /// No handlers: the client declares no client capability.
    pub fn new() -> Handlers {
        Handlers::default()
    }

    /// Answers `elicitation/create` (form mode); declares `elicitation: {form: {}}`.
    pub fn elicitation(mut self, handler: impl ElicitationHandler + 'static) -> Handlers {
        self.elicitation = Some(Arc::new(handler));
        self
    }

    /// Answers `elicitation/create` in URL mode; declares `elicitation: {url: {}}` (with `form`
    /// too when [`Handlers::elicitation`] is registered). See [`UrlElicitRequest`].
    pub fn url_elicitation(mut self, handler: impl UrlElicitationHandler + 'static) -> Handlers {
        self.url_elicitation = Some(Arc::new(handler));
        self
    }

    /// Whether a URL-mode elicitation handler is registered.
    pub fn has_url_elicitation(&self) -> bool {
        self.url_elicitation.is_some()
    }

    /// Answers `sampling/createMessage`; declares `sampling: {}`.
    pub fn sampling(mut self, handler: impl SamplingHandler + 'static) -> Handlers {
        self.sampling = Some(Arc::new(handler));
        self
    }

    /// Answers `roots/list`; declares `roots: {}` (no `listChanged`: the client never sends it).
    pub fn roots(mut self, handler: impl RootsHandler + 'static) -> Handlers {
        self.roots = Some(Arc::new(handler));
        self
    }

    /// These handlers, looking in `slot` for a relay first (see [`Relay`]).
    pub(crate) fn with_relay_slot(mut self, slot: Arc<RelaySlot>) -> Handlers {
        self.relay = Some(slot);
        self
    }

    fn relay(&self) -> Option<Arc<dyn Relay>> {
        self.relay.as_deref().and_then(RelaySlot::get)
    }

    /// Declares that this host renders MCP Apps (the `io.modelcontextprotocol/ui` extension)
    /// whose UI resources have one of these MIME types (usually just
    /// [`UI_MIME_TYPE`](crate::UI_MIME_TYPE), `text/html;profile=mcp-app`): the client
    /// capabilities get `extensions: {"io.modelcontextprotocol/ui": {"mimeTypes": [...]}}`.
    /// An empty list declares nothing.
    pub fn ui_mime_types(mut self, mime_types: impl IntoIterator<Item = impl Into<String>>) -> Handlers {
        let types: Vec<String> = mime_types.into_iter().map(Into::into).collect();
        self.ui_mime_types = (!types.is_empty()).then(|| types.into());
        self
    }

    /// The MCP Apps MIME types declared with [`Handlers::ui_mime_types`] (empty: none).
    pub fn ui_mime_types_declared(&self) -> &[String] {
        self.ui_mime_types.as_deref().unwrap_or(&[])
    }

    /// Whether an elicitation handler is registered.
    pub fn has_elicitation(&self) -> bool {
        self.elicitation.is_some() || self.relay().is_some()
    }

    /// Whether a sampling handler is registered.
    pub fn has_sampling(&self) -> bool {
        self.sampling.is_some() || self.relay().is_some()
    }

    /// Whether a roots handler is registered.
    pub fn has_roots(&self) -> bool {
        self.roots.is_some() || self.relay().is_some()
    }

    /// The `capabilities` a client with these handlers declares (`{}` with none), with the
    /// extensions declared (MCP Apps: [`Handlers::ui_mime_types`]).
    pub fn capabilities(&self) -> Value {
        let mut caps = Map::new();
        if self.has_elicitation() || self.has_url_elicitation() {
            let mut modes = Map::new();
            if self.has_elicitation() {
                modes.insert("form".into(), json!({}));
            }
            if self.has_url_elicitation() {
                modes.insert("url".into(), json!({}));
            }
            caps.insert("elicitation".into(), Value::Object(modes));
        }
        if self.has_sampling() {
            caps.insert("sampling".into(), json!({}));
        }
        if self.has_roots() {
            caps.insert("roots".into(), json!({}));
        }
        if let Some(types) = &self.ui_mime_types {
            let mut extensions = Map::new();
            extensions.insert(crate::protocol::UI_EXTENSION.into(), json!({ "mimeTypes": &types[..] }));
            caps.insert("extensions".into(), Value::Object(extensions));
        }
        Value::Object(caps)
    }

    /// Whether `method` is a kind these handlers may answer (registered or not).
    pub(crate) fn is_handler_method(method: &str) -> bool {
        matches!(method, ELICITATION | SAMPLING | ROOTS)
    }

    /// Answers one server request of a handler kind: the result to send, or the JSON-RPC
    /// error (method not found when no handler is registered for the kind, invalid params
    /// when the params do not parse, the handler's own error, `-32603` if it panicked).
    /// Holds no lock; the handler runs on this thread.
    pub(crate) fn dispatch(&self, cx: &RequestContext, method: &str, params: Option<&str>) -> Result<Value, RpcError> {
        let params: Value = match params.map(serde_json::from_str).transpose() {
            Ok(p) => p.unwrap_or_else(|| json!({})),
            Err(e) => return Err(rpc_error(jsonrpc::INVALID_PARAMS, format!("invalid params: {e}"))),
        };
        let not_found = || rpc_error(jsonrpc::METHOD_NOT_FOUND, format!("Method not found: {method}"));
        if let Some(relay) = self.relay()
            && Handlers::is_handler_method(method)
        {
            return catch_unwind(AssertUnwindSafe(|| relay.relay(cx, method, params))).unwrap_or_else(|_| {
                log::error!("server={}: relaying `{method}` panicked", cx.server);
                Err(rpc_error(INTERNAL_ERROR, format!("relaying {method} failed")))
            });
        }
        let outcome = match method {
            ELICITATION if params.get("mode").and_then(Value::as_str) == Some("url") => {
                let Some(handler) = &self.url_elicitation else {
                    if self.elicitation.is_none() {
                        return Err(not_found());
                    }
                    return Err(rpc_error(
                        jsonrpc::INVALID_PARAMS,
                        "elicitation mode \"url\" is not supported (declared: form)".into(),
                    ));
                };
                let request: UrlElicitRequest = serde_json::from_value(params)
                    .map_err(|e| rpc_error(jsonrpc::INVALID_PARAMS, format!("invalid elicitation params: {e}")))?;
                if !is_openable(&request.url) {
                    // Not a link a person may be offered: never shown, never opened.
                    log::warn!("server={}: refused a URL elicitation whose url is not http(s)", cx.server);
                    return Err(rpc_error(jsonrpc::INVALID_PARAMS, "elicitation url must be an http(s) URL".into()));
                }
                guarded(cx, method, || handler.elicit_url(cx, request).map(|r| to_value(&r)))
            }
            ELICITATION => {
                let Some(handler) = &self.elicitation else { return Err(not_found()) };
                if let Some(mode) = params.get("mode").and_then(Value::as_str).filter(|m| *m != "form") {
                    let declared = if self.has_url_elicitation() { "form, url" } else { "form" };
                    return Err(rpc_error(
                        jsonrpc::INVALID_PARAMS,
                        format!("elicitation mode {mode:?} is not supported (declared: {declared})"),
                    ));
                }
                let request: ElicitRequest = serde_json::from_value(params)
                    .map_err(|e| rpc_error(jsonrpc::INVALID_PARAMS, format!("invalid elicitation params: {e}")))?;
                guarded(cx, method, || handler.elicit(cx, request).map(|r| to_value(&r)))
            }
            SAMPLING => {
                let Some(handler) = &self.sampling else { return Err(not_found()) };
                let messages = match params.get("messages") {
                    Some(Value::Array(m)) => m.clone(),
                    _ => return Err(rpc_error(jsonrpc::INVALID_PARAMS, "sampling params lack `messages`".into())),
                };
                let request = CreateMessageRequest {
                    messages,
                    max_tokens: params.get("maxTokens").and_then(Value::as_u64),
                    system_prompt: params.get("systemPrompt").and_then(Value::as_str).map(str::to_owned),
                    params,
                };
                guarded(cx, method, || handler.create_message(cx, request).map(|r| to_value(&r)))
            }
            ROOTS => {
                let Some(handler) = &self.roots else { return Err(not_found()) };
                guarded(cx, method, || handler.list_roots(cx).map(|roots| json!({ "roots": roots })))
            }
            _ => return Err(not_found()),
        };
        outcome.map_err(|e| RpcError { code: e.code, message: e.message, data: None })
    }
}

/// The glue between the session's server-request path (`Router`) and the handlers: our
/// encoded JSON-RPC answer to the server's request `id`.
pub(crate) fn answer_request(
    handlers: &Handlers,
    server: &str,
    id: &RequestId,
    method: &str,
    params: Option<Box<serde_json::value::RawValue>>,
    deadline: Instant,
) -> Vec<u8> {
    let cx = RequestContext { server: server.to_string(), id: Some(id.clone()), input_key: None, deadline };
    match handlers.dispatch(&cx, method, params.as_deref().map(|p| p.get())) {
        Ok(result) => jsonrpc::encode_response(id, Ok(&result)),
        Err(e) => {
            log::debug!("server={server}: answering `{method}` ({id}) with error {}: {}", e.code, e.message);
            jsonrpc::encode_response(id, Err(&e))
        }
    }
}

fn rpc_error(code: i64, message: String) -> RpcError {
    RpcError { code, message, data: None }
}

fn to_value<T: Serialize>(value: &T) -> Value {
    // Our own result types always serialize.
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Runs a user handler; a panic becomes an internal error instead of ending the thread.
fn guarded(
    cx: &RequestContext,
    method: &str,
    f: impl FnOnce() -> Result<Value, HandlerError>,
) -> Result<Value, HandlerError> {
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        log::error!("server={}: the `{method}` handler panicked", cx.server);
        Err(HandlerError::internal(format!("the client's {method} handler failed")))
    });
    if Instant::now() > cx.deadline {
        log::warn!(
            "server={}: the `{method}` handler returned after its deadline ({:?})",
            cx.server,
            started.elapsed()
        );
    }
    outcome
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn cx() -> RequestContext {
        RequestContext {
            server: "s".into(),
            id: Some(RequestId::Number(1)),
            input_key: None,
            deadline: Instant::now() + Duration::from_secs(5),
        }
    }

    #[test]
    fn ui_mime_types_declare_the_apps_extension() {
        let h = Handlers::new().ui_mime_types(["text/html;profile=mcp-app"]);
        assert_eq!(
            h.capabilities(),
            json!({ "extensions": { "io.modelcontextprotocol/ui": { "mimeTypes": ["text/html;profile=mcp-app"] } } })
        );
        assert_eq!(Handlers::new().ui_mime_types(Vec::<String>::new()).capabilities(), json!({}));
    }

    #[test]
    fn capabilities_follow_the_registered_handlers() {
        assert_eq!(Handlers::new().capabilities(), json!({}));
        let h = Handlers::new().sampling(|_: &RequestContext, _| Ok(CreateMessageResult::text("m", "hi")));
        assert_eq!(h.capabilities(), json!({ "sampling": {} }));
        let h =
            h.elicitation(|_: &RequestContext, _| Ok(ElicitResult::cancel())).roots(|_: &RequestContext| Ok(vec![]));
        assert_eq!(h.capabilities(), json!({ "elicitation": { "form": {} }, "sampling": {}, "roots": {} }));
    }

    #[test]
    fn without_a_handler_each_kind_is_method_not_found() {
        for method in [ELICITATION, SAMPLING, ROOTS] {
            let e = Handlers::new().dispatch(&cx(), method, Some(r#"{"message":"m","messages":[]}"#)).unwrap_err();
            assert_eq!(e.code, jsonrpc::METHOD_NOT_FOUND, "{method}");
            assert!(e.message.contains(method), "{}", e.message);
        }
    }

    #[test]
    fn elicitation_defaults_keep_their_json_types() {
        let params = r#"{"message":"m","requestedSchema":{"type":"object","properties":{
            "name":{"type":"string","default":"John Doe"},"age":{"type":"integer","default":30},
            "score":{"type":"number","default":95.5},"verified":{"type":"boolean","default":true},
            "nick":{"type":"string"}}}}"#;
        let h =
            Handlers::new().elicitation(|_: &RequestContext, r: ElicitRequest| Ok(ElicitResult::accept(r.defaults())));
        let v = h.dispatch(&cx(), ELICITATION, Some(params)).unwrap();
        assert_eq!(v, json!({"action":"accept","content":{"name":"John Doe","age":30,"score":95.5,"verified":true}}));
        let e = h.dispatch(&cx(), ELICITATION, Some(r#"{"mode":"url","message":"m","url":"https://x"}"#)).unwrap_err();
        assert_eq!(e.code, jsonrpc::INVALID_PARAMS);
    }

    #[test]
    fn url_elicitation_gets_the_full_url_and_the_asking_server() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let h = Handlers::new().url_elicitation(move |cx: &RequestContext, r: UrlElicitRequest| {
            log.lock().unwrap().push((cx.server.clone(), r.url, r.elicitation_id, r.message));
            Ok(ElicitResult::accept_url())
        });
        assert_eq!(h.capabilities(), json!({ "elicitation": { "url": {} } }));
        let url = "https://auth.example.com/connect?elicitation=abc&state=x#frag";
        let params = json!({"mode": "url", "message": "Sign in", "url": url, "elicitationId": "abc"}).to_string();
        assert_eq!(h.dispatch(&cx(), ELICITATION, Some(&params)).unwrap(), json!({"action": "accept"}));
        assert_eq!(
            seen.lock().unwrap()[0],
            ("s".to_string(), url.to_string(), Some("abc".to_string()), "Sign in".to_string())
        );
        for bad in
            ["javascript:alert(1)", "file:///etc/passwd", "data:text/html,x", "https://", "https:///x", "ftp://x"]
        {
            let params = json!({"mode": "url", "message": "m", "url": bad}).to_string();
            let e = h.dispatch(&cx(), ELICITATION, Some(&params)).unwrap_err();
            assert_eq!(e.code, jsonrpc::INVALID_PARAMS, "{bad}");
        }
        assert_eq!(seen.lock().unwrap().len(), 1, "an unsafe URL never reaches the handler");
        // Form requests still need a form handler; both modes declared together.
        let form = r#"{"message":"m","requestedSchema":{"type":"object"}}"#;
        assert_eq!(h.dispatch(&cx(), ELICITATION, Some(form)).unwrap_err().code, jsonrpc::METHOD_NOT_FOUND);
        let both = h.elicitation(|_: &RequestContext, _| Ok(ElicitResult::cancel()));
        assert_eq!(both.capabilities(), json!({ "elicitation": { "form": {}, "url": {} } }));
    }

    #[test]
    fn a_panicking_or_failing_handler_answers_an_error() {
        let h = Handlers::new()
            .roots(|_: &RequestContext| -> Result<Vec<Root>, HandlerError> { panic!("boom") })
            .sampling(|_: &RequestContext, _| Err(HandlerError::rejected("no")));
        assert_eq!(h.dispatch(&cx(), ROOTS, None).unwrap_err().code, INTERNAL_ERROR);
        let e = h.dispatch(&cx(), SAMPLING, Some(r#"{"messages":[],"maxTokens":5}"#)).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (-1, "no"));
        assert_eq!(h.dispatch(&cx(), SAMPLING, Some("{}")).unwrap_err().code, jsonrpc::INVALID_PARAMS);
    }
}
