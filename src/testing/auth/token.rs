//! The token endpoint: the client's authentication (Basic, a secret in the body, an ES256 or
//! RS256 assertion, or none) and the grants (authorization code with PKCE, refresh, client
//! credentials).

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use super::connection::{Reply, json};
use super::record::{Recorded, State};
use super::{AuthServerBuilder, Shared};

pub(super) fn token(shared: &Shared, state: &mut State, r: &Recorded, issuer: &str) -> Reply {
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
            let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()));
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
    let (id, pem) = o.jwt_client.as_ref()?;
    let (signed, signature) = assertion.rsplit_once('.')?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(signed.split('.').next()?).ok()?).ok()?;
    match header["alg"].as_str()? {
        "ES256" => {
            let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            let key = ring::signature::EcdsaKeyPair::from_pkcs8(
                &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &STANDARD.decode(body).ok()?,
                &ring::rand::SystemRandom::new(),
            )
            .ok()?;
            let public = ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                ring::signature::KeyPair::public_key(&key).as_ref(),
            );
            public.verify(signed.as_bytes(), &signature).ok()?;
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
