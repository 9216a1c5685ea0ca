//! A test authorization server that is also the protected resource: protected-resource metadata
//! (RFC 9728), authorization-server metadata (RFC 8414 / OpenID Connect) at a chosen well-known
//! URL, `/authorize` (redirects at once, with `code`, `state` and `iss`), `/token` (authorization
//! code with PKCE, refresh with rotating refresh tokens, client credentials with a secret or an
//! ES256 assertion), `/register` (RFC 7591), and a protected `POST /mcp` that answers JSON-RPC
//! requests with a valid bearer token (a minimal MCP server: `initialize`, `tools/list`,
//! `tools/call` of `whoami`), 401 without one, 403 `insufficient_scope` when a method needs a
//! scope the token lacks.
//! The same minimal server speaks the legacy HTTP+SSE transport, equally protected: `GET /sse`
//! (the event stream, which announces `/messages?session=<n>`) and `POST /messages`.
//! It records what clients sent, for tests to assert on. On `127.0.0.1:0`, one thread per
//! connection, every connection closed after one response.

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use super::http::{ReadOutcome, RequestReader, reason};

/// Where the protected-resource metadata is published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PrmAt {
    /// At the path-based well-known URL, and named in `WWW-Authenticate`.
    PathAndHeader,
    /// At the path-based well-known URL only.
    Path,
    /// At the root well-known URL only (its `resource` is the bare origin).
    Root,
    /// At `/custom/metadata.json`, named in `WWW-Authenticate` only.
    Custom,
    /// Nowhere (a 2025-03-26 server: the authorization server is the MCP server's origin).
    Nowhere,
}

/// Where the authorization-server metadata is published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetadataAt {
    /// `/.well-known/oauth-authorization-server[/issuer-path]` (RFC 8414).
    OAuth,
    /// `/.well-known/openid-configuration[/issuer-path]`.
    OpenIdInserted,
    /// `[/issuer-path]/.well-known/openid-configuration`.
    OpenIdAppended,
    /// Nowhere (the 2025-03-26 default endpoints apply).
    Nowhere,
}

/// What the authorization response says about its issuer (RFC 9207).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Iss {
    /// Advertised and sent, correct.
    Correct,
    /// Advertised, not sent.
    Missing,
    /// Advertised and sent, another issuer.
    Wrong,
    /// Neither advertised nor sent.
    NotAdvertised,
}

/// Settings of an [`AuthServer`].
#[derive(Clone, Debug)]
pub struct AuthServerBuilder {
    prm: PrmAt,
    metadata: MetadataAt,
    issuer_path: String,
    iss: Iss,
    foreign_issuer: bool,
    token_lifetime: u64,
    refresh_tokens: bool,
    challenge_scope: Option<String>,
    scopes_supported: Option<Vec<String>>,
    as_scopes_supported: Option<Vec<String>>,
    method_scopes: Vec<(String, String)>,
    registration: bool,
    auth_methods: Vec<String>,
    client: Option<(String, String)>,
    jwt_client: Option<(String, String)>,
    resource_override: Option<String>,
    cimd: bool,
    withheld: Vec<String>,
    authorization_endpoint: Option<String>,
}

/// One recorded request of a client.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Recorded {
    /// `GET` or `POST`.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query's or form body's decoded pairs.
    pub params: Vec<(String, String)>,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// A JSON body (registration).
    pub json: Option<serde_json::Value>,
}

