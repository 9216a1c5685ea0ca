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
//!
//! Files: this one holds the settings and the running server's handle; `record` what the server
//! remembers; `connection` each connection and the routing of its request; `discovery` the metadata
//! documents; `token` the token endpoint; `protected` the protected MCP endpoint.

mod connection;
mod discovery;
mod protected;
mod record;
mod token;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

pub use record::Recorded;

use connection::serve;
use record::State;

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
