//! Authorization against the test authorization server (`testing::AuthServer`, 127.0.0.1:0):
//! discovery variants, PKCE + resource + iss, client identities, scopes and step-up, refresh,
//! client credentials, the token file. Each test drives the `Authorizer` the way the transports
//! do: ask for a header, send, hand a 401/403 back, retry (at most 3 times).

#![cfg(feature = "testing")]

#[path = "support/wait.rs"]
mod wait;

use std::sync::Arc;
use std::time::Duration;

use mcp_orchestrator::testing::{AuthServer, Iss, MetadataAt, PrmAt};
use mcp_orchestrator::{
    AuthConfig, Authorizer, ClientCredentialsConfig, Config, ImmediateRedirect, OAuthConfig, Secret, ServerConfig,
};
use wait::eventually;

const T: Duration = Duration::from_secs(10);

const KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgc/uOwHTRAxA4zXQ+
C+/KNeJisAcC0bvFZe+FJpmeJv6hRANCAAT1aoYSxga3tJmEiJWeXaA0vgWDQU1q
w20qOMFd1tiN8tCDkQIK0kG5e4d+xSmZAEijGxALkWQwZmGrskCBC+Ev
-----END PRIVATE KEY-----
";

/// A 2048-bit RSA key (PKCS#8) made for these tests with `openssl genpkey -algorithm RSA`.
const RSA_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQC4K4aCVR7Bo8f5
lCtJNoKalIj//cxSAPfG+mHp8YP6xlPVcXIe9t+z5z9NxJ6mPmQWcuBtAaYQlq+1
KoYUhuKPhHamuEYSuv2vlbiLwbvlokSSkQ1ejH0ujzNM8+c3orw3VOwDf1ejZyBf
AnkNXpsR/JESUWhmIKw+rYegZ9DIfZh7bcgpuc6THSJlw6Pjdho5G0CiLshGLYAd
YmN3hmWCWEhTha9aeZSEuVXK+Tz0ALxO51uPWKAgf1pwcy5nLJ45ObZAkyJzfht9
JKuAcZ0Z1+asPDKqKOSvEr4kY/tAwpfhnWiFH6pOKNtKpboCTNzfz7+A8OgOUh/1
MB40WUW1AgMBAAECggEAB659EkOVoFMB/MVy1r9ozCTE4BSIaKU0sH5yBg12SUfr
aDwum98FLp5HFCnOyjVQ/GS3OqS2dfurAX3wELwdiAno3wRRm+djvGacx2uBuE6/
2HMnYRmwAPilFaEYtEfb3Nz0aSLvF1guT/gs72NSSXpE3MQ7fAMB3C1lukmKOkp8
loPS5fCcFN5B19PQdf0jnk9NSvSn7OOX/28iyv9Zev61vwm5fQVYNRTBNwuQUJpc
8M+4QK2FSH6NemJphLNPlLtYvFu8/1M/1nxcd4U5Egb0lpBtQqHxqfIdMNG6M/hR
LZ9eKv+CcNqjBeKO+kND+krXuVFq6Qx7errk+RsIcwKBgQDvJ1LUNw0yjC5yi08U
NSd+brp53W2JtfxnoKYjaM1uQofzyjEF/xqDlqpTvusoMv/BTZO57B7MVT2Oli8/
X+If6quXtweHUsR+/3wdpuaLFR2AGoVzU3ytigu+3nrdcG0wM6xdYGWQPlIjKQ6J
5SGMDH20fnrq5LYv8j8tSVX0KwKBgQDFJK2rD7S1XLvETv3UTM4bWbic+axq81JO
YcA1jk+nwKmJDW5F6+Sv9ZnqCzucBRKhRPnP9WFyNNGySpC89eM2/Hmov+nJkt1f
FFPBgqmXuzVPJ3aclnpdRYuwwF6OFcZ6FoAqJ7UM3p3uKrbPA0BddpL9Xjo3jueb
PFy3akldnwKBgQDFFSr1J8kAdvVv/83TYVqCns2d0BSNACRZYdKIK73ft4RCK8Xq
oyg+eNM04Ij6P8z0h/HNrgBTc4ufDbUyDNpUYxe1l2fk5Rh5cCHgbcJfq677+t8v
AwYkHTdAvCeUhSn2Jx9MdDw+ep1FzHfmu6TBvSl6rSCuonxhVskpkN38sQKBgQC4
orBwTIZfcVl98skxwzkpTm9jvUZo6DhGprBAuGcL4polfMmxfMuyrKAZHaoXZnzb
Q2GADf3U23kltUY3Y0cJIY7Dp/HKUt03hi8nRjuVmsTDvF8PKrOxlUfOI2yrP+Oi
Rl6EnKmpQvnArIqH+TCYGEx0NYLqs9FghzkCou3RWwKBgQCQEUHHrOR7jw2r3clm
oa1LDLixfo3X0p85rxUpvQb9XlDNj0HRJT2T39Duz+awIz68Q2DWB+jyCgw7+cd/
1kpgQI2Sd1FAft1Zs6bSStl2gPjvqddhQpu5Hk6676vEU3qbVUQ242/6h1ULi4Ad
eqQf0IsQMu21BhmBtB1mgUT+nQ==
-----END PRIVATE KEY-----
";

fn oauth(server: &AuthServer, config: OAuthConfig) -> Authorizer {
    Authorizer::new("guarded", &server.mcp_url(), AuthConfig::OAuth(config)).with_handler(Arc::new(ImmediateRedirect))
}