impl Recorded {
    /// The first value of `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

struct Code {
    client_id: String,
    challenge: String,
    resource: Option<String>,
    redirect_uri: String,
    scope: String,
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    counter: u64,
    codes: HashMap<String, Code>,
    access: HashMap<String, (Instant, String)>,
    refresh: HashMap<String, String>,
    clients: HashMap<String, Option<String>>,
    served: u64,
    /// Legacy SSE sessions: where each session's replies go, and the streams not yet taken by
    /// their connection.
    sse: HashMap<u64, crossbeam_channel::Sender<String>>,
    sse_streams: HashMap<u64, crossbeam_channel::Receiver<String>>,
    /// Refresh tokens already used once (rotated out), and how often one was presented again.
    spent: HashSet<String>,
    refresh_reuses: u64,
    /// The lifetime of the tokens issued from now on, when set at run time.
    lifetime: Option<u64>,
}

struct Shared {
    opts: AuthServerBuilder,
    base: String,
    /// Another authorization server the PRM names instead of this one, and whose tokens `/mcp`
    /// accepts (an authorization server that moved).
    moved_to: Mutex<Option<(String, Arc<Shared>)>>,
    state: Mutex<State>,
}

/// The running server; stopped and joined on drop.
pub struct AuthServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl AuthServer {
    /// A server with the common defaults: PRM at the path and in the header, RFC 8414 metadata
    /// at the root, `iss` correct, dynamic registration with `none`, one-hour tokens with
    /// refresh tokens.
    pub fn builder() -> AuthServerBuilder {
        AuthServerBuilder {
            prm: PrmAt::PathAndHeader,
            metadata: MetadataAt::OAuth,
            issuer_path: String::new(),
            iss: Iss::Correct,
            foreign_issuer: false,
            token_lifetime: 3600,
            refresh_tokens: true,
            challenge_scope: None,
            scopes_supported: None,
            as_scopes_supported: None,
            method_scopes: Vec::new(),
            registration: true,
            auth_methods: vec!["none".into()],
            client: None,
            jwt_client: None,
            resource_override: None,
            cimd: false,
            withheld: Vec::new(),
            authorization_endpoint: None,
        }
    }

