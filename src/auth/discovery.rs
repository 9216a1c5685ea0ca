//! Discovery: protected-resource metadata (RFC 9728), then authorization-server metadata
//! (RFC 8414 and OpenID Connect Discovery, in the order of the MCP specification), with the
//! 2025-03-26 fallbacks for servers that publish no protected-resource metadata.

use serde::Deserialize;

use super::net::Net;
use crate::error::Error;
use crate::url::Url;

/// Protected-resource metadata (RFC 9728 §2), the fields we use.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct ResourceMetadata {
    #[serde(default)]
    pub resource: Option<String>,
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    #[serde(default)]
    pub scopes_supported: Option<Vec<String>>,
}

/// Authorization-server metadata (RFC 8414 §2), the fields we use.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct ServerMetadata {
    pub issuer: String,
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    #[serde(default)]
    pub token_endpoint: Option<String>,
    #[serde(default)]
    pub registration_endpoint: Option<String>,
    #[serde(default)]
    pub scopes_supported: Option<Vec<String>>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    #[serde(default)]
    pub client_id_metadata_document_supported: bool,
}

impl ServerMetadata {
    /// Whether the token endpoint accepts `method` (RFC 8414: `client_secret_basic` when unsaid).
    pub(crate) fn accepts(&self, method: &str) -> bool {
        match &self.token_endpoint_auth_methods_supported {
            Some(list) => list.iter().any(|m| m == method),
            None => method == "client_secret_basic",
        }
    }
}

/// What discovery found for one protected resource.
#[derive(Clone, Debug)]
pub(crate) struct Discovered {
    /// The `resource` parameter: the PRM's `resource`, else the endpoint's canonical URI.
    pub resource: String,
    /// The PRM's `scopes_supported`.
    pub resource_scopes: Option<Vec<String>>,
    /// The authorization server's validated metadata.
    pub server: ServerMetadata,
}

/// The endpoint's canonical URI (RFC 8707): no fragment, no query, no trailing slash on an
/// empty path.
pub(crate) fn canonical(endpoint: &str) -> String {
    let base = endpoint.split(['#', '?']).next().unwrap_or(endpoint);
    match base.split_once("://") {
        Some((scheme, rest)) if !rest.contains('/') || rest.ends_with('/') && rest.matches('/').count() == 1 => {
            format!("{}://{}", scheme.to_ascii_lowercase(), rest.trim_end_matches('/'))
        }
        _ => base.to_string(),
    }
}

/// Splits `scheme://authority/path` into (`scheme://authority`, `/path` without a trailing slash).
fn split_origin(url: &str) -> (String, String) {
    let base = url.split(['#', '?']).next().unwrap_or(url);
    let start = base.find("://").map_or(0, |i| i + 3);
    match base[start..].find('/') {
        Some(i) => (base[..start + i].to_string(), base[start + i..].trim_end_matches('/').to_string()),
        None => (base.to_string(), String::new()),
    }
}

/// The protected-resource metadata URLs to try, in order: `resource_metadata` from the challenge
/// alone when there is one; else the well-known URL with the endpoint's path, then at the root.
pub(crate) fn resource_metadata_urls(endpoint: &str, from_header: Option<&str>) -> Vec<String> {
    if let Some(url) = from_header {
        return vec![url.to_string()];
    }
    let (origin, path) = split_origin(endpoint);
    let mut urls = Vec::new();
    if !path.is_empty() {
        urls.push(format!("{origin}/.well-known/oauth-protected-resource{path}"));
    }
    urls.push(format!("{origin}/.well-known/oauth-protected-resource"));
    urls
}

/// The authorization-server metadata URLs for `issuer`, in the specification's order.
pub(crate) fn server_metadata_urls(issuer: &str) -> Vec<String> {
    let (origin, path) = split_origin(issuer);
    if path.is_empty() {
        vec![
            format!("{origin}/.well-known/oauth-authorization-server"),
            format!("{origin}/.well-known/openid-configuration"),
        ]
    } else {
        vec![
            format!("{origin}/.well-known/oauth-authorization-server{path}"),
            format!("{origin}/.well-known/openid-configuration{path}"),
            format!("{origin}{path}/.well-known/openid-configuration"),
        ]
    }
}

/// Whether a PRM's `resource` may stand for `endpoint`: the same origin and a path that is a
/// prefix (on a segment boundary) of the endpoint's.
pub(crate) fn resource_matches(resource: &str, endpoint: &str) -> bool {
    let (r_origin, r_path) = split_origin(resource);
    let (e_origin, e_path) = split_origin(endpoint);
    let same_origin = match (Url::parse(&r_origin), Url::parse(&e_origin)) {
        (Ok(a), Ok(b)) => a.same_origin(&b),
        _ => false,
    };
    same_origin && (r_path.is_empty() || e_path == r_path || e_path.starts_with(&format!("{r_path}/")))
}

