//! The per-server `auth` block (HTTP transports only):
//!
//! ```yaml
//! auth: { type: bearer, token: "${API_TOKEN}" }
//! auth:
//!   type: oauth                 # authorization code + PKCE, a person authorizes
//!   client_id: my-app           # optional: else a metadata document URL or registration
//!   client_secret: "${SECRET}"  # optional
//!   client_metadata_url: https://app.example/client.json   # optional
//!   scopes: [mcp:read]          # optional: used when the server's challenge names none
//!   redirect_port: 33418        # optional
//!   token_file: ~/.cache/mcp-tokens.json  # optional: else tokens live in memory
//! auth:
//!   type: client_credentials    # a program, no person
//!   client_id: svc
//!   client_secret: "${SECRET}"  # or private_key: "${PEM}" (private_key_jwt: ES256 or RS256,
//!                               # by the key; signing_algorithm: RS256 to say so)
//! ```
//!
//! Every value may use `${VAR}`; errors have a line and column and never show a value.

use std::path::PathBuf;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::auth_settings::{AuthConfig, ClientCredentialsConfig, OAuthConfig, Secret};
use super::env::expand_at;
use super::yaml::at_loc;
use crate::error::Result;

/// The `auth` block as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuth {
    #[serde(rename = "type")]
    kind: Option<Spanned<String>>,
    token: Option<Spanned<String>>,
    client_id: Option<Spanned<String>>,
    client_secret: Option<Spanned<String>>,
    client_metadata_url: Option<Spanned<String>>,
    scopes: Option<Vec<Spanned<String>>>,
    redirect_port: Option<Spanned<i64>>,
    token_file: Option<Spanned<String>>,
    private_key: Option<Spanned<String>>,
    signing_algorithm: Option<Spanned<String>>,
}

const TYPES: [&str; 3] = ["bearer", "oauth", "client_credentials"];

/// Builds the server's [`AuthConfig`] from its `auth` block.
pub(super) fn build_auth(
    raw: &Spanned<RawAuth>,
    server: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<AuthConfig> {
    let a = &raw.value;
    let here = &raw.referenced;
    let kind = a.kind.as_ref().ok_or_else(|| {
        at_loc(here, format!("server `{server}`: `auth` needs a `type` (one of {})", TYPES.join(", ")))
    })?;
    let value = |v: &Option<Spanned<String>>, key: &str| -> Result<Option<String>> {
        v.as_ref().map(|s| expand_at(s, server, &format!("auth.{key}"), lookup)).transpose()
    };
    let not_for = |v: Option<&Spanned<String>>, key: &str| -> Result<()> {
        match v {
            Some(s) => Err(at_loc(
                &s.referenced,
                format!("server `{server}`: `auth.{key}` is not used with `type: {}`", kind.value),
            )),
            None => Ok(()),
        }
    };
    let scopes = a.scopes.iter().flatten().map(|s| s.value.clone()).collect::<Vec<_>>();
    let token_file = value(&a.token_file, "token_file")?.map(PathBuf::from);
    match kind.value.as_str() {
        "bearer" => {
            for (v, key) in [
                (&a.client_id, "client_id"),
                (&a.client_secret, "client_secret"),
                (&a.client_metadata_url, "client_metadata_url"),
                (&a.token_file, "token_file"),
                (&a.private_key, "private_key"),
            ] {
                not_for(v.as_ref(), key)?;
            }
            let token = value(&a.token, "token")?
                .ok_or_else(|| at_loc(here, format!("server `{server}`: `auth` of `type: bearer` needs a `token`")))?;
            if token.is_empty() || token.chars().any(|c| c.is_control() || c == ' ') {
                let at = a.token.as_ref().map_or(here, |t| &t.referenced);
                return Err(at_loc(
                    at,
                    format!("server `{server}`: `auth.token` is empty or has spaces or control characters"),
                ));
            }
            Ok(AuthConfig::Bearer(Secret::new(token)))
        }
        "oauth" => {
            not_for(a.token.as_ref(), "token")?;
            not_for(a.private_key.as_ref(), "private_key")?;
            let redirect_port = match &a.redirect_port {
                Some(p) => Some(u16::try_from(p.value).ok().filter(|p| *p > 0).ok_or_else(|| {
                    at_loc(
                        &p.referenced,
                        format!("server `{server}`: `auth.redirect_port` must be 1 to 65535, got {}", p.value),
                    )
                })?),
                None => None,
            };
            let client_metadata_url = value(&a.client_metadata_url, "client_metadata_url")?;
            if let (Some(url), Some(at)) = (&client_metadata_url, &a.client_metadata_url)
                && !url.starts_with("https://")
            {
                return Err(at_loc(
                    &at.referenced,
                    format!("server `{server}`: `auth.client_metadata_url` must be an https URL"),
                ));
            }
            Ok(AuthConfig::OAuth(OAuthConfig {
                client_id: value(&a.client_id, "client_id")?,
                client_secret: value(&a.client_secret, "client_secret")?.map(Secret::new),
                client_metadata_url,
                scopes,
                redirect_port,
                token_file,
                client_name: None,
            }))
        }
        "client_credentials" => {
            not_for(a.token.as_ref(), "token")?;
            not_for(a.client_metadata_url.as_ref(), "client_metadata_url")?;
            let client_id = value(&a.client_id, "client_id")?.ok_or_else(|| {
                at_loc(here, format!("server `{server}`: `auth` of `type: client_credentials` needs a `client_id`"))
            })?;
            let client_secret = value(&a.client_secret, "client_secret")?.map(Secret::new);
            let private_key_pem = value(&a.private_key, "private_key")?.map(Secret::new);
            if client_secret.is_none() == private_key_pem.is_none() {
                return Err(at_loc(
                    here,
                    format!(
                        "server `{server}`: `auth` of `type: client_credentials` needs one of `client_secret` and `private_key`"
                    ),
                ));
            }
            let signing_algorithm = value(&a.signing_algorithm, "signing_algorithm")?;
            if let (Some(alg), Some(at)) = (&signing_algorithm, &a.signing_algorithm)
                && alg != "ES256"
                && alg != "RS256"
            {
                return Err(at_loc(
                    &at.referenced,
                    format!(
                        "server `{server}`: `auth.signing_algorithm` `{alg}` is not supported (ES256 and RS256 are)"
                    ),
                ));
            }
            Ok(AuthConfig::ClientCredentials(ClientCredentialsConfig {
                client_id,
                client_secret,
                private_key_pem,
                signing_algorithm,
                scopes,
                token_file,
            }))
        }
        other => Err(at_loc(
            &kind.referenced,
            format!("server `{server}`: unknown `auth.type` `{other}` (valid: {})", TYPES.join(", ")),
        )),
    }
}