    /// The protected MCP endpoint, `http://127.0.0.1:<port>/mcp`.
    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.shared.base)
    }

    /// The protected legacy HTTP+SSE endpoint, `http://127.0.0.1:<port>/sse` (its resource, for
    /// the metadata, is the same as [`mcp_url`](Self::mcp_url)'s: the origin's `/mcp`).
    pub fn sse_url(&self) -> String {
        format!("{}/sse", self.shared.base)
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> String {
        format!("{}{}", self.shared.base, self.shared.opts.issuer_path)
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// The requests to `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.lock().requests.iter().filter(|r| r.path == path).cloned().collect()
    }

    /// How many requests to `/mcp` were served (authorized).
    pub fn served(&self) -> u64 {
        self.lock().served
    }

    /// Forgets every access token issued (the next request with one gets a 401).
    pub fn revoke_access_tokens(&self) {
        self.lock().access.clear();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// From now on the protected-resource metadata names `other` as the authorization server,
    /// `/mcp` accepts `other`'s tokens, and this server's tokens are revoked.
    pub fn move_to(&self, other: &AuthServer) {
        *self.shared.moved_to.lock().unwrap_or_else(|e| e.into_inner()) = Some((other.issuer(), other.shared.clone()));
        self.revoke_access_tokens();
    }

    /// Stops the server and joins its thread.
    pub fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// How many times a refresh token was presented again after it had been used. Refresh
    /// tokens rotate: each refresh issues a new one and revokes the one used, and a revoked one
    /// is refused (`invalid_grant`), as OAuth 2.1 asks of servers that rotate them.
    pub fn refresh_reuses(&self) -> u64 {
        self.lock().refresh_reuses
    }

    /// The lifetime (`expires_in`, and how long `/mcp` accepts them) of the access tokens issued
    /// from now on, instead of the builder's [`token_lifetime`](AuthServerBuilder::token_lifetime).
    /// 0 issues tokens already expired: due for a refresh at once, refused by `/mcp`.
    pub fn set_token_lifetime(&self, seconds: u64) {
        self.lock().lifetime = Some(seconds);
    }
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl AuthServerBuilder {
    /// Where the protected-resource metadata is.
    pub fn prm(mut self, at: PrmAt) -> Self {
        self.prm = at;
        self
    }
    /// Where the authorization-server metadata is.
    pub fn metadata(mut self, at: MetadataAt) -> Self {
        self.metadata = at;
        self
    }
    /// The issuer's path, e.g. `/tenant1`.
    pub fn issuer_path(mut self, path: &str) -> Self {
        self.issuer_path = path.into();
        self
    }
    /// The `iss` behaviour.
    pub fn iss(mut self, iss: Iss) -> Self {
        self.iss = iss;
        self
    }
    /// The metadata names another issuer than the one it is fetched for.
    pub fn foreign_issuer(mut self) -> Self {
        self.foreign_issuer = true;
        self
    }
    /// The access tokens' lifetime in seconds (`expires_in`).
    pub fn token_lifetime(mut self, seconds: u64) -> Self {
        self.token_lifetime = seconds;
        self
    }
    /// Whether refresh tokens are issued.
    pub fn refresh_tokens(mut self, on: bool) -> Self {
        self.refresh_tokens = on;
        self
    }
    /// The `scope` of the 401 challenge.
    pub fn challenge_scope(mut self, scope: &str) -> Self {
        self.challenge_scope = Some(scope.into());
        self
    }
    /// The PRM's `scopes_supported`.
    pub fn scopes_supported(mut self, scopes: &[&str]) -> Self {
        self.scopes_supported = Some(scopes.iter().map(|s| s.to_string()).collect());
        self
    }
    /// The authorization server's `scopes_supported`.
    pub fn as_scopes_supported(mut self, scopes: &[&str]) -> Self {
        self.as_scopes_supported = Some(scopes.iter().map(|s| s.to_string()).collect());
        self
    }
    /// JSON-RPC `method` needs `scope` (else 403 `insufficient_scope`).
    pub fn method_scope(mut self, method: &str, scope: &str) -> Self {
        self.method_scopes.push((method.into(), scope.into()));
        self
    }
    /// Whether `/register` is offered.
    pub fn registration(mut self, on: bool) -> Self {
        self.registration = on;
        self
    }
    /// `token_endpoint_auth_methods_supported`.
    pub fn auth_methods(mut self, methods: &[&str]) -> Self {
        self.auth_methods = methods.iter().map(|s| s.to_string()).collect();
        self
    }
    /// A pre-registered client with a secret.
    pub fn client(mut self, id: &str, secret: &str) -> Self {
        self.client = Some((id.into(), secret.into()));
        self
    }
    /// A client authenticating with an assertion signed by this PKCS#8 PEM key (P-256: ES256,
    /// RSA: RS256).
    pub fn jwt_client(mut self, id: &str, private_key_pem: &str) -> Self {
        self.jwt_client = Some((id.into(), private_key_pem.into()));
        self
    }
    /// The PRM's `resource` (default: the MCP endpoint, or the origin for [`PrmAt::Root`]).
    pub fn resource(mut self, resource: &str) -> Self {
        self.resource_override = Some(resource.into());
        self
    }
    /// Never grant `scope`, whatever is asked (a server that keeps answering 403).
    pub fn withhold_scope(mut self, scope: &str) -> Self {
        self.withheld.push(scope.into());
        self
    }
    /// Advertise `client_id_metadata_document_supported`.
    pub fn cimd(mut self) -> Self {
        self.cimd = true;
        self
    }

    /// Advertises this `authorization_endpoint` instead of its own `/authorize` (a hostile or
    /// broken metadata document: another scheme, a file).
    pub fn authorization_endpoint(mut self, url: &str) -> Self {
        self.authorization_endpoint = Some(url.to_string());
        self
    }

    /// Starts the server on `127.0.0.1:0`.
    pub fn start(self) -> std::io::Result<AuthServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            opts: self,
            base: format!("http://127.0.0.1:{}", addr.port()),
            moved_to: Mutex::new(None),
            state: Mutex::default(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (shared.clone(), stop.clone());
        let thread = std::thread::Builder::new().name("mcp-test-auth".into()).spawn(move || {
            for stream in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (s, st) = (s.clone(), st.clone());
                let _ =
                    std::thread::Builder::new().name("mcp-test-auth-conn".into()).spawn(move || serve(&s, &st, stream));
            }
        })?;
        Ok(AuthServer { shared, addr, stop, thread: Some(thread) })
    }
}

fn serve(shared: &Shared, stop: &AtomicBool, mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let mut reader = RequestReader { stop, idle_limit: Duration::from_secs(10), buf: Vec::new() };
    let request = match reader.next(&mut stream) {
        ReadOutcome::Request(r) => r,
        _ => return,
    };
    let (status, headers, body) = handle(shared, &request);
    if request.method == "GET" && request.path() == "/sse" && status == 200 {
        stream_sse(shared, stop, stream, &body);
        return;
    }
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        reason(status),
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&body);
    let _ = stream.write_all(out.as_bytes());
}

