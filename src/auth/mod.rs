//! Authorization for HTTP servers (the MCP specification's OAuth 2.1 profile, 2025-11-25 and
//! 2026-07-28): a static bearer token, the authorization code flow with PKCE for a person, or
//! client credentials for a program with no person present.
//!
//! The transports use one small interface: before a request they ask the [`Authorizer`] for the
//! `Authorization` header ([`Authorizer::authorization`]); when the server answers 401, or 403
//! with `insufficient_scope`, they hand it the status and the `WWW-Authenticate` header
//! ([`Authorizer::challenged`]) and, when it returns `Ok`, send the request again (a few times
//! at most).
//!
//! On a challenge the authorizer discovers the authorization server (protected-resource
//! metadata, then the server's metadata with an exact `issuer` match), obtains a client identity
//! (pre-registered, a Client ID Metadata Document URL, or dynamic registration), and gets a token:
//! by refreshing, by client credentials, or by the authorization code flow, whose person's step
//! is an [`AuthorizationHandler`] the program supplies. Tokens are kept per issuer and resource,
//! in memory or in a file (0600, replaced atomically). Secrets, tokens, codes and verifiers never
//! appear in logs, errors or `Debug`.

mod challenge;
mod crypto;
mod discovery;
mod flow;
mod net;
mod store;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::deadline::Deadline;
use crate::error::Result;
use crate::op::OpId;

pub use self::flow::ImmediateRedirect;

/// The redirect port used when the config names none.
pub const DEFAULT_REDIRECT_PORT: u16 = 33418;

/// A secret (a token, a client secret, a private key): `Debug` shows `Secret(***)`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Secret {
        Secret(secret.into())
    }

    /// The secret itself, to send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How a server is authorized: the config's per-server `auth` block.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum AuthConfig {
    /// A static token, sent as `Authorization: Bearer <token>` (`type: bearer`).
    Bearer(Secret),
    /// The authorization code flow with PKCE: a person authorizes (`type: oauth`).
    OAuth(OAuthConfig),
    /// Client credentials: a program authorizes itself (`type: client_credentials`).
    ClientCredentials(ClientCredentialsConfig),
}

/// Settings of the authorization code flow. Everything is optional: without a client id the
/// client uses a Client ID Metadata Document (when the server supports them and one is named) or
/// registers itself dynamically.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct OAuthConfig {
    /// A pre-registered client id.
    pub client_id: Option<String>,
    /// The pre-registered client's secret (a confidential client).
    pub client_secret: Option<Secret>,
    /// An `https` URL of this client's metadata document, used as client id where supported.
    pub client_metadata_url: Option<String>,
    /// Scopes to request when the server's challenge names none.
    pub scopes: Vec<String>,
    /// The loopback port of the redirect URI `http://127.0.0.1:<port>/callback`.
    pub redirect_port: Option<u16>,
    /// A file to keep tokens in (else memory only).
    pub token_file: Option<PathBuf>,
    /// The name shown to the person when registering dynamically.
    pub client_name: Option<String>,
}

/// Settings of the client-credentials grant: a secret (`client_secret_basic`, or
/// `client_secret_post` when that is all the server accepts) or a private key
/// (`private_key_jwt`, ES256 or RS256).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ClientCredentialsConfig {
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: Option<Secret>,
    /// A PEM private key for `private_key_jwt`: PKCS#8 P-256 (`ES256`), or PKCS#8 / PKCS#1 RSA
    /// (`RS256`).
    pub private_key_pem: Option<Secret>,
    /// The signing algorithm of `private_key_jwt`, `ES256` or `RS256` (default: by the key).
    pub signing_algorithm: Option<String>,
    /// Scopes to request when the server's challenge names none.
    pub scopes: Vec<String>,
    /// A file to keep tokens in (else memory only).
    pub token_file: Option<PathBuf>,
}

impl OAuthConfig {
    /// No settings: a public client that registers itself (or uses a metadata document once one
    /// is named), redirect port [`DEFAULT_REDIRECT_PORT`], tokens in memory.
    ///
    /// ```
    /// use mcp_orchestrator::{AuthConfig, OAuthConfig};
    ///
    /// let auth = AuthConfig::OAuth(
    ///     OAuthConfig::new().client_id("my-app").scopes(["files:read"]).redirect_port(8765),
    /// );
    /// # let _ = auth;
    /// ```
    pub fn new() -> OAuthConfig {
        OAuthConfig::default()
    }

