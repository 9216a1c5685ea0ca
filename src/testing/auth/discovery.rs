//! The discovery documents: protected-resource metadata (RFC 9728) at the URL [`PrmAt`] chose,
//! and authorization-server metadata (RFC 8414 / OpenID Connect) at the one [`MetadataAt`] chose.

use super::connection::{Reply, json};
use super::{AuthServerBuilder, Iss, MetadataAt, PrmAt};

/// The resource a request path belongs to (`sse` for the legacy SSE endpoint, which is a
/// resource of its own, else `mcp`), and the path-based well-known URL of its metadata.
pub(super) fn resource_of(path: &str) -> (&'static str, String) {
    let endpoint = if path == "/sse" || path == "/messages" || path.ends_with("/sse") { "sse" } else { "mcp" };
    (endpoint, format!("/.well-known/oauth-protected-resource/{endpoint}"))
}

/// The metadata document published at `path`, if any. `prm_issuer`: the authorization server
/// the protected-resource metadata names (another one after
/// [`AuthServer::move_to`](super::AuthServer::move_to)).
pub(super) fn document(o: &AuthServerBuilder, base: &str, issuer: &str, prm_issuer: &str, path: &str) -> Option<Reply> {
    let (endpoint, path_prm) = resource_of(path);
    let prm_path = match o.prm {
        PrmAt::PathAndHeader | PrmAt::Path => Some(path_prm.as_str()),
        PrmAt::Root => Some("/.well-known/oauth-protected-resource"),
        PrmAt::Custom => Some("/custom/metadata.json"),
        PrmAt::Nowhere => None,
    };
    if Some(path) == prm_path {
        let resource = o
            .resource_override
            .clone()
            .unwrap_or_else(|| if o.prm == PrmAt::Root { base.to_string() } else { format!("{base}/{endpoint}") });
        let mut prm = serde_json::json!({"resource": resource, "authorization_servers": [prm_issuer]});
        if let Some(s) = &o.scopes_supported {
            prm["scopes_supported"] = serde_json::json!(s);
        }
        return Some(json(200, prm));
    }
    // Authorization-server metadata.
    let meta_path = match o.metadata {
        MetadataAt::OAuth => Some(format!("/.well-known/oauth-authorization-server{}", o.issuer_path)),
        MetadataAt::OpenIdInserted => Some(format!("/.well-known/openid-configuration{}", o.issuer_path)),
        MetadataAt::OpenIdAppended => Some(format!("{}/.well-known/openid-configuration", o.issuer_path)),
        MetadataAt::Nowhere => None,
    };
    if meta_path.as_deref() == Some(path) {
        let named = if o.foreign_issuer { "https://attacker.example.com".to_string() } else { issuer.to_string() };
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
        return Some(json(200, meta));
    }
    None
}