type Reply = (u16, Vec<(&'static str, String)>, String);

/// A legacy SSE session's event stream: the endpoint event, then every reply of the session,
/// until the client goes away or the server stops.
fn stream_sse(shared: &Shared, stop: &AtomicBool, mut stream: TcpStream, session: &str) {
    let id: u64 = session.parse().unwrap_or_default();
    let rx = shared.state.lock().unwrap_or_else(|e| e.into_inner()).sse_streams.remove(&id);
    let head =
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n";
    let endpoint = format!("event: endpoint\ndata: /messages?session={id}\n\n");
    if let Some(rx) = rx
        && stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(endpoint.as_bytes())).is_ok()
    {
        let mut idle = Duration::ZERO;
        while !stop.load(Ordering::SeqCst) {
            let out = match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(message) => format!("event: message\ndata: {message}\n\n"),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    idle += Duration::from_millis(50);
                    if idle < Duration::from_secs(1) {
                        continue;
                    }
                    ": keep-alive\n\n".to_string() // finds a client that went away
                }
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            };
            idle = Duration::ZERO;
            if stream.write_all(out.as_bytes()).is_err() {
                break;
            }
        }
    }
    shared.state.lock().unwrap_or_else(|e| e.into_inner()).sse.remove(&id);
}
fn json(status: u16, value: serde_json::Value) -> Reply {
    (status, vec![], value.to_string())
}

fn parse_pairs(text: &str) -> Vec<(String, String)> {
    let decode = |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').map_or((decode(p), String::new()), |(k, v)| (decode(k), decode(v))))
        .collect()
}