/// One JSON-RPC request the way a transport sends it; the status of the last answer.
fn call(auth: &Authorizer, server: &AuthServer, method: &str) -> mcp_orchestrator::Result<u16> {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let mut status = 0;
    for _ in 0..3 {
        let header = auth.authorization(T)?;
        let mut request = agent.post(server.mcp_url()).header("content-type", "application/json");
        if let Some(h) = &header {
            request = request.header("authorization", h.expose());
        }
        let response = request
            .send(format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}"}}"#))
            .expect("the test server answers");
        status = response.status().as_u16();
        if status != 401 && status != 403 {
            return Ok(status);
        }
        let www = response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).map(str::to_string);
        auth.challenged(status, www.as_deref(), header.as_ref(), T)?;
    }
    Ok(status)
}

fn paths(server: &AuthServer) -> Vec<String> {
    server.requests().into_iter().map(|r| r.path).collect()
}

#[test]
fn the_default_flow_uses_the_header_metadata_pkce_resource_and_iss() {
    let server = AuthServer::builder().start().unwrap();
    let auth = oauth(&server, OAuthConfig::default());
    assert_eq!(call(&auth, &server, "tools/list").unwrap(), 200);
    let p = paths(&server);
    assert!(p.contains(&"/.well-known/oauth-protected-resource/mcp".to_string()), "{p:?}");
    assert!(!p.contains(&"/.well-known/oauth-protected-resource".to_string()), "the root PRM is never fetched: {p:?}");
    let register = &server.requests_to("/register")[0];
    let body = register.json.as_ref().unwrap();
    assert_eq!(body["application_type"], "native");
    assert_eq!(body["token_endpoint_auth_method"], "none");
    let authorize = &server.requests_to("/authorize")[0];
    let token = &server.requests_to("/token")[0];
    assert_eq!(authorize.param("code_challenge_method"), Some("S256"));
    assert_eq!(authorize.param("resource"), Some(server.mcp_url().as_str()));
    assert_eq!(token.param("resource"), authorize.param("resource"));
    assert_eq!(authorize.param("scope"), None, "no scope is defined anywhere");
    assert!(token.param("client_id").is_some_and(|id| id.starts_with("dyn-client-")), "{token:?}");
    assert_eq!(token.param("code_verifier").unwrap().len(), 43);
    assert_eq!(auth.authorizations(), 1);
    // The token is reused: no further authorization.
    assert_eq!(call(&auth, &server, "tools/call").unwrap(), 200);
    assert_eq!(server.requests_to("/authorize").len(), 1);
    assert_eq!(server.served(), 2);
}

#[test]
fn path_metadata_then_the_openid_configuration() {
    let server = AuthServer::builder().prm(PrmAt::Path).metadata(MetadataAt::OpenIdInserted).start().unwrap();
    let auth = oauth(&server, OAuthConfig::default());
    assert_eq!(call(&auth, &server, "tools/list").unwrap(), 200);
    let p = paths(&server);
    let at = |x: &str| p.iter().position(|q| q == x).unwrap_or_else(|| panic!("{x} not requested: {p:?}"));
    assert!(at("/.well-known/oauth-protected-resource/mcp") < at("/.well-known/oauth-authorization-server"));
    assert!(at("/.well-known/oauth-authorization-server") < at("/.well-known/openid-configuration"));
}

#[test]
fn root_metadata_and_an_issuer_with_a_path() {
    let server = AuthServer::builder().prm(PrmAt::Root).issuer_path("/tenant1").start().unwrap();
    let auth = oauth(&server, OAuthConfig::default());
    assert_eq!(call(&auth, &server, "tools/list").unwrap(), 200);
    let p = paths(&server);
    let at = |x: &str| p.iter().position(|q| q == x).unwrap_or_else(|| panic!("{x} not requested: {p:?}"));
    assert!(at("/.well-known/oauth-protected-resource/mcp") < at("/.well-known/oauth-protected-resource"));
    assert!(p.contains(&"/.well-known/oauth-authorization-server/tenant1".to_string()));
    assert!(!p.contains(&"/.well-known/oauth-authorization-server".to_string()), "{p:?}");
    // The PRM's resource (the bare origin) is what goes in `resource`.
    let origin = server.mcp_url().trim_end_matches("/mcp").to_string();
    assert_eq!(server.requests_to("/authorize")[0].param("resource"), Some(origin.as_str()));
}

#[test]
fn custom_metadata_location_and_the_appended_openid_url() {
    let server = AuthServer::builder()
        .prm(PrmAt::Custom)
        .issuer_path("/tenant1")
        .metadata(MetadataAt::OpenIdAppended)
        .start()
        .unwrap();
    let auth = oauth(&server, OAuthConfig::default());
    assert_eq!(call(&auth, &server, "tools/list").unwrap(), 200);
    let p = paths(&server);
    let expected = [
        "/custom/metadata.json",
        "/.well-known/oauth-authorization-server/tenant1",
        "/.well-known/openid-configuration/tenant1",
        "/tenant1/.well-known/openid-configuration",
    ];
    let found: Vec<&String> = p.iter().filter(|x| expected.contains(&x.as_str())).collect();
    assert_eq!(found, expected, "{p:?}");
}

