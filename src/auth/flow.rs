//! The grants: refresh, client credentials, and the authorization code with PKCE; the client's
//! identity (configured, Client ID Metadata Document, dynamic registration); token requests.

use std::collections::HashMap;

use base64::Engine as _;
use serde::Deserialize;

use super::challenge::Challenge;
use super::discovery::{self, Discovered, ServerMetadata};
use super::net::{self, Net, form, parse_form};
use super::store::{FileLock, Tokens, now};
use super::{AuthConfig, AuthorizationHandler, AuthorizationRequest, ClientId, Inner, Secret, crypto};
use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::op::OpId;
use crate::transport::http::{self, Ctx};
use crate::url::Url;

const FORM: &str = "application/x-www-form-urlencoded";

/// Handles a challenge: re-discovers (the authorization server may have moved), then refreshes
/// (a 401 with a refresh token), or steps up / authorizes anew.
pub(super) fn renew(
    inner: &Inner,
    net: &Net<'_>,
    challenge: &Challenge,
    step_up: bool,
    sent: Option<&Secret>,
) -> Result<()> {
    let found = discovery::discover(net, &inner.endpoint, challenge.resource_metadata.as_deref())?;
    let issuer = found.server.issuer.clone();
    let moved = {
        let mut state = inner.lock();
        let moved = state.discovered.as_ref().is_some_and(|d| d.server.issuer != issuer);
        state.discovered = Some(found.clone());
        moved
    };
    if moved {
        log::info!("op={} server={} authorization: the server now uses issuer `{issuer}`", net.op, inner.server);
    }
    // Another process may have renewed the tokens since this one read the file.
    inner.store.reload();
    // Tokens from the file, found before discovery named the issuer, belong to it now.
    let mut tokens = inner.store.get(&issuer, &found.resource);
    if tokens.is_none()
        && let Some((old_issuer, t)) = inner.store.any_for(&found.resource)
        && old_issuer == issuer
    {
        tokens = Some(t);
    }
    if !step_up && let Some(t) = &tokens {
        if !t.stale() && sent != Some(&super::bearer(&t.access_token)) {
            // Not the token the server rejected (another process or thread renewed it, or the
            // request went without one): try it before renewing anything.
            return Ok(());
        }
        if t.refresh_token.is_some() {
            // Still locked at the deadline: another process is renewing; no other grant either.
            let lock = inner.store.lock(net.deadline).map_err(|e| net.fail(e))?;
            match refresh(inner, net, &found, t, &lock) {
                Ok(_) => return Ok(()),
                Err(e) => log::info!("op={} server={} authorization: refresh failed ({e})", net.op, inner.server),
            }
        }
    }
    let scopes = {
        let state = inner.lock();
        choose_scopes(inner, challenge, step_up, &state.requested, &found)
    };
    let fresh = match &inner.config {
        AuthConfig::ClientCredentials(_) => client_credentials(inner, net, &found, &scopes)?,
        AuthConfig::OAuth(_) => authorization_code(inner, net, &found, &scopes)?,
        AuthConfig::Bearer(_) => return Err(net.fail("a bearer token cannot be renewed")),
    };
    inner.lock().requested = scopes;
    save(inner, net, &found, Some(fresh))
}

/// A stale token (about to expire): refreshed, or for client credentials asked for again.
pub(super) fn renew_stale(inner: &Inner, net: &Net<'_>, found: &Discovered, tokens: &Tokens) -> Result<Tokens> {
    let client_credentials_flow = matches!(inner.config, AuthConfig::ClientCredentials(_));
    if tokens.refresh_token.is_none() && !client_credentials_flow {
        return Err(net.fail("the token expired and there is no refresh token"));
    }
    let lock = inner.store.lock(net.deadline).map_err(|e| net.fail(e))?;
    if tokens.refresh_token.is_some() {
        return refresh(inner, net, found, tokens, &lock);
    }
    locked(inner, net, found, tokens, &lock, |_| {
        let scopes = inner.lock().requested.clone();
        let fresh = client_credentials(inner, net, found, &scopes)?;
        save_locked(inner, net, found, Some(fresh.clone()), &lock)?;
        Ok(fresh)
    })
}

/// Stores (or forgets) the tokens, under the token file's lock (a local file: held only to read,
/// merge and write it).
fn save(inner: &Inner, net: &Net<'_>, found: &Discovered, tokens: Option<Tokens>) -> Result<()> {
    let lock = inner.store.lock(net.deadline).map_err(|e| net.fail(e))?;
    save_locked(inner, net, found, tokens, &lock)
}