fn handle(shared: &Shared, request: &super::http::Request) -> Reply {
    let o = &shared.opts;
    let base = &shared.base;
    let issuer = format!("{base}{}", o.issuer_path);
    let path = request.path().to_string();
    let query = request.target.split_once('?').map_or("", |(_, q)| q);
    let body = String::from_utf8_lossy(&request.body).into_owned();
    let is_form = request.header("content-type").is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let params = if request.method == "GET" {
        parse_pairs(query)
    } else if is_form {
        parse_pairs(&body)
    } else {
        Vec::new()
    };
    let recorded = Recorded {
        method: request.method.clone(),
        path: path.clone(),
        params: params.clone(),
        authorization: request.header("authorization").map(str::to_string),
        json: serde_json::from_str(&body).ok(),
    };
    let moved = shared.moved_to.lock().unwrap_or_else(|e| e.into_inner()).clone();
    // A token of the authorization server we moved to (looked up before taking our own lock).
    let foreign_grant = moved.as_ref().and_then(|(_, other)| {
        let token = recorded.authorization.as_deref()?.strip_prefix("Bearer ")?;
        let other = other.state.lock().unwrap_or_else(|e| e.into_inner());
        other.access.get(token).filter(|(until, _)| Instant::now() < *until).map(|(_, scope)| scope.clone())
    });
    let prm_issuer = moved.as_ref().map_or(issuer.clone(), |(i, _)| i.clone());
    let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    state.requests.push(recorded.clone());
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());

    // Protected-resource metadata (the legacy SSE endpoint is a resource of its own).
    let endpoint = if path == "/sse" || path == "/messages" || path.ends_with("/sse") { "sse" } else { "mcp" };
    let path_prm = format!("/.well-known/oauth-protected-resource/{endpoint}");
    let prm_path = match o.prm {
        PrmAt::PathAndHeader | PrmAt::Path => Some(path_prm.as_str()),
        PrmAt::Root => Some("/.well-known/oauth-protected-resource"),
        PrmAt::Custom => Some("/custom/metadata.json"),
        PrmAt::Nowhere => None,
    };
    if Some(path.as_str()) == prm_path {
        let resource = o
            .resource_override
            .clone()
            .unwrap_or_else(|| if o.prm == PrmAt::Root { base.clone() } else { format!("{base}/{endpoint}") });
        let mut prm = serde_json::json!({"resource": resource, "authorization_servers": [prm_issuer]});
        if let Some(s) = &o.scopes_supported {
            prm["scopes_supported"] = serde_json::json!(s);
        }
        return json(200, prm);
    }
    // Authorization-server metadata.
    let meta_path = match o.metadata {
        MetadataAt::OAuth => Some(format!("/.well-known/oauth-authorization-server{}", o.issuer_path)),
        MetadataAt::OpenIdInserted => Some(format!("/.well-known/openid-configuration{}", o.issuer_path)),
        MetadataAt::OpenIdAppended => Some(format!("{}/.well-known/openid-configuration", o.issuer_path)),
        MetadataAt::Nowhere => None,
    };
    if Some(&path) == meta_path.as_ref() {
        let named = if o.foreign_issuer { "https://attacker.example.com".to_string() } else { issuer.clone() };
        let mut meta = serde_json::json!({
            "issuer": named,
            "authorization_endpoint": o.authorization_endpoint.clone().unwrap_or_else(|| format!("{base}/authorize")),
            "token_endpoint": format!("{base}/token"),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": o.auth_methods,
            "authorization_response_iss_parameter_supported": o.iss != Iss::NotAdvertised,
        });
        if o.registration {
            meta["registration_endpoint"] = serde_json::json!(format!("{base}/register"));
        }
        if let Some(s) = &o.as_scopes_supported {
            meta["scopes_supported"] = serde_json::json!(s);
        }
        if o.cimd {
            meta["client_id_metadata_document_supported"] = serde_json::json!(true);
        }
        return json(200, meta);
    }
    match (request.method.as_str(), path.as_str()) {
        ("POST", "/register") if o.registration => {
            state.counter += 1;
            let id = format!("dyn-client-{}-{}", base.rsplit(':').next().unwrap_or(""), state.counter);
            let method = recorded
                .json
                .as_ref()
                .and_then(|j| j["token_endpoint_auth_method"].as_str())
                .unwrap_or("client_secret_basic")
                .to_string();
            let secret = (method != "none").then(|| format!("dyn-secret-{}", state.counter));
            state.clients.insert(id.clone(), secret.clone());
            let mut reply = serde_json::json!({"client_id": id, "token_endpoint_auth_method": method});
            if let Some(s) = secret {
                reply["client_secret"] = serde_json::json!(s);
            }
            json(201, reply)
        }
        ("GET", "/authorize") => {
            let (Some(client_id), Some(redirect), Some(challenge)) =
                (param("client_id"), param("redirect_uri"), param("code_challenge"))
            else {
                return json(400, serde_json::json!({"error": "invalid_request"}));
            };
            state.counter += 1;
            let code = format!("code-{}", state.counter);
            state.codes.insert(
                code.clone(),
                Code {
                    client_id,
                    challenge,
                    resource: param("resource"),
                    redirect_uri: redirect.clone(),
                    scope: param("scope")
                        .unwrap_or_default()
                        .split(' ')
                        .filter(|s| !o.withheld.iter().any(|w| w == s))
                        .collect::<Vec<_>>()
                        .join(" "),
                },
            );
            let mut location = format!("{redirect}?code={code}&state={}", encode(&param("state").unwrap_or_default()));
            match o.iss {
                Iss::Correct => location.push_str(&format!("&iss={}", encode(&issuer))),
                Iss::Wrong => location.push_str("&iss=https%3A%2F%2Fevil.example.com"),
                Iss::Missing | Iss::NotAdvertised => {}
            }
            (302, vec![("location", location)], String::new())
        }
        ("POST", "/token") => token(shared, &mut state, &recorded, &issuer),
        ("GET" | "DELETE", "/mcp") => (405, vec![("allow", "POST".into())], String::new()),
        (_, "/sse") | ("POST", "/messages") | (_, "/mcp") => {
            let www = |error: &str, scope: Option<&str>| {
                let mut v = format!("Bearer error=\"{error}\"");
                if let Some(s) = scope {
                    v.push_str(&format!(", scope=\"{s}\""));
                }
                if matches!(o.prm, PrmAt::PathAndHeader) {
                    v.push_str(&format!(", resource_metadata=\"{base}{path_prm}\""));
                }
                if matches!(o.prm, PrmAt::Custom) {
                    v.push_str(&format!(", resource_metadata=\"{base}/custom/metadata.json\""));
                }
                v
            };
            let token = recorded.authorization.as_deref().and_then(|a| a.strip_prefix("Bearer ")).unwrap_or("");
            let granted = match state.access.get(token) {
                _ if foreign_grant.is_some() => foreign_grant.clone().unwrap_or_default(),
                Some((until, scope)) if Instant::now() < *until => scope.clone(),
                _ => {
                    return (
                        401,
                        vec![("www-authenticate", www("invalid_token", o.challenge_scope.as_deref()))],
                        String::new(),
                    );
                }
            };
            let message: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let method = message["method"].as_str().unwrap_or("");
            if let Some((_, needed)) = o.method_scopes.iter().find(|(m, _)| m == method)
                && !granted.split(' ').any(|s| s == needed)
            {
                return (403, vec![("www-authenticate", www("insufficient_scope", Some(needed)))], String::new());
            }
            if path == "/sse" && request.method != "GET" {
                // Behind the authorization, like a real server's middleware: a Streamable HTTP
                // probe gets 401 first, then this.
                return (405, vec![("allow", "GET".into())], String::new());
            }
            state.served += 1;
            if path == "/sse" {
                // A new legacy session: its stream is taken by this connection (see `serve`).
                state.counter += 1;
                let id = state.counter;
                let (tx, rx) = crossbeam_channel::unbounded();
                state.sse.insert(id, tx);
                state.sse_streams.insert(id, rx);
                return (200, vec![], id.to_string());
            }
            let sse_session = (path == "/messages").then(|| {
                let id: u64 = parse_pairs(query)
                    .into_iter()
                    .find(|(k, _)| k == "session")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                state.sse.get(&id).cloned()
            });
            if let Some(None) = sse_session {
                return (404, vec![], "no such session".into());
            }
            if message.get("id").is_none() {
                return (202, vec![], String::new()); // a notification
            }
            let result = match method {
                "initialize" => serde_json::json!({
                    "protocolVersion": message["params"]["protocolVersion"],
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": "guarded", "version": "1"},
                }),
                "tools/list" => serde_json::json!({"tools": [{"name": "whoami", "inputSchema": {"type": "object"}}]}),
                "tools/call" => serde_json::json!({"content": [{"type": "text", "text": format!("scope: {granted}")}]}),
                _ => serde_json::json!({"method": method, "scope": granted}),
            };
            let reply = serde_json::json!({"jsonrpc": "2.0", "id": message["id"], "result": result});
            match sse_session {
                Some(Some(tx)) => {
                    let _ = tx.send(reply.to_string());
                    (202, vec![], String::new())
                }
                _ => json(200, reply),
            }
        }
        _ => (404, vec![], "not found".into()),
    }
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn token(shared: &Shared, state: &mut State, r: &Recorded, issuer: &str) -> Reply {
    let o = &shared.opts;
    let param = |name: &str| r.param(name).map(str::to_string);
    let refused = |error: &str| json(400, serde_json::json!({"error": error}));
    // The client's authentication: Basic, a secret in the body, an assertion, or none.
    let basic = r.authorization.as_deref().and_then(|a| a.strip_prefix("Basic ")).and_then(|b| STANDARD.decode(b).ok());
    let client_id = if let Some(pair) = basic {
        let pair = String::from_utf8_lossy(&pair).into_owned();
        let (id, secret) = pair.split_once(':').unwrap_or((&pair, ""));
        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
        let (id, secret) = (decode(id), decode(secret));
        if !o.auth_methods.iter().any(|m| m == "client_secret_basic") || !secret_ok(o, state, &id, &secret) {
            return json(401, serde_json::json!({"error": "invalid_client"}));
        }
        id
    } else if let Some(assertion) = param("client_assertion") {
        match verify_assertion(o, &assertion, issuer) {
            Some(id) => id,
            None => return json(401, serde_json::json!({"error": "invalid_client"})),
        }
    } else if let Some(secret) = param("client_secret") {
        let id = param("client_id").unwrap_or_default();
        if !o.auth_methods.iter().any(|m| m == "client_secret_post") || !secret_ok(o, state, &id, &secret) {
            return json(401, serde_json::json!({"error": "invalid_client"}));
        }
        id
    } else {
        let id = param("client_id").unwrap_or_default();
        if !o.auth_methods.iter().any(|m| m == "none") {
            return json(401, serde_json::json!({"error": "invalid_client"}));
        }
        id
    };
    let scope = match param("grant_type").as_deref() {
        Some("authorization_code") => {
            let Some(code) = param("code").and_then(|c| state.codes.remove(&c)) else {
                return refused("invalid_grant");
            };
            let verifier = param("code_verifier").unwrap_or_default();
            let challenge = URL_SAFE_NO_PAD.encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
            if code.client_id != client_id
                || challenge != code.challenge
                || param("redirect_uri").as_deref() != Some(&code.redirect_uri)
                || param("resource") != code.resource
            {
                return refused("invalid_grant");
            }
            code.scope
        }
        Some("refresh_token") => match param("refresh_token").and_then(|t| spend_refresh_token(state, &t)) {
            Some(scope) => scope,
            None => return refused("invalid_grant"),
        },
        Some("client_credentials") => param("scope").unwrap_or_default(),
        _ => return refused("unsupported_grant_type"),
    };
    state.counter += 1;
    let access = format!("access-{}", state.counter);
    let lifetime = state.lifetime.unwrap_or(o.token_lifetime);
    state.access.insert(access.clone(), (Instant::now() + Duration::from_secs(lifetime), scope.clone()));
    let mut reply =
        serde_json::json!({"access_token": access, "token_type": "Bearer", "expires_in": lifetime, "scope": scope});
    if o.refresh_tokens && param("grant_type").as_deref() != Some("client_credentials") {
        let refresh = format!("refresh-{}", state.counter);
        state.refresh.insert(refresh.clone(), scope);
        reply["refresh_token"] = serde_json::json!(refresh);
    }
    json(200, reply)
}

