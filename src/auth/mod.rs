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
//! in memory or in a file (0600, replaced atomically) that several processes may share: a
//! refresh runs under the file's lock and first reads the file again (`store.rs`). Secrets,
//! tokens, codes and verifiers never appear in logs, errors or `Debug`.

mod challenge;
mod crypto;
mod discovery;
mod flow;
mod net;
mod store;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::deadline::Deadline;
use crate::error::Result;
use crate::op::OpId;

pub use self::flow::ImmediateRedirect;
pub(crate) use crate::config::{AuthConfig, OAuthConfig, Secret};

impl crate::transport::Credentials for Authorizer {
    fn authorization_by(&self, deadline: Deadline, op: &OpId) -> Result<Option<Secret>> {
        Authorizer::authorization_by(self, deadline, op)
    }

    fn challenged_by(
        &self,
        status: u16,
        www_authenticate: Option<&str>,
        sent: Option<&Secret>,
        method: &str,
        deadline: Deadline,
        op: &OpId,
    ) -> Result<()> {
        Authorizer::challenged_by(self, status, www_authenticate, sent, method, deadline, op)
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
            if inner.store.any_for(&resource).is_some_and(|(_, t)| t.stale()) {
                inner.store.reload(); // another process may have refreshed it
            }
            return Ok(inner.store.any_for(&resource).map(|(_, t)| bearer(&t.access_token)));
        };
        let issuer = found.server.issuer.clone();
        let Some(mut tokens) = inner.store.get(&issuer, &found.resource) else {
            return Ok(None);
        };
        if tokens.stale() {
            // Another process sharing the token file may have refreshed it: reading the file
            // again is cheap, renewing (under its lock) is not.
            inner.store.reload();
            let Some(current) = inner.store.get(&issuer, &found.resource) else {
                return Ok(None);
            };
            tokens = current;
        }
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
        // One flow at a time; a flow that ended while we waited, here or in another process
        // sharing the token file (read again, before any lock is taken), may have renewed it.
        inner.store.reload();
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
    Secret::new(format!("Bearer {}", token.expose()))
}