fn save_locked(
    inner: &Inner,
    net: &Net<'_>,
    found: &Discovered,
    tokens: Option<Tokens>,
    lock: &FileLock,
) -> Result<()> {
    inner.store.put(lock, &found.server.issuer, &found.resource, tokens).map_err(|e| net.fail(e))
}

/// Renews `held` (the tokens that expired, or that the server rejected) in the cross-process
/// critical section: under the token file's `lock` (the caller's), the file is read again, and
/// when it now holds other tokens for this issuer and resource that are not stale, another
/// process (or another authorizer of this one) has renewed them meanwhile and they are used as
/// they are; else `renew` runs with the file's current tokens (their refresh token is the
/// newest) and saves what it gets under that lock.
///
/// The one lock this crate holds across a network call, on purpose: `renew`'s token request
/// runs inside it, because that request is what must not happen twice. An authorization server
/// that rotates refresh tokens revokes the old one when it is used (and may revoke the whole
/// family when it sees it again), so a second process refreshing with the refresh token it read
/// earlier would fail, or cost everyone their tokens. It is an advisory lock of a file, not an
/// in-process mutex: no thread blocks on it, a waiter polls with `try_lock`, and the wait for
/// it, like the request under it, ends at the flow's deadline, with an error that says the
/// token file is locked (`store::Store::lock`).
fn locked(
    inner: &Inner,
    net: &Net<'_>,
    found: &Discovered,
    held: &Tokens,
    _lock: &FileLock,
    renew: impl FnOnce(&Tokens) -> Result<Tokens>,
) -> Result<Tokens> {
    inner.store.reload();
    let Some(current) = inner.store.get(&found.server.issuer, &found.resource) else {
        return Err(net.fail("the tokens were forgotten meanwhile (a renewal elsewhere failed)"));
    };
    if current.access_token != held.access_token && !current.stale() {
        log::info!("op={} server={} authorization: using the token renewed meanwhile", net.op, inner.server);
        return Ok(current);
    }
    renew(&current)
}

/// Scopes: on a step-up the union of what was requested and what the challenge names; otherwise
/// the challenge's, else the configured ones, else the resource's `scopes_supported`, else none;
/// plus `offline_access` for the code flow when the authorization server lists it.
fn choose_scopes(
    inner: &Inner,
    challenge: &Challenge,
    step_up: bool,
    requested: &[String],
    found: &Discovered,
) -> Vec<String> {
    let configured = match &inner.config {
        AuthConfig::OAuth(c) => c.scopes.clone(),
        AuthConfig::ClientCredentials(c) => c.scopes.clone(),
        AuthConfig::Bearer(_) => Vec::new(),
    };
    let mut scopes: Vec<String> =
        if step_up { requested.iter().filter(|s| *s != "offline_access").cloned().collect() } else { Vec::new() };
    let wanted = if !challenge.scopes().is_empty() {
        challenge.scopes()
    } else if step_up || !configured.is_empty() {
        configured
    } else {
        found.resource_scopes.clone().unwrap_or_default()
    };
    for s in wanted {
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    let offline = "offline_access".to_string();
    if matches!(inner.config, AuthConfig::OAuth(_))
        && found.server.scopes_supported.as_ref().is_some_and(|s| s.contains(&offline))
        && !scopes.contains(&offline)
    {
        scopes.push(offline);
    }
    scopes
}

/// Refreshes `held` under the token file's lock ([`locked`]).
fn refresh(inner: &Inner, net: &Net<'_>, found: &Discovered, held: &Tokens, lock: &FileLock) -> Result<Tokens> {
    locked(inner, net, found, held, lock, |tokens| {
        let Some(refresh_token) = &tokens.refresh_token else {
            return Err(net.fail("no refresh token"));
        };
        let client = identity(inner, net, &found.server)?;
        let params = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
            ("resource", found.resource.as_str()),
        ];
        match token_request(net, &found.server, &client, &params, "oauth token refresh") {
            Ok(mut fresh) => {
                if fresh.refresh_token.is_none() {
                    fresh.refresh_token = tokens.refresh_token.clone();
                }
                if fresh.scope.is_none() {
                    fresh.scope = tokens.scope.clone();
                }
                save_locked(inner, net, found, Some(fresh.clone()), lock)?;
                log::info!("op={} server={} authorization: token refreshed", net.op, inner.server);
                Ok(fresh)
            }
            Err(e) => {
                // Refused: the refresh token is of no use to anyone sharing the file. (A timeout
                // or an unreachable server says nothing about it: it is kept.)
                if let Error::Http { .. } = e {
                    save_locked(inner, net, found, None, lock)?;
                }
                Err(e)
            }
        }
    })
}