#[test]
fn a_2025_03_26_server_without_metadata_uses_the_default_endpoints() {
    let server = AuthServer::builder()
        .prm(PrmAt::Nowhere)
        .metadata(MetadataAt::Nowhere)
        .iss(Iss::NotAdvertised)
        .auth_methods(&["client_secret_basic"])
        .start()
        .unwrap();
    let auth = oauth(&server, OAuthConfig::default());
    assert_eq!(call(&auth, &server, "tools/list").unwrap(), 200);
    let p = paths(&server);
    assert!(p.contains(&"/.well-known/oauth-authorization-server".to_string()), "{p:?}");
    assert_eq!(server.requests_to("/register").len(), 1);
    assert_eq!(server.requests_to("/token").len(), 1);
}

#[test]
fn a_wrong_or_missing_iss_stops_before_the_token_request() {
    for (iss, says) in [(Iss::Wrong, "comes from issuer"), (Iss::Missing, "has no `iss`")] {
        let server = AuthServer::builder().iss(iss).start().unwrap();
        let auth = oauth(&server, OAuthConfig::default());
        let err = call(&auth, &server, "tools/list").unwrap_err();
        assert!(matches!(err, mcp_orchestrator::Error::Auth { .. }), "{err:?}");
        assert_eq!(err.kind(), mcp_orchestrator::ErrorKind::Unauthorized);
        let text = err.to_string();
        assert!(text.starts_with("auth: ") && text.contains(says) && text.contains("server `guarded`"), "{text}");
        assert!(!text.contains("code-"), "no authorization code in errors: {text}");
        assert_eq!(server.requests_to("/authorize").len(), 1);
        assert!(server.requests_to("/token").is_empty(), "{iss:?}: the code was redeemed");
    }
}

#[test]
fn a_foreign_issuer_or_a_foreign_resource_is_never_used() {
    let server = AuthServer::builder().foreign_issuer().start().unwrap();
    let err = call(&oauth(&server, OAuthConfig::default()), &server, "tools/list").unwrap_err().to_string();
    assert!(err.contains("names issuer `https://attacker.example.com"), "{err}");
    assert!(server.requests_to("/authorize").is_empty() && server.requests_to("/register").is_empty());

    let server = AuthServer::builder().resource("https://evil.example.com/mcp").start().unwrap();
    let err = call(&oauth(&server, OAuthConfig::default()), &server, "tools/list").unwrap_err().to_string();
    assert!(err.contains("not for this server"), "{err}");
    assert!(server.requests_to("/authorize").is_empty());
}

#[test]
fn scopes_from_the_challenge_else_the_resource_plus_offline_access() {
    let server = AuthServer::builder().challenge_scope("mcp:basic").scopes_supported(&["a", "b"]).start().unwrap();
    call(&oauth(&server, OAuthConfig::default()), &server, "x").unwrap();
    assert_eq!(server.requests_to("/authorize")[0].param("scope"), Some("mcp:basic"));

    let server = AuthServer::builder().scopes_supported(&["mcp:basic", "mcp:read", "mcp:write"]).start().unwrap();
    call(&oauth(&server, OAuthConfig::default()), &server, "x").unwrap();
    assert_eq!(server.requests_to("/authorize")[0].param("scope"), Some("mcp:basic mcp:read mcp:write"));

    let server = AuthServer::builder()
        .scopes_supported(&["mcp:basic"])
        .as_scopes_supported(&["mcp:basic", "offline_access"])
        .start()
        .unwrap();
    call(&oauth(&server, OAuthConfig::default()), &server, "x").unwrap();
    assert_eq!(server.requests_to("/authorize")[0].param("scope"), Some("mcp:basic offline_access"));
}

#[test]
fn step_up_asks_for_the_union_and_gives_up_after_three_tries() {
    let server =
        AuthServer::builder().challenge_scope("mcp:basic").method_scope("tools/call", "mcp:write").start().unwrap();
    let auth = oauth(&server, OAuthConfig::default());
    assert_eq!(call(&auth, &server, "tools/list").unwrap(), 200);
    assert_eq!(call(&auth, &server, "tools/call").unwrap(), 200);
    let scopes: Vec<_> =
        server.requests_to("/authorize").iter().map(|r| r.param("scope").unwrap_or("").to_string()).collect();
    assert_eq!(scopes, ["mcp:basic", "mcp:basic mcp:write"]);

    let server = AuthServer::builder().method_scope("tools/call", "admin").withhold_scope("admin").start().unwrap();
    let auth = oauth(&server, OAuthConfig::default());
    assert_eq!(call(&auth, &server, "tools/call").unwrap(), 403);
    assert!(server.requests_to("/authorize").len() <= 3, "{}", server.requests_to("/authorize").len());
}

#[test]
fn pre_registered_clients_authenticate_as_the_server_allows() {
    for (method, basic) in [("client_secret_basic", true), ("client_secret_post", false)] {
        let server =
            AuthServer::builder().registration(false).auth_methods(&[method]).client("pre", "s3cret").start().unwrap();
        let config = OAuthConfig::new().client_id("pre").client_secret("s3cret");
        assert_eq!(call(&oauth(&server, config), &server, "x").unwrap(), 200, "{method}");
        let token = &server.requests_to("/token")[0];
        assert_eq!(token.authorization.is_some(), basic, "{method}");
        assert_eq!(token.param("client_secret").is_some(), !basic, "{method}");
        assert!(server.requests_to("/register").is_empty());
    }
}

