//! The one validation of a config built in code ([`Config::new`](super::Config::new), the
//! builder) and of what the JSON loaders read: each server and the orchestration settings, with
//! messages that name the server and the key and never show a secret. The YAML loader makes the
//! same checks on its raw values, pointing at them (`yaml/build.rs`); the tests check that
//! whatever it accepts, `Config::new` accepts too.

use super::report::unlocated;
use super::schema::Orchestration;
use super::server::{PROTOCOLS, ProtocolChoice, ServerConfig, Transport};
use crate::error::Result;
use crate::url::{Url, redacted};

/// Checks a config built in code ([`Config::new`](super::Config::new), the builder) as the YAML
/// loader checks a document: at least one server, unique names, each server and the
/// orchestration settings. Errors are [`Error::Config`](crate::error::Error::Config) without a
/// line or column.
pub(super) fn validate_config(servers: &[ServerConfig], orchestration: &Orchestration) -> Result<()> {
    if servers.is_empty() {
        return Err(unlocated("no servers: configure at least one server"));
    }
    validate_orchestration(orchestration).map_err(unlocated)?;
    let mut seen = std::collections::BTreeSet::new();
    for server in servers {
        if !seen.insert(server.name.as_str()) {
            return Err(unlocated(format!("duplicate server `{}`", server.name)));
        }
        validate_server(server).map_err(unlocated)?;
    }
    Ok(())
}

pub(super) fn validate_orchestration(o: &Orchestration) -> std::result::Result<(), String> {
    if o.max_concurrent_connections == 0 {
        return Err("orchestration: `max_concurrent_connections` must be at least 1, got 0".into());
    }
    if o.request_timeout.is_zero() {
        return Err("orchestration: `request_timeout` must be greater than 0".into());
    }
    if o.max_listing_bytes == 0 || o.max_listing_items == 0 {
        return Err("orchestration: `max_listing_bytes` and `max_listing_items` must be at least 1".into());
    }
    if o.backoff_min > o.backoff_max {
        return Err("orchestration: `backoff_min` must not exceed `backoff_max`".into());
    }
    Ok(())
}

pub(super) fn validate_server(s: &ServerConfig) -> std::result::Result<(), String> {
    let name = &s.name;
    if name.is_empty() {
        return Err("a server has an empty name".into());
    }
    if s.timeout.is_zero() {
        return Err(format!("server `{name}`: `timeout` must be greater than 0"));
    }
    if s.tool_timeout.is_some_and(|t| t.is_zero()) {
        return Err(format!("server `{name}`: `tool_timeout` must be greater than 0"));
    }
    if s.max_listing_bytes == 0 || s.max_listing_items == 0 {
        return Err(format!("server `{name}`: `max_listing_bytes` and `max_listing_items` must be at least 1"));
    }
    if let ProtocolChoice::Version(v) = &s.protocol
        && (v == "auto" || !PROTOCOLS.contains(&v.as_str()))
    {
        return Err(format!("server `{name}`: unknown protocol `{v}` (valid: {})", PROTOCOLS.join(", ")));
    }
    match &s.transport {
        Transport::Sse { url } | Transport::StreamableHttp { url } | Transport::Http { url } => {
            check_url(url).map_err(|why| format!("server `{name}`: `url` `{}` {why}", redacted(url)))?;
        }
        Transport::Stdio { command, env, cwd, .. } => {
            if !s.headers.is_empty() {
                return Err(format!("server `{name}`: headers are not allowed with transport `stdio`"));
            }
            if s.auth.is_some() {
                return Err(format!("server `{name}`: `auth` is not allowed with transport `stdio`"));
            }
            if command.trim().is_empty() {
                return Err(format!("server `{name}`: `command` is empty"));
            }
            for key in env.keys() {
                check_env_name(key).map_err(|why| format!("server `{name}`: `env` {why}"))?;
            }
            if cwd.as_ref().is_some_and(|c| c.as_os_str().is_empty()) {
                return Err(format!("server `{name}`: `cwd` is empty"));
            }
        }
    }
    let mut names: Vec<String> = Vec::new();
    for (header, value) in s.headers.iter() {
        check_header(header, value).map_err(|why| format!("server `{name}`: {why}"))?;
        let lower = header.to_ascii_lowercase();
        if names.contains(&lower) {
            return Err(format!("server `{name}`: duplicate header `{header}`"));
        }
        names.push(lower);
    }
    Ok(())
}

/// Checks an http(s) URL (see [`Url::parse`]); the reason reads after the URL.
pub(super) fn check_url(url: &str) -> std::result::Result<(), String> {
    Url::parse(url).map(|_| ())
}

/// A header name must be an HTTP token; a value must not contain a line break or other
/// control character (it is never echoed: header values are secrets).
pub(super) fn check_header(name: &str, value: &str) -> std::result::Result<(), String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(format!("invalid header name `{name}`"));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!("the value of header `{name}` contains a line break or control character"));
    }
    Ok(())
}

pub(super) fn check_env_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() || name.contains('=') || name.contains('\0') {
        return Err(format!("invalid variable name `{name}`"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_rules() {
        for ok in ["http://localhost", "HTTPS://h:1/p?q#f", "http://u:p@h:65535", "http://[::1]", "http://10.0.0.1:80/"]
        {
            assert_eq!(check_url(ok), Ok(()), "{ok}");
        }
        for bad in ["http://h:0", "http://h:", "http://[::1]x", "http://h^/", "mailto:x", ""] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