fn client_credentials(inner: &Inner, net: &Net<'_>, found: &Discovered, scopes: &[String]) -> Result<Tokens> {
    let client = identity(inner, net, &found.server)?;
    let scope = scopes.join(" ");
    let mut params = vec![("grant_type", "client_credentials"), ("resource", found.resource.as_str())];
    if !scope.is_empty() {
        params.push(("scope", &scope));
    }
    let tokens = token_request(net, &found.server, &client, &params, "oauth client credentials")?;
    log::info!(
        "op={} server={} authorization: client credentials token from `{}`",
        net.op,
        inner.server,
        found.server.issuer
    );
    Ok(tokens)
}

fn authorization_code(inner: &Inner, net: &Net<'_>, found: &Discovered, scopes: &[String]) -> Result<Tokens> {
    let AuthConfig::OAuth(config) = &inner.config else {
        return Err(net.fail("not an authorization code client"));
    };
    let meta = &found.server;
    if !meta.code_challenge_methods_supported.as_ref().is_some_and(|m| m.iter().any(|m| m == "S256")) {
        return Err(net.fail(format!("the authorization server `{}` does not support PKCE with S256", meta.issuer)));
    }
    let endpoint = meta
        .authorization_endpoint
        .as_deref()
        .ok_or_else(|| net.fail("the authorization server metadata has no authorization_endpoint"))?;
    // The URL goes to the person's handler, which opens it with the system's URL opener: only
    // an http(s) URL, never a file, a program or another scheme the metadata names.
    if let Err(e) = crate::url::Url::parse(endpoint) {
        return Err(net.fail(format!(
            "the authorization server's authorization_endpoint {} {e}",
            crate::url::redacted(endpoint)
        )));
    }
    let handler = inner
        .handler
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .ok_or_else(|| net.fail("a person must authorize this server, and no authorization handler is set"))?;
    let client = identity(inner, net, meta)?;
    let redirect_uri = config.redirect_uri();
    let pkce = crypto::Pkce::new().map_err(|e| net.fail(e))?;
    let state = crypto::random_string(16).map_err(|e| net.fail(e))?;
    let scope = scopes.join(" ");
    let mut query = vec![
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("state", state.as_str()),
        ("resource", found.resource.as_str()),
    ];
    if !scope.is_empty() {
        query.push(("scope", &scope));
    }
    let url = format!("{endpoint}{}{}", if endpoint.contains('?') { '&' } else { '?' }, form(&query));
    inner.lock().authorizations += 1;
    log::info!(
        "op={} server={} authorization: asking the person to authorize at `{}`",
        net.op,
        inner.server,
        meta.issuer
    );
    let request = AuthorizationRequest {
        server: &inner.server,
        url: &url,
        redirect_uri: &redirect_uri,
        deadline: net.deadline.instant(),
    };
    let redirected =
        handler.authorize(&request).map_err(|e| net.fail(format!("the authorization step failed: {e}")))?;
    if net.deadline.is_past() {
        return Err(net.fail("the authorization step returned after the deadline"));
    }
    let query = redirected.split('#').next().unwrap_or("").split_once('?').map_or("", |(_, q)| q);
    let params: HashMap<String, String> = parse_form(query).into_iter().collect();
    // RFC 9207 §2.4, before anything else of the response is used.
    match params.get("iss") {
        Some(iss) if *iss != meta.issuer => {
            return Err(net.fail(format!(
                "the authorization response comes from issuer `{}`, not `{}`",
                crate::url::redacted(iss),
                meta.issuer
            )));
        }
        None if meta.authorization_response_iss_parameter_supported => {
            return Err(net.fail(format!("the authorization response has no `iss`, which `{}` promises", meta.issuer)));
        }
        _ => {}
    }
    if params.get("state") != Some(&state) {
        return Err(net.fail("the authorization response's `state` does not match the request"));
    }
    if let Some(error) = params.get("error") {
        return Err(net.fail(format!("the authorization server refused: {}", crate::transport::excerpt(error, 100))));
    }
    let code = params.get("code").ok_or_else(|| net.fail("the authorization response has no `code`"))?;
    let form_params = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", pkce.verifier.as_str()),
        ("resource", found.resource.as_str()),
    ];
    let mut tokens = token_request(net, meta, &client, &form_params, "oauth token")?;
    if tokens.scope.is_none() && !scope.is_empty() {
        tokens.scope = Some(scope);
    }
    log::info!("op={} server={} authorization: authorized at `{}`", net.op, inner.server, meta.issuer);
    Ok(tokens)
}