    /// Sets a pre-registered client id.
    pub fn client_id(mut self, id: impl Into<String>) -> OAuthConfig {
        self.client_id = Some(id.into());
        self
    }

    /// Sets the pre-registered client's secret (a confidential client).
    pub fn client_secret(mut self, secret: impl Into<String>) -> OAuthConfig {
        self.client_secret = Some(Secret::new(secret));
        self
    }

    /// Sets the `https` URL of this client's metadata document (used as client id where the
    /// authorization server supports them).
    pub fn client_metadata_url(mut self, url: impl Into<String>) -> OAuthConfig {
        self.client_metadata_url = Some(url.into());
        self
    }

    /// Sets the scopes to request when the server's challenge names none.
    pub fn scopes(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> OAuthConfig {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the loopback port of the redirect URI.
    pub fn redirect_port(mut self, port: u16) -> OAuthConfig {
        self.redirect_port = Some(port);
        self
    }

    /// Keeps tokens in this file (created owner-only, written atomically).
    pub fn token_file(mut self, path: impl Into<PathBuf>) -> OAuthConfig {
        self.token_file = Some(path.into());
        self
    }

    /// Sets the name shown to the person when the client registers itself.
    pub fn client_name(mut self, name: impl Into<String>) -> OAuthConfig {
        self.client_name = Some(name.into());
        self
    }

    /// The redirect URI: `http://127.0.0.1:<redirect_port>/callback`.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/callback", self.redirect_port.unwrap_or(DEFAULT_REDIRECT_PORT))
    }
}

impl ClientCredentialsConfig {
    /// Client credentials with a secret (`client_secret_basic`, or `client_secret_post` when that
    /// is all the server accepts).
    ///
    /// ```
    /// use mcp_orchestrator::{AuthConfig, ClientCredentialsConfig};
    ///
    /// let auth = AuthConfig::ClientCredentials(
    ///     ClientCredentialsConfig::with_secret("batch-job", "s3cret").scopes(["reports"]),
    /// );
    /// # let _ = auth;
    /// ```
    pub fn with_secret(client_id: impl Into<String>, secret: impl Into<String>) -> ClientCredentialsConfig {
        ClientCredentialsConfig {
            client_id: client_id.into(),
            client_secret: Some(Secret::new(secret)),
            ..ClientCredentialsConfig::default()
        }
    }

    /// Client credentials with a private key (`private_key_jwt`): a PEM PKCS#8 P-256 key
    /// (`ES256`), or a PKCS#8 / PKCS#1 RSA key (`RS256`).
    pub fn with_private_key(client_id: impl Into<String>, pem: impl Into<String>) -> ClientCredentialsConfig {
        ClientCredentialsConfig {
            client_id: client_id.into(),
            private_key_pem: Some(Secret::new(pem)),
            ..ClientCredentialsConfig::default()
        }
    }

    /// Names the signing algorithm of `private_key_jwt` (`ES256` or `RS256`; default: by the key).
    pub fn signing_algorithm(mut self, algorithm: impl Into<String>) -> ClientCredentialsConfig {
        self.signing_algorithm = Some(algorithm.into());
        self
    }