#[test]
fn a_client_metadata_document_url_is_the_client_id_where_supported() {
    let server = AuthServer::builder().cimd().start().unwrap();
    let url = "https://client.example/metadata.json";
    let config = OAuthConfig::new().client_metadata_url(url);
    assert_eq!(call(&oauth(&server, config), &server, "x").unwrap(), 200);
    assert_eq!(server.requests_to("/authorize")[0].param("client_id"), Some(url));
    assert!(server.requests_to("/register").is_empty());
}

#[test]
fn an_expiring_token_is_refreshed_before_it_expires() {
    let server = AuthServer::builder().token_lifetime(1).start().unwrap();
    let auth = oauth(&server, OAuthConfig::default());
    assert_eq!(call(&auth, &server, "x").unwrap(), 200);
    let first = auth.authorization(T).unwrap().unwrap();
    eventually("the token is refreshed", || auth.authorization(T).unwrap().as_ref() != Some(&first));
    assert_eq!(call(&auth, &server, "x").unwrap(), 200);
    assert!(server.requests_to("/token").iter().any(|r| r.param("grant_type") == Some("refresh_token")));
    assert_eq!(auth.authorizations(), 1, "no person needed to refresh");
}

#[test]
fn a_401_with_a_refresh_token_refreshes_and_retries() {
    let server = AuthServer::builder().start().unwrap();
    let auth = oauth(&server, OAuthConfig::default());
    assert_eq!(call(&auth, &server, "x").unwrap(), 200);
    server.revoke_access_tokens();
    assert_eq!(call(&auth, &server, "x").unwrap(), 200);
    let refreshes =
        server.requests_to("/token").iter().filter(|r| r.param("grant_type") == Some("refresh_token")).count();
    assert_eq!((refreshes, auth.authorizations()), (1, 1));
    // Without refresh tokens a 401 means a new authorization.
    let server = AuthServer::builder().refresh_tokens(false).start().unwrap();
    let auth = oauth(&server, OAuthConfig::default());
    call(&auth, &server, "x").unwrap();
    server.revoke_access_tokens();
    assert_eq!(call(&auth, &server, "x").unwrap(), 200);
    assert_eq!(auth.authorizations(), 2);
}

#[test]
fn client_credentials_with_a_secret_or_a_signed_assertion() {
    let server = AuthServer::builder()
        .registration(false)
        .auth_methods(&["client_secret_basic"])
        .client("svc", "pw")
        .start()
        .unwrap();
    let config = ClientCredentialsConfig::with_secret("svc", "pw");
    let auth = Authorizer::new("guarded", &server.mcp_url(), AuthConfig::ClientCredentials(config));
    assert_eq!(call(&auth, &server, "x").unwrap(), 200);
    let token = &server.requests_to("/token")[0];
    assert_eq!(token.param("grant_type"), Some("client_credentials"));
    assert_eq!(token.param("resource"), Some(server.mcp_url().as_str()));
    assert!(server.requests_to("/authorize").is_empty());

    let server = AuthServer::builder()
        .registration(false)
        .auth_methods(&["private_key_jwt"])
        .jwt_client("svc", KEY_PEM)
        .start()
        .unwrap();
    let config = ClientCredentialsConfig::with_private_key("svc", KEY_PEM);
    let auth = Authorizer::new("guarded", &server.mcp_url(), AuthConfig::ClientCredentials(config.clone()));
    assert_eq!(call(&auth, &server, "x").unwrap(), 200);
    let token = &server.requests_to("/token")[0];
    assert_eq!(token.param("client_assertion_type"), Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"));
    assert!(!format!("{config:?}").contains("PRIVATE KEY"));

    // RS256: chosen by the key, or named.
    for algorithm in [None, Some("RS256")] {
        let server = AuthServer::builder()
            .registration(false)
            .auth_methods(&["private_key_jwt"])
            .jwt_client("svc", RSA_KEY_PEM)
            .start()
            .unwrap();
        let mut config = ClientCredentialsConfig::with_private_key("svc", RSA_KEY_PEM);
        config.signing_algorithm = algorithm.map(String::from);
        let auth = Authorizer::new("guarded", &server.mcp_url(), AuthConfig::ClientCredentials(config));
        assert_eq!(call(&auth, &server, "x").unwrap(), 200, "{algorithm:?}");
        let assertion = server.requests_to("/token")[0].param("client_assertion").unwrap().to_string();
        let header = base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            assertion.split('.').next().unwrap(),
        );
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&header.unwrap()).unwrap()["alg"], "RS256");
    }
    // An RSA key named ES256 fails with an auth error that shows no key.
    let server = AuthServer::builder().registration(false).auth_methods(&["private_key_jwt"]).start().unwrap();
    let config = ClientCredentialsConfig::with_private_key("svc", RSA_KEY_PEM).signing_algorithm("ES256");
    let auth = Authorizer::new("guarded", &server.mcp_url(), AuthConfig::ClientCredentials(config));
    let err = call(&auth, &server, "x").unwrap_err().to_string();
    assert!(err.contains("not a PKCS#8 PEM P-256 key") && !err.contains("MII"), "{err}");
}