/// The client's identity at this authorization server, in the specification's order:
/// configured, a Client ID Metadata Document URL (when supported), dynamic registration.
fn identity(inner: &Inner, net: &Net<'_>, meta: &ServerMetadata) -> Result<ClientId> {
    if let Some(client) = inner.lock().clients.get(&meta.issuer) {
        return Ok(client.clone());
    }
    let client = match &inner.config {
        AuthConfig::ClientCredentials(c) => {
            if c.private_key_pem.is_some() {
                ClientId {
                    id: c.client_id.clone(),
                    secret: None,
                    method: "private_key_jwt".into(),
                    key: c.private_key_pem.clone().map(|k| {
                        let algorithm =
                            c.signing_algorithm.clone().unwrap_or_else(|| crypto::default_algorithm(k.expose()).into());
                        (k, algorithm)
                    }),
                }
            } else {
                ClientId {
                    id: c.client_id.clone(),
                    secret: c.client_secret.clone(),
                    method: secret_method(meta, true),
                    key: None,
                }
            }
        }
        AuthConfig::OAuth(c) => match (&c.client_id, &c.client_metadata_url, &meta.registration_endpoint) {
            (Some(id), _, _) => ClientId {
                id: id.clone(),
                secret: c.client_secret.clone(),
                method: secret_method(meta, c.client_secret.is_some()),
                key: None,
            },
            (None, Some(url), _) if meta.client_id_metadata_document_supported => {
                ClientId { id: url.clone(), secret: None, method: "none".into(), key: None }
            }
            (None, _, Some(registration)) => register(inner, net, meta, registration, c)?,
            (None, _, None) => {
                return Err(
                    net.fail(format!("`{}` offers no dynamic registration: configure a client_id", meta.issuer))
                );
            }
        },
        AuthConfig::Bearer(_) => return Err(net.fail("a bearer token has no client")),
    };
    inner.lock().clients.insert(meta.issuer.clone(), client.clone());
    Ok(client)
}

/// The token endpoint authentication for a client with (or without) a secret.
fn secret_method(meta: &ServerMetadata, has_secret: bool) -> String {
    if !has_secret {
        "none"
    } else if meta.accepts("client_secret_basic") {
        "client_secret_basic"
    } else if meta.accepts("client_secret_post") {
        "client_secret_post"
    } else {
        "client_secret_basic"
    }
    .into()
}

#[derive(Deserialize)]
struct Registration {
    client_id: String,
    #[serde(default)]
    client_secret: Option<Secret>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
}

/// Dynamic client registration (RFC 7591) with `application_type`: `native` for a loopback
/// redirect URI.
fn register(
    inner: &Inner,
    net: &Net<'_>,
    meta: &ServerMetadata,
    endpoint: &str,
    c: &super::OAuthConfig,
) -> Result<ClientId> {
    let what = "oauth client registration";
    let url = Url::parse(endpoint).map_err(|e| net.fail(format!("registration_endpoint {e}")))?;
    let method = if meta.accepts("none") {
        "none"
    } else if meta.accepts("client_secret_basic") {
        "client_secret_basic"
    } else if meta.accepts("client_secret_post") {
        "client_secret_post"
    } else {
        "none"
    };
    let redirect_uri = c.redirect_uri();
    let body = serde_json::json!({
        "client_name": c.client_name.clone().unwrap_or_else(|| "mcp-orchestrator".into()),
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
        "application_type": "native",
    });
    let reply = net.post(&url, &[], "application/json", body.to_string().as_bytes(), what)?;
    if !(200..300).contains(&reply.status) {
        return Err(net.ctx(what).http(reply.status, &oauth_error(&reply.body)));
    }
    let r: Registration = serde_json::from_str(&reply.body)
        .map_err(|e| net.ctx(what).protocol(format!("the registration reply is not valid: {e}")))?;
    let mut method = r.token_endpoint_auth_method.unwrap_or_else(|| method.into());
    if r.client_secret.is_none() && method.starts_with("client_secret") {
        method = "none".into();
    }
    log::info!("op={} server={} authorization: registered at `{}`", net.op, inner.server, meta.issuer);
    Ok(ClientId { id: r.client_id, secret: r.client_secret, method, key: None })
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: Secret,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    refresh_token: Option<Secret>,
    #[serde(default)]
    scope: Option<String>,
}