    /// Sets the scopes to request when the server's challenge names none.
    pub fn scopes(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> ClientCredentialsConfig {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Keeps tokens in this file (created owner-only, written atomically).
    pub fn token_file(mut self, path: impl Into<PathBuf>) -> ClientCredentialsConfig {
        self.token_file = Some(path.into());
        self
    }
}

/// What the person's step gets: the URL to open, the redirect URI the answer comes to, and the
/// deadline by which to return.
#[derive(Debug)]
#[non_exhaustive]
pub struct AuthorizationRequest<'a> {
    /// The server (its name in the config) that asks for the authorization.
    pub server: &'a str,
    /// The authorization URL to open in a browser (it holds a `state` and a PKCE challenge, no
    /// secret).
    pub url: &'a str,
    /// The redirect URI the authorization server sends the browser back to.
    pub redirect_uri: &'a str,
    /// Return by then (the flow fails with a timeout after it).
    pub deadline: Instant,
}

/// The person's step of the authorization code flow: show the authorization URL (open a browser,
/// print it), wait for the redirect to `redirect_uri`, and return the full URL it was redirected
/// to (with its `code`, `state` and `iss`), or why not. Called without any lock held.
pub trait AuthorizationHandler: Send + Sync {
    /// Runs the person's step; the `Err` text is shown in the error (it must hold no secret).
    fn authorize(&self, request: &AuthorizationRequest<'_>) -> std::result::Result<String, String>;
}

/// The authorization of one server: asked for a header before each request, told about each
/// 401 or 403. Cheap to clone (shared state); safe to use from many threads: one flow runs at a
/// time, the others wait for its token.
#[derive(Clone)]
pub struct Authorizer {
    inner: Arc<Inner>,
}

impl fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorizer").field("server", &self.inner.server).finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    server: String,
    /// The MCP endpoint as configured.
    endpoint: String,
    config: AuthConfig,
    handler: Mutex<Option<Arc<dyn AuthorizationHandler>>>,
    agent: ureq::Agent,
    store: store::Store,
    state: Mutex<State>,
    flow_ended: Condvar,
}

/// A registered (or configured) client at one authorization server.
#[derive(Clone)]
pub(crate) struct ClientId {
    pub id: String,
    pub secret: Option<Secret>,
    /// `client_secret_basic`, `client_secret_post`, `none` or `private_key_jwt`.
    pub method: String,
    /// `private_key_jwt`: the PEM key and the algorithm.
    pub key: Option<(Secret, String)>,
}

#[derive(Default)]
struct State {
    discovered: Option<discovery::Discovered>,
    /// Client identities per issuer (never reused at another authorization server).
    clients: BTreeMap<String, ClientId>,
    /// The scopes of the last authorization (step-up asks for their union with the challenge's).
    requested: Vec<String>,
    flow_running: bool,
    /// How many authorization requests went to the person's handler.
    authorizations: u64,
}

impl Authorizer {
    /// The authorizer of server `server` at `endpoint` (its MCP URL).
    pub fn new(server: &str, endpoint: &str, config: AuthConfig) -> Authorizer {
        let token_file = match &config {
            AuthConfig::OAuth(c) => c.token_file.clone(),
            AuthConfig::ClientCredentials(c) => c.token_file.clone(),
            AuthConfig::Bearer(_) => None,
        };
        Authorizer {
            inner: Arc::new(Inner {
                server: server.into(),
                endpoint: endpoint.into(),
                config,
                handler: Mutex::new(None),
                agent: crate::transport::http::request_agent(),
                store: store::Store::new(token_file),
                state: Mutex::new(State::default()),
                flow_ended: Condvar::new(),
            }),
        }
    }

    /// The same authorizer with the person's step of the authorization code flow.
    pub fn with_handler(self, handler: Arc<dyn AuthorizationHandler>) -> Authorizer {
        self.set_handler(handler);
        self
    }

    /// Sets the person's step (for every clone of this authorizer).
    pub(crate) fn set_handler(&self, handler: Arc<dyn AuthorizationHandler>) {
        *self.inner.handler.lock().unwrap_or_else(|e| e.into_inner()) = Some(handler);
    }

    /// The `Authorization` header value to send (`Bearer …`), refreshing a token that is about to
    /// expire; `None` before anything is known (the server's 401 starts the flow).
    pub fn authorization(&self, timeout: Duration) -> Result<Option<Secret>> {
        self.authorization_by(Deadline::after(timeout), &OpId::new())
    }

    /// Handles a 401, or a 403 with `insufficient_scope`: discovers, then refreshes, steps up or
    /// authorizes anew. `sent` is the header the rejected request carried. `Ok` means: send the
    /// request again with a fresh [`authorization`](Self::authorization).
    pub fn challenged(
        &self,
        status: u16,
        www_authenticate: Option<&str>,
        sent: Option<&Secret>,
        timeout: Duration,
    ) -> Result<()> {
        self.challenged_by(status, www_authenticate, sent, "authorization", Deadline::after(timeout), &OpId::new())
    }

    /// Authorizes ahead of time (the `login` command): discovery from the well-known URLs, then
    /// the flow, without waiting for the server's 401. Does nothing when a token is already held.
    pub fn login(&self, timeout: Duration) -> Result<()> {
        self.challenged_by(401, None, None, "login", Deadline::after(timeout), &OpId::new())
    }

