//! A server's authorization settings (the `auth` block, or [`ServerConfig::auth`](super::ServerConfig::auth)):
//! plain data, with no knowledge of the flows in `auth/` that use them.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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