/// The `error` (and a short description) of an OAuth error reply; never the whole body.
fn oauth_error(body: &str) -> String {
    #[derive(Deserialize)]
    struct E {
        error: String,
        #[serde(default)]
        error_description: Option<String>,
    }
    match serde_json::from_str::<E>(body) {
        Ok(E { error, error_description: Some(d) }) => {
            format!("{}: {}", crate::transport::excerpt(&error, 60), crate::transport::excerpt(&d, 120))
        }
        Ok(E { error, .. }) => crate::transport::excerpt(&error, 60),
        Err(_) => String::new(),
    }
}

/// A token request with the client's authentication.
fn token_request(
    net: &Net<'_>,
    meta: &ServerMetadata,
    client: &ClientId,
    params: &[(&str, &str)],
    what: &str,
) -> Result<Tokens> {
    let endpoint = meta
        .token_endpoint
        .as_deref()
        .ok_or_else(|| net.fail("the authorization server metadata has no token_endpoint"))?;
    let url = Url::parse(endpoint).map_err(|e| net.fail(format!("token_endpoint {e}")))?;
    let mut all: Vec<(&str, String)> = params.iter().map(|(k, v)| (*k, v.to_string())).collect();
    let mut headers = Vec::new();
    let secret = client.secret.as_ref().map(Secret::expose).unwrap_or("");
    match client.method.as_str() {
        "client_secret_basic" => {
            let pair = format!("{}:{}", net::encode(&client.id), net::encode(secret));
            headers
                .push(("Authorization", format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))));
        }
        "client_secret_post" => {
            all.push(("client_id", client.id.clone()));
            all.push(("client_secret", secret.to_string()));
        }
        "private_key_jwt" => {
            let Some((pem, algorithm)) = &client.key else {
                return Err(net.fail("private_key_jwt needs a private key"));
            };
            let assertion =
                crypto::client_assertion(pem.expose(), algorithm, &client.id, &meta.issuer).map_err(|e| net.fail(e))?;
            all.push(("client_id", client.id.clone()));
            all.push(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into()));
            all.push(("client_assertion", assertion));
        }
        _ => all.push(("client_id", client.id.clone())),
    }
    let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let reply = net.post(&url, &headers, FORM, form(&pairs).as_bytes(), what)?;
    if !(200..300).contains(&reply.status) {
        return Err(net.ctx(what).http(reply.status, &oauth_error(&reply.body)));
    }
    let t: TokenReply = serde_json::from_str(&reply.body)
        .map_err(|_| net.ctx(what).protocol("the token reply is not valid JSON with an access_token".into()))?;
    if let Some(kind) = &t.token_type
        && !kind.eq_ignore_ascii_case("bearer")
    {
        return Err(net
            .ctx(what)
            .protocol(format!("token type `{}` is not supported", crate::transport::excerpt(kind, 30))));
    }
    let expires_in = t.expires_in.as_ref().and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())));
    let refresh_at = expires_in.map(|e| now().saturating_add(e.saturating_sub((e / 4).min(60))));
    Ok(Tokens { access_token: t.access_token, refresh_token: t.refresh_token, refresh_at, scope: t.scope })
}

/// A person's step for authorization servers that redirect at once (tests, the conformance
/// suite, a pre-approved client): GETs the authorization URL without following the redirect and
/// returns its `Location`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ImmediateRedirect;

impl AuthorizationHandler for ImmediateRedirect {
    fn authorize(&self, request: &AuthorizationRequest<'_>) -> std::result::Result<String, String> {
        let url = Url::parse(request.url).map_err(|e| format!("the authorization URL {e}"))?;
        let op = OpId::new();
        let ctx = Ctx { server: "authorization", method: "oauth authorization", op: &op };
        let agent = http::request_agent();
        let reply = http::exchange(&agent, &url, &[], None, 64 * 1024, Deadline::at(request.deadline), ctx)
            .map_err(|e: Error| e.to_string())?;
        match reply.location {
            Some(location) if (300..400).contains(&reply.status) => {
                if location.contains("://") {
                    Ok(location)
                } else {
                    url.join(&location).map(|u| u.request_target()).map_err(|e| format!("the redirect location {e}"))
                }
            }
            _ => Err(format!("the authorization endpoint answered status {} instead of a redirect", reply.status)),
        }
    }
}