#[test]
fn the_token_file_is_owner_only_and_reused() {
    let dir = std::env::temp_dir().join(format!("mcp-auth-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tokens.json");
    let _ = std::fs::remove_file(&file);
    let server = AuthServer::builder().start().unwrap();
    let config = OAuthConfig::new().token_file(&file);
    let auth = oauth(&server, config.clone());
    assert_eq!(call(&auth, &server, "x").unwrap(), 200);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // Beside it only its lock (kept, owner-only too): no temporary file is left behind.
    let lock = dir.join("tokens.json.lock");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path() != file && e.path() != lock)
        .collect();
    assert!(leftovers.is_empty(), "no temporary file is left behind: {leftovers:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&lock).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // A new authorizer (a new process) starts with the file's token: no new authorization.
    let again = oauth(&server, config);
    assert_eq!(call(&again, &server, "x").unwrap(), 200);
    assert_eq!((again.authorizations(), server.requests_to("/authorize").len()), (0, 1));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn secrets_stay_out_of_debug_and_errors() {
    let config = OAuthConfig::new().client_id("id").client_secret("hunter2");
    assert!(!format!("{config:?}").contains("hunter2"));
    assert!(!format!("{:?}", AuthConfig::Bearer(Secret::new("tok-123"))).contains("tok-123"));
    let server = AuthServer::builder()
        .registration(false)
        .auth_methods(&["client_secret_basic"])
        .client("id", "other")
        .start()
        .unwrap();
    let auth = oauth(&server, config);
    let err = call(&auth, &server, "x").unwrap_err();
    assert_eq!(err.kind(), mcp_orchestrator::ErrorKind::Unauthorized);
    let text = format!("{err} {err:?}");
    assert!(text.contains("oauth token: status 401") && text.contains("invalid_client"), "{text}");
    assert!(!text.contains("hunter2") && !text.contains("code-") && !text.contains("access-"), "{text}");
}

fn config(auth: &[&str]) -> mcp_orchestrator::Result<mcp_orchestrator::Config> {
    let mut text = String::from(
        "mcp_servers:\n  guarded:\n    transport: streamable_http\n    url: http://127.0.0.1:1/mcp\n    priority: 1\n",
    );
    for line in auth {
        text.push_str(&format!("    {line}\n"));
    }
    let env = |name: &str| match name {
        "TOKEN" => Some("tok-secret".to_string()),
        "SECRET" => Some("client-secret".to_string()),
        _ => None,
    };
    mcp_orchestrator::Config::from_yaml_str_with_env(&text, env)
}

fn config_error(auth: &[&str]) -> (String, Option<usize>, Option<usize>) {
    match config(auth).unwrap_err() {
        mcp_orchestrator::Error::Config { message, line, column, .. } => (message, line, column),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_auth_block_of_the_config() {
    let c = config(&["auth:", "  type: bearer", "  token: ${TOKEN}"]).unwrap();
    let auth = c.servers[0].auth.clone().unwrap();
    assert_eq!(auth, AuthConfig::Bearer(Secret::new("tok-secret")));
    assert!(!format!("{:?}", c).contains("tok-secret"));

    let c = config(&[
        "auth:",
        "  type: oauth",
        "  client_id: app",
        "  client_secret: ${SECRET}",
        "  scopes: [mcp:read, mcp:write]",
        "  redirect_port: 8123",
        "  token_file: /tmp/t.json",
    ])
    .unwrap();
    let AuthConfig::OAuth(o) = c.servers[0].auth.clone().unwrap() else { panic!() };
    assert_eq!(
        (o.client_id.as_deref(), o.client_secret.as_ref().map(Secret::expose)),
        (Some("app"), Some("client-secret"))
    );
    assert_eq!((o.scopes.len(), o.redirect_uri()), (2, "http://127.0.0.1:8123/callback".to_string()));
    assert!(!format!("{:?}", c).contains("client-secret"));
    // The builders make what the YAML makes.
    let built = OAuthConfig::new()
        .client_id("app")
        .client_secret("client-secret")
        .scopes(["mcp:read", "mcp:write"])
        .redirect_port(8123)
        .token_file("/tmp/t.json");
    assert_eq!(AuthConfig::OAuth(built), c.servers[0].auth.clone().unwrap());

    let c = config(&["auth: {type: client_credentials, client_id: svc, client_secret: '${SECRET}'}"]).unwrap();
    let built = ClientCredentialsConfig::with_secret("svc", "client-secret");
    assert_eq!(c.servers[0].auth, Some(AuthConfig::ClientCredentials(built)));
    // The server builder takes the block too, and refuses it on stdio as the YAML does.
    let server = ServerConfig::streamable_http("guarded", "http://127.0.0.1:1/mcp")
        .priority(1)
        .auth(c.servers[0].auth.clone().unwrap());
    assert_eq!(Config::builder().server(server).build().unwrap().servers[0].auth, c.servers[0].auth);
    let stdio = ServerConfig::stdio("local", "server", ["--stdio"]).auth(AuthConfig::Bearer(Secret::new("t")));
    let e = Config::builder().server(stdio).build().unwrap_err().to_string();
    assert!(
        e.contains("server `local`: `auth` is not allowed with transport `stdio`") && !e.contains("Bearer t"),
        "{e}"
    );

    let c = config(&["auth: {type: client_credentials, client_id: svc, private_key: k, signing_algorithm: RS256}"]);
    assert!(matches!(c.unwrap().servers[0].auth, Some(AuthConfig::ClientCredentials(_))));
    let (m, _, _) =
        config_error(&["auth: {type: client_credentials, client_id: svc, private_key: k, signing_algorithm: HS256}"]);
    assert!(m.contains("`HS256` is not supported (ES256 and RS256 are)"), "{m}");

    let (m, l, col) = config_error(&["auth:", "  type: magic"]);
    assert_eq!(
        (m.as_str(), l, col),
        ("server `guarded`: unknown `auth.type` `magic` (valid: bearer, oauth, client_credentials)", Some(7), Some(13))
    );
    let (m, l, _) = config_error(&["auth:", "  type: bearer", "  token: ${NOPE}"]);
    assert!(m.contains("`NOPE` (used in `auth.token`) is not set") && l == Some(8), "{m} {l:?}");
    let (m, l, _) = config_error(&["auth:", "  type: oauth", "  redirect_port: 70000"]);
    assert!(m.contains("redirect_port` must be 1 to 65535") && l == Some(8), "{m}");
    let (m, _, _) = config_error(&["auth: {type: client_credentials, client_id: svc}"]);
    assert!(m.contains("needs one of `client_secret` and `private_key`"), "{m}");
    let (m, l, _) = config_error(&["auth:", "  type: bearer", "  token: x", "  colour: red"]);
    assert!(m.contains("unknown key `colour`") && l == Some(9), "{m} {l:?}");
    let (m, _, _) = config_error(&["auth: {type: bearer, token: '${TOKEN}', client_secret: '${SECRET}'}"]);
    assert!(m.contains("`auth.client_secret` is not used with `type: bearer`") && !m.contains("client-secret"), "{m}");
}

fn guarded_config(server: &AuthServer, auth: &str) -> mcp_orchestrator::ServerConfig {
    let text = format!(
        "mcp_servers:\n  guarded:\n    transport: streamable_http\n    url: {}\n    priority: 1\n    timeout: 10\n    auth: {auth}\n",
        server.mcp_url()
    );
    mcp_orchestrator::Config::from_yaml_str(&text).unwrap().servers.remove(0)
}

#[test]
fn a_client_over_streamable_http_authorizes_retries_and_steps_up() {
    let server =
        AuthServer::builder().challenge_scope("mcp:basic").method_scope("tools/call", "mcp:write").start().unwrap();
    let config = guarded_config(&server, "{type: oauth}");
    let client = mcp_orchestrator::Client::builder(&config)
        .authorization_handler(Arc::new(ImmediateRedirect))
        .connect()
        .unwrap();
    assert_eq!(client.list_tools().unwrap()[0].name, "whoami");
    let result = client.call_tool("whoami", serde_json::json!({})).unwrap();
    assert!(format!("{result:?}").contains("scope: mcp:basic mcp:write"), "{result:?}");
    let scopes: Vec<_> =
        server.requests_to("/authorize").iter().map(|r| r.param("scope").unwrap_or("").to_string()).collect();
    assert_eq!(scopes, ["mcp:basic", "mcp:basic mcp:write"]);
    // Every MCP request after the first carried the token.
    let posts = server.requests_to("/mcp");
    assert!(posts.iter().skip(1).filter(|r| r.method == "POST").all(|r| r.authorization.is_some()));
    client.close();

    // Without a handler, a server that needs a person fails with a clear error, naming the server.
    let err = mcp_orchestrator::Client::connect(&config).unwrap_err().to_string();
    assert!(err.contains("no authorization handler") && err.contains("server `guarded`"), "{err}");
}

#[test]
fn a_client_with_client_credentials_from_the_config() {
    let server = AuthServer::builder()
        .registration(false)
        .auth_methods(&["client_secret_basic"])
        .client("svc", "pw")
        .start()
        .unwrap();
    let config = guarded_config(&server, "{type: client_credentials, client_id: svc, client_secret: pw}");
    let client = mcp_orchestrator::Client::connect(&config).unwrap();
    assert_eq!(client.list_tools().unwrap().len(), 1);
    assert_eq!(server.requests_to("/token").len(), 1);
    assert!(server.requests_to("/authorize").is_empty());
    client.close();

    let server = AuthServer::builder().start().unwrap();
    let config = guarded_config(&server, "{type: bearer, token: wrong}");
    let err = mcp_orchestrator::Client::connect(&config).unwrap_err().to_string();
    assert!(err.contains("rejected the configured bearer token") && !err.contains("wrong"), "{err}");
}

#[test]
fn an_authorization_server_that_moves_is_rediscovered_and_registered_with_anew() {
    let first = AuthServer::builder().start().unwrap();
    let second = AuthServer::builder().start().unwrap();
    let auth = oauth(&first, OAuthConfig::default());
    assert_eq!(call(&auth, &first, "tools/list").unwrap(), 200);
    first.move_to(&second);
    assert_eq!(call(&auth, &first, "tools/list").unwrap(), 200);
    let first_id = first.requests_to("/token")[0].param("client_id").unwrap().to_string();
    let second_ids: Vec<_> =
        second.requests_to("/authorize").iter().map(|r| r.param("client_id").unwrap().to_string()).collect();
    assert_eq!(second.requests_to("/register").len(), 1, "registered at the new authorization server");
    assert_eq!(second_ids.len(), 1);
    assert_ne!(second_ids[0], first_id, "the old server's client id is never sent to the new one");
    assert!(second.requests_to("/token").iter().all(|r| r.param("client_id") != Some(first_id.as_str())));
    // No refresh was tried at the old server with the old server's refresh token after the move.
    assert!(first.requests_to("/token").iter().all(|r| r.param("grant_type") != Some("refresh_token")));
}

#[test]
fn concurrent_requests_share_one_authorization() {
    let server = AuthServer::builder().start().unwrap();
    let auth = oauth(&server, OAuthConfig::default());
    std::thread::scope(|s| {
        let calls: Vec<_> = (0..6).map(|_| s.spawn(|| call(&auth, &server, "tools/list"))).collect();
        for c in calls {
            assert_eq!(c.join().unwrap().unwrap(), 200);
        }
    });
    assert_eq!((auth.authorizations(), server.requests_to("/authorize").len()), (1, 1));
    assert_eq!(server.requests_to("/register").len(), 1);
}

#[test]
fn login_ahead_of_time_needs_no_401() {
    let server = AuthServer::builder().prm(PrmAt::Path).start().unwrap();
    let auth = oauth(&server, OAuthConfig::default());
    auth.login(T).unwrap();
    assert_eq!(auth.authorizations(), 1);
    let before = server.requests_to("/mcp").len();
    assert_eq!(before, 0, "login talks to the metadata and the authorization server only");
    assert_eq!(call(&auth, &server, "tools/list").unwrap(), 200);
    let posts = server.requests_to("/mcp");
    assert_eq!(posts.len(), 1, "the first request already carries the token");
    assert!(posts[0].authorization.is_some());
}

/// A person's step that counts its calls and checks what it is given, then redirects at once.
#[derive(Default)]
struct Counting(std::sync::atomic::AtomicUsize, std::sync::Mutex<Vec<String>>);

impl mcp_orchestrator::AuthorizationHandler for Counting {
    fn authorize(&self, request: &mcp_orchestrator::AuthorizationRequest<'_>) -> Result<String, String> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.1.lock().unwrap().push(request.server.to_string());
        ImmediateRedirect.authorize(request)
    }
}

fn orchestrator_config(server: &AuthServer, transport: &str, url: &str) -> mcp_orchestrator::Config {
    let text = format!(
        "mcp_servers:\n  guarded:\n    transport: {transport}\n    url: {url}\n    priority: 1\n    timeout: 10\n    auth: {{type: oauth}}\n  open:\n    transport: stdio\n    command: /bin/true\n    priority: 2\n    enabled: false\n"
    );
    let _ = server;
    mcp_orchestrator::Config::from_yaml_str(&text).unwrap()
}

#[test]
fn an_orchestrator_authorizes_with_the_programs_handler_and_keeps_the_tokens() {
    use mcp_orchestrator::{Error, ErrorKind, Orchestrator};
    let server = AuthServer::builder().challenge_scope("mcp:basic").start().unwrap();
    let config = orchestrator_config(&server, "http", &server.mcp_url());

    // Without a handler the server that needs a person fails with an auth error naming it.
    let o = Orchestrator::new(config.clone());
    let err = o.initialize().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
    assert!(
        matches!(&err, Error::Auth { server, reason, .. } if server == "guarded" && reason.contains("no authorization handler")),
        "{err:?}"
    );
    o.close();

    let handler = Arc::new(Counting::default());
    let o = Orchestrator::new(config).with_authorization_handler(handler.clone());
    o.initialize().unwrap();
    let gathered = o.gather_all_resources().unwrap();
    assert_eq!(gathered.tools.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["whoami"]);
    let result = o.call_tool("whoami", serde_json::json!({})).unwrap();
    assert!(format!("{result:?}").contains("scope: mcp:basic"), "{result:?}");
    assert_eq!(*handler.1.lock().unwrap(), ["guarded"], "one authorization, for the server that needs it");
    // A new initialize (new sessions) reuses the orchestrator's tokens: no person needed.
    o.close();
    o.initialize().unwrap();
    assert!(!o.call_tool("whoami", serde_json::json!({})).unwrap().is_error);
    assert_eq!(handler.0.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(server.requests_to("/authorize").len(), 1);
    o.close();
}

#[test]
fn oauth_over_the_legacy_sse_transport_guards_the_stream_and_the_posts() {
    let server =
        AuthServer::builder().challenge_scope("mcp:basic").method_scope("tools/call", "mcp:write").start().unwrap();
    let text = format!(
        "mcp_servers:\n  guarded:\n    transport: sse\n    url: {}\n    priority: 1\n    timeout: 10\n    auth: {{type: oauth}}\n",
        server.sse_url()
    );
    let config = mcp_orchestrator::Config::from_yaml_str(&text).unwrap().servers.remove(0);
    let client = mcp_orchestrator::Client::builder(&config)
        .authorization_handler(Arc::new(ImmediateRedirect))
        .connect()
        .unwrap();
    // The GET was refused, authorized, and opened with the token.
    let gets: Vec<_> = server.requests_to("/sse").iter().map(|r| r.authorization.is_some()).collect();
    assert_eq!(gets, [false, true]);
    assert_eq!(
        server.requests_to("/authorize")[0].param("resource"),
        Some(server.sse_url().as_str()),
        "the SSE endpoint's own resource"
    );
    assert_eq!(client.list_tools().unwrap()[0].name, "whoami");
    // A POST answered 403 insufficient_scope steps up, then goes through.
    let result = client.call_tool("whoami", serde_json::json!({})).unwrap();
    assert!(format!("{result:?}").contains("scope: mcp:basic mcp:write"), "{result:?}");
    // A POST answered 401 (the token was revoked) refreshes and is sent again.
    server.revoke_access_tokens();
    assert_eq!(client.list_tools().unwrap().len(), 1);
    assert!(server.requests_to("/token").iter().any(|r| r.param("grant_type") == Some("refresh_token")));
    let posts = server.requests_to("/messages");
    assert!(posts.iter().all(|r| r.authorization.is_some()), "every POST carries the token");
    assert_eq!(server.requests_to("/authorize").len(), 2, "the first authorization and the step-up");
    client.close();

    // `transport: http` finds legacy SSE behind the same authorization: the Streamable HTTP
    // probe's 401 runs the flow, its 405 falls back to SSE, which reuses the token.
    let server = AuthServer::builder().start().unwrap();
    let text = format!(
        "mcp_servers:\n  guarded:\n    transport: http\n    url: {}\n    priority: 1\n    timeout: 10\n    auth: {{type: oauth}}\n",
        server.sse_url()
    );
    let detected = mcp_orchestrator::Config::from_yaml_str(&text).unwrap().servers.remove(0);
    let client = mcp_orchestrator::Client::builder(&detected)
        .authorization_handler(Arc::new(ImmediateRedirect))
        .connect()
        .unwrap();
    assert_eq!(client.list_tools().unwrap()[0].name, "whoami");
    assert_eq!(server.requests_to("/authorize").len(), 1, "one authorization for both attempts");
    assert!(server.requests_to("/sse").iter().filter(|r| r.method == "GET").all(|r| r.authorization.is_some()));
    client.close();

    // Without a handler: an auth error on connect, naming the server.
    let err = mcp_orchestrator::Client::connect(&config).unwrap_err();
    assert_eq!(err.kind(), mcp_orchestrator::ErrorKind::Unauthorized, "{err}");
    assert_eq!((err.server(), err.method()), (Some("guarded"), Some("connect")));
}

/// A person who says no.
#[derive(Default)]
struct Refusing(std::sync::atomic::AtomicUsize);

impl mcp_orchestrator::AuthorizationHandler for Refusing {
    fn authorize(&self, _: &mcp_orchestrator::AuthorizationRequest<'_>) -> Result<String, String> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Err("the person closed the browser".into())
    }
}

#[test]
fn a_refused_authorization_is_an_auth_error_and_a_call_does_not_ask_again_and_again() {
    use mcp_orchestrator::{Error, ErrorKind, Orchestrator};
    let server = AuthServer::builder().start().unwrap();
    let open = mcp_orchestrator::testing::TestServer::builder().name("open").start().unwrap();
    let text = format!(
        "mcp_servers:\n  guarded:\n    transport: streamable_http\n    url: {}\n    priority: 1\n    timeout: 10\n    auth: {{type: oauth}}\n  open:\n    transport: streamable_http\n    url: {}\n    priority: 2\norchestration:\n  fail_fast: false\n  max_retries: 3\n  backoff_min: 0.05\n  backoff_max: 0.1\n",
        server.mcp_url(),
        open.mcp_url()
    );
    let handler = Arc::new(Refusing::default());
    let o = Orchestrator::new(mcp_orchestrator::Config::from_yaml_str(&text).unwrap())
        .with_authorization_handler(handler.clone());
    o.initialize().unwrap();
    let failures = o.connect_failures();
    let err = failures.get("guarded").expect("the server failed");
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
    assert!(err.to_string().contains("the person closed the browser"), "{err}");
    assert_eq!(handler.0.load(std::sync::atomic::Ordering::SeqCst), 1);
    if o.call_tool_on(Some("guarded"), "whoami", serde_json::json!({})).is_ok() {
        panic!("the call needs an authorization");
    }
    let err = o.call_tool_on(Some("guarded"), "whoami", serde_json::json!({})).unwrap_err();
    assert!(matches!(&err, Error::Auth { server, .. } if server == "guarded"), "{err:?}");
    let asked = handler.0.load(std::sync::atomic::Ordering::SeqCst);
    assert!(asked <= 3, "at most once per call, not once per retry: {asked}");
    assert!(server.requests_to("/token").is_empty());
    o.close();
}

#[test]
fn an_authorization_endpoint_that_is_not_http_is_never_handed_to_the_person() {
    // The URL goes to the person's handler, which the command line hands to the system's URL
    // opener (`xdg-open`, `open`, `rundll32 url.dll,FileProtocolHandler`): a metadata document
    // naming a file or another scheme must not get that far.
    for endpoint in ["file:///etc/passwd", "-a/Applications/Calculator.app", "javascript:alert(1)"] {
        let server = AuthServer::builder().authorization_endpoint(endpoint).start().unwrap();
        let handler = Arc::new(Counting::default());
        let auth = Authorizer::new("guarded", &server.mcp_url(), AuthConfig::OAuth(OAuthConfig::default()))
            .with_handler(handler.clone());
        let err = auth.login(T).unwrap_err();
        assert_eq!(err.kind(), mcp_orchestrator::ErrorKind::Unauthorized, "{err}");
        assert!(
            matches!(&err, mcp_orchestrator::Error::Auth { server, reason, .. }
                if server == "guarded" && reason.contains("authorization_endpoint")),
            "{err:?}"
        );
        assert_eq!(handler.0.load(std::sync::atomic::Ordering::SeqCst), 0, "{endpoint}: the person was asked");
        assert!(server.requests_to("/token").is_empty());
    }
}