    /// How many times the person's handler was asked to authorize (tests, step-up limits).
    pub fn authorizations(&self) -> u64 {
        self.inner.lock().authorizations
    }

    pub(crate) fn authorization_by(&self, deadline: Deadline, op: &OpId) -> Result<Option<Secret>> {
        let inner = &self.inner;
        if let AuthConfig::Bearer(token) = &inner.config {
            return Ok(Some(bearer(token)));
        }
        let discovered = inner.lock().discovered.clone();
        let Some(found) = discovered else {
            let resource = discovery::canonical(&inner.endpoint);
            return Ok(inner.store.any_for(&resource).map(|(_, t)| bearer(&t.access_token)));
        };
        let issuer = found.server.issuer.clone();
        let Some(tokens) = inner.store.get(&issuer, &found.resource) else {
            return Ok(None);
        };
        if !tokens.stale() {
            return Ok(Some(bearer(&tokens.access_token)));
        }
        let net = net::Net { agent: &inner.agent, server: &inner.server, method: "oauth refresh", op, deadline };
        match flow::renew_stale(inner, &net, &found, &tokens) {
            Ok(fresh) => Ok(Some(bearer(&fresh.access_token))),
            Err(e) => {
                log::info!("op={op} server={} authorization: renewing the token failed ({e})", inner.server);
                Ok(Some(bearer(&tokens.access_token)))
            }
        }
    }

    pub(crate) fn challenged_by(
        &self,
        status: u16,
        www_authenticate: Option<&str>,
        sent: Option<&Secret>,
        method: &str,
        deadline: Deadline,
        op: &OpId,
    ) -> Result<()> {
        let inner = &self.inner;
        let challenge = challenge::parse(www_authenticate.unwrap_or(""));
        let net = net::Net { agent: &inner.agent, server: &inner.server, method, op, deadline };
        let step_up = status == 403;
        if step_up && challenge.error.as_deref() != Some("insufficient_scope") {
            return Err(net.fail("the server refused the request (status 403)"));
        }
        if let AuthConfig::Bearer(_) = inner.config {
            return Err(net.fail(format!("the server rejected the configured bearer token (status {status})")));
        }
        // One flow at a time; a flow that ended while we waited may have renewed the token.
        {
            let mut state = inner.lock();
            while state.flow_running {
                let left = deadline.remaining();
                if left.is_zero() {
                    return Err(net.fail("timed out waiting for another authorization in progress"));
                }
                state = inner.flow_ended.wait_timeout(state, left).unwrap_or_else(|e| e.into_inner()).0;
            }
            let current = state
                .discovered
                .as_ref()
                .and_then(|d| inner.store.get(&d.server.issuer, &d.resource))
                .map(|t| bearer(&t.access_token));
            if current.is_some() && current.as_ref() != sent {
                return Ok(()); // renewed by another thread meanwhile: retry with its token
            }
            state.flow_running = true;
        }
        /// Ends the flow even if the person's handler panics.
        struct Running<'a>(&'a Inner);
        impl Drop for Running<'_> {
            fn drop(&mut self) {
                self.0.lock().flow_running = false;
                self.0.flow_ended.notify_all();
            }
        }
        let _running = Running(inner);
        flow::renew(inner, &net, &challenge, step_up, sent).map_err(|e| net.as_auth(e))
    }
}

/// The authorizer of an HTTP server whose config has an `auth` block (with the person's step,
/// when the program gave one); `None` for the others.
pub(crate) fn for_server(
    config: &crate::config::ServerConfig,
    handler: Option<Arc<dyn AuthorizationHandler>>,
) -> Option<Authorizer> {
    use crate::config::Transport as TransportConfig;
    let url = match &config.transport {
        TransportConfig::Sse { url } | TransportConfig::StreamableHttp { url } | TransportConfig::Http { url } => url,
        TransportConfig::Stdio { .. } => return None,
    };
    let authorizer = Authorizer::new(&config.name, url, config.auth.clone()?);
    Some(match handler {
        Some(h) => authorizer.with_handler(h),
        None => authorizer,
    })
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn bearer(token: &Secret) -> Secret {
    Secret(format!("Bearer {}", token.0))
}