/// Runs discovery for `endpoint`; `resource_metadata` is the challenge's, if any.
pub(crate) fn discover(net: &Net<'_>, endpoint: &str, resource_metadata: Option<&str>) -> Result<Discovered, Error> {
    let base = Url::parse(endpoint).map_err(|e| net.fail(format!("the server URL {e}")))?;
    let mut prm = None;
    for candidate in resource_metadata_urls(endpoint, resource_metadata) {
        let url = base.join(&candidate).map_err(|e| net.fail(format!("resource_metadata URL {e}")))?;
        if let Some(found) = net.get_json::<ResourceMetadata>(&url, "oauth protected resource metadata")? {
            prm = Some(found);
            break;
        }
    }
    let Some(prm) = prm else {
        return legacy(net, endpoint);
    };
    let resource = match &prm.resource {
        Some(r) if resource_matches(r, endpoint) => r.clone(),
        Some(r) => {
            return Err(net.fail(format!(
                "the protected resource metadata is for `{}`, not for this server",
                crate::url::redacted(r)
            )));
        }
        None => canonical(endpoint),
    };
    let Some(issuer) = prm.authorization_servers.first() else {
        return Err(net.fail("the protected resource metadata names no authorization server"));
    };
    let server = server_metadata(net, issuer)?
        .ok_or_else(|| net.fail(format!("no authorization server metadata for `{}`", crate::url::redacted(issuer))))?;
    Ok(Discovered { resource, resource_scopes: prm.scopes_supported, server })
}

/// Fetches and validates `issuer`'s metadata: the first URL that answers, whose `issuer` must be
/// `issuer` exactly (else nothing of it is used).
pub(crate) fn server_metadata(net: &Net<'_>, issuer: &str) -> Result<Option<ServerMetadata>, Error> {
    for candidate in server_metadata_urls(issuer) {
        let url = Url::parse(&candidate).map_err(|e| net.fail(format!("issuer URL {e}")))?;
        if let Some(meta) = net.get_json::<ServerMetadata>(&url, "oauth authorization server metadata")? {
            if meta.issuer != issuer {
                return Err(net.fail(format!(
                    "the authorization server metadata at {url} names issuer `{}`, not `{}`",
                    crate::url::redacted(&meta.issuer),
                    crate::url::redacted(issuer)
                )));
            }
            return Ok(Some(meta));
        }
    }
    Ok(None)
}

/// The 2025-03-26 fallback: no protected-resource metadata, so the authorization server is the
/// MCP server's origin; its metadata at the RFC 8414 URL, else the default endpoints
/// `/authorize`, `/token`, `/register`.
fn legacy(net: &Net<'_>, endpoint: &str) -> Result<Discovered, Error> {
    let (origin, _) = split_origin(endpoint);
    let url = Url::parse(&format!("{origin}/.well-known/oauth-authorization-server"))
        .map_err(|e| net.fail(format!("the server URL {e}")))?;
    let server = match net.get_json::<ServerMetadata>(&url, "oauth authorization server metadata")? {
        Some(meta) => meta,
        None => ServerMetadata {
            issuer: origin.clone(),
            authorization_endpoint: Some(format!("{origin}/authorize")),
            token_endpoint: Some(format!("{origin}/token")),
            registration_endpoint: Some(format!("{origin}/register")),
            code_challenge_methods_supported: Some(vec!["S256".into()]),
            ..ServerMetadata::default()
        },
    };
    Ok(Discovered { resource: canonical(endpoint), resource_scopes: None, server })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_orders() {
        assert_eq!(
            resource_metadata_urls("http://h:1/mcp", None),
            ["http://h:1/.well-known/oauth-protected-resource/mcp", "http://h:1/.well-known/oauth-protected-resource"]
        );
        assert_eq!(resource_metadata_urls("http://h:1", None), ["http://h:1/.well-known/oauth-protected-resource"]);
        assert_eq!(resource_metadata_urls("http://h:1/mcp", Some("http://x/prm")), ["http://x/prm"]);
        assert_eq!(
            server_metadata_urls("https://a.example/tenant1"),
            [
                "https://a.example/.well-known/oauth-authorization-server/tenant1",
                "https://a.example/.well-known/openid-configuration/tenant1",
                "https://a.example/tenant1/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            server_metadata_urls("https://a.example/"),
            [
                "https://a.example/.well-known/oauth-authorization-server",
                "https://a.example/.well-known/openid-configuration"
            ]
        );
    }

    #[test]
    fn resource_prefix_rule_and_canonical_form() {
        assert!(resource_matches("http://h:1/mcp", "http://h:1/mcp"));
        assert!(resource_matches("http://h:1", "http://h:1/mcp"));
        assert!(resource_matches("http://h:1/", "http://h:1/mcp"));
        assert!(!resource_matches("http://h:1/mc", "http://h:1/mcp"));
        assert!(!resource_matches("https://evil.example.com/mcp", "http://h:1/mcp"));
        assert!(!resource_matches("http://h:2/mcp", "http://h:1/mcp"));
        assert_eq!(canonical("HTTPS://h.example/#x"), "https://h.example");
        assert_eq!(canonical("https://h.example/mcp?x=1#f"), "https://h.example/mcp");
    }
}