fn secret_ok(o: &AuthServerBuilder, state: &State, id: &str, secret: &str) -> bool {
    o.client.as_ref().is_some_and(|(i, s)| i == id && s == secret)
        || state.clients.get(id).is_some_and(|s| s.as_deref() == Some(secret))
}

/// Checks an ES256 or RS256 client assertion (the algorithm its header names, with the
/// client's key): signature, `iss` = `sub` = the client, `aud` = the issuer.
fn verify_assertion(o: &AuthServerBuilder, assertion: &str, issuer: &str) -> Option<String> {
    use p256::ecdsa::signature::Verifier as _;
    use p256::pkcs8::DecodePrivateKey as _;
    let (id, pem) = o.jwt_client.as_ref()?;
    let (signed, signature) = assertion.rsplit_once('.')?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(signed.split('.').next()?).ok()?).ok()?;
    match header["alg"].as_str()? {
        "ES256" => {
            let key = p256::ecdsa::SigningKey::from_pkcs8_pem(pem).ok()?;
            let signature = p256::ecdsa::Signature::from_slice(&signature).ok()?;
            key.verifying_key().verify(signed.as_bytes(), &signature).ok()?;
        }
        "RS256" => {
            let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            let key = ring::rsa::KeyPair::from_pkcs8(&STANDARD.decode(body).ok()?).ok()?;
            let public = ring::signature::UnparsedPublicKey::new(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                key.public().as_ref(),
            );
            public.verify(signed.as_bytes(), &signature).ok()?;
        }
        _ => return None,
    }
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(signed.split('.').nth(1)?).ok()?).ok()?;
    let aud_ok = claims["aud"].as_str().is_some_and(|a| a.trim_end_matches('/') == issuer.trim_end_matches('/'));
    (claims["iss"] == id.as_str() && claims["sub"] == id.as_str() && aud_ok).then(|| id.clone())
}

/// Uses refresh token `t` up (rotation): its scope when it is valid; `None`, counted as a reuse
/// when it was valid once, when it is not.
fn spend_refresh_token(state: &mut State, t: &str) -> Option<String> {
    let scope = state.refresh.remove(t);
    if scope.is_some() {
        state.spent.insert(t.to_string());
    } else if state.spent.contains(t) {
        state.refresh_reuses += 1;
    }
    scope
}
