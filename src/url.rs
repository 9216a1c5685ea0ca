//! [`Url`]: the one http(s) URL type, used by config validation and by every request.
//!
//! It keeps the user info (`user:password@`) for Basic auth, but never shows it: `Display` and
//! `Debug` give origin and path only, a query string as `?…` (either may hold a secret that came
//! from `${VAR}`, e.g. `?api_key=…`). The URL a request goes to is [`Url::request_target`].

use std::fmt;

use base64::Engine as _;
use percent_encoding::percent_decode_str;

/// A validated http(s) URL.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Url {
    /// `http` or `https`.
    scheme: String,
    /// `user:password` as written (still percent-encoded), if any.
    userinfo: Option<String>,
    /// Lowercase; an IPv6 address without brackets.
    host: String,
    port: u16,
    /// Starts with `/`.
    path: String,
    /// Without the `?`.
    query: Option<String>,
}

impl Url {
    /// Parses and checks an http(s) URL: the scheme, a non-empty host (a name, an IPv4 address
    /// or a bracketed IPv6 address), an optional numeric port. The reason reads after the URL:
    /// "url `x` <reason>"; it never repeats the URL (which may hold a secret).
    pub(crate) fn parse(url: &str) -> Result<Url, String> {
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("contains whitespace or a control character".into());
        }
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err("is not an http or https URL (expected `http://host[:port]/path`)".into());
        };
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return Err(format!("has scheme `{scheme}`: only http and https are supported")),
        };
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_string()), h),
            None => (None, authority),
        };
        let (host, port) = split_host_port(host_port)?;
        if host.is_empty() {
            return Err("has no host".into());
        }
        if !host.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | '%' | ':')) {
            return Err(format!("has an invalid host `{host}`"));
        }
        let port = match port {
            None => default_port,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => return Err(format!("has an invalid port `{p}` (expected a number from 1 to 65535)")),
            },
        };
        let tail = tail.split('#').next().unwrap_or("");
        let (path, query) = match tail.split_once('?') {
            Some((p, q)) => (p, Some(q.to_string())),
            None => (tail, None),
        };
        let path = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
        Ok(Url { scheme, userinfo, host: host.to_ascii_lowercase(), port, path, query })
    }

    /// Resolves a reference (absolute, scheme-relative, absolute-path or relative-path) against
    /// this URL. A reference on this origin keeps this URL's user info.
    pub(crate) fn join(&self, reference: &str) -> Result<Url, String> {
        let reference = reference.trim();
        let absolute = if reference.contains("://") {
            Some(reference.to_string())
        } else {
            reference.strip_prefix("//").map(|rest| format!("{}://{rest}", self.scheme))
        };
        if let Some(absolute) = absolute {
            let mut joined = Url::parse(&absolute)?;
            if joined.userinfo.is_none() && joined.same_origin(self) {
                joined.userinfo = self.userinfo.clone();
            }
            return Ok(joined);
        }
        let path = if reference.starts_with('/') {
            reference.to_string()
        } else {
            let dir = &self.path[..self.path.rfind('/').map_or(0, |i| i + 1)];
            format!("{dir}{reference}")
        };
        let mut joined = Url::parse(&format!("{}{path}", self.origin()))?;
        joined.userinfo = self.userinfo.clone();
        Ok(joined)
    }

    /// Whether both have the same scheme, host and port.
    pub(crate) fn same_origin(&self, other: &Url) -> bool {
        self.scheme == other.scheme && self.host == other.host && self.port == other.port
    }

    /// `scheme://host:port`: safe to show.
    pub(crate) fn origin(&self) -> String {
        format!("{}://{}:{}", self.scheme, self.host_for_url(), self.port)
    }

    /// The path, without the query: safe to show.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// The URL to send a request to: no user info (it goes in `Authorization`), query kept.
    pub(crate) fn request_target(&self) -> String {
        match &self.query {
            Some(q) => format!("{}{}?{q}", self.origin(), self.path),
            None => format!("{}{}", self.origin(), self.path),
        }
    }

    /// The `Authorization: Basic …` value for the URL's user info, if it has any.
    pub(crate) fn basic_auth(&self) -> Option<String> {
        let info = self.userinfo.as_deref()?;
        let (user, password) = info.split_once(':').unwrap_or((info, ""));
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let plain = format!("{}:{}", decode(user), decode(password));
        Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(plain)))
    }

    fn host_for_url(&self) -> String {
        if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() }
    }
}

fn split_host_port(host_port: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(v6) = host_port.strip_prefix('[') {
        let Some((addr, after)) = v6.split_once(']') else {
            return Err("has an unclosed `[` in its host".into());
        };
        if addr.is_empty() || !addr.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.') {
            return Err("has an invalid IPv6 host".into());
        }
        match after {
            "" => Ok((addr, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((addr, Some(port))),
                None => Err("has characters after its IPv6 host".into()),
            },
        }
    } else {
        Ok(match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        })
    }
}

impl fmt::Display for Url {
    /// Origin and path; a query as `?…`; never the user info.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.origin(), self.path, if self.query.is_some() { "?…" } else { "" })
    }
}

impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Url({self})")
    }
}

/// A URL string as messages and logs may show it: a valid one as [`Url`]'s `Display`; an
/// invalid one as written, with its user info as `***@` and its query as `?…`.
pub(crate) fn redacted(url: &str) -> String {
    if let Ok(u) = Url::parse(url) {
        return u.to_string();
    }
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), url),
    };
    let (rest, query) = match rest.split_once(['?', '#']) {
        Some((before, _)) => (before, "?…"),
        None => (rest, ""),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}***{}{query}", &rest[at..]),
        None => format!("{scheme}{rest}{query}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_resolve_and_compare_origins() {
        let base = Url::parse("http://127.0.0.1:8000/sse").unwrap();
        assert_eq!(base.path(), "/sse");
        let a = base.join("/messages/?session_id=ab12").unwrap();
        assert_eq!(a.request_target(), "http://127.0.0.1:8000/messages/?session_id=ab12");
        assert!(a.same_origin(&base));
        let b = Url::parse("http://localhost/mcp/sse").unwrap().join("message?sessionId=1").unwrap();
        assert_eq!(b.request_target(), "http://localhost:80/mcp/message?sessionId=1");
        assert!(!base.join("http://127.0.0.2:8000/messages/").unwrap().same_origin(&base));
        assert!(!base.join("//127.0.0.1:8001/x").unwrap().same_origin(&base));
        let upper = Url::parse("HTTP://Example.COM/x").unwrap();
        assert!(upper.same_origin(&Url::parse("http://example.com:80/y").unwrap()));
        assert!(Url::parse("ftp://x/y").unwrap_err().contains("only http and https"));
        assert!(Url::parse("not a url").is_err());
        assert!(Url::parse("http://h:0/").is_err());
        assert!(Url::parse("http://:80/").is_err());
        assert_eq!(Url::parse("https://[::1]/sse").unwrap().origin(), "https://[::1]:443");
        assert_eq!(Url::parse("http://h/p#frag").unwrap().request_target(), "http://h:80/p");
    }

    #[test]
    fn user_info_and_query_are_kept_for_requests_and_never_shown() {
        let u = Url::parse("http://us%40er:p%3Ass@host:8/sse?token=s3cret").unwrap();
        assert_eq!(u.to_string(), "http://host:8/sse?…");
        assert_eq!(format!("{u:?}"), "Url(http://host:8/sse?…)");
        assert_eq!(u.request_target(), "http://host:8/sse?token=s3cret");
        let expected = base64::engine::general_purpose::STANDARD.encode("us@er:p:ss");
        assert_eq!(u.basic_auth(), Some(format!("Basic {expected}")));
        // The endpoint on the same origin keeps the credentials.
        assert_eq!(u.join("/messages/?s=1").unwrap().basic_auth(), u.basic_auth());
        assert_eq!(Url::parse("http://host/mcp").unwrap().basic_auth(), None);
        assert_eq!(redacted("http://user:pw@host:8/sse?token=s3cret"), "http://host:8/sse?…");
        assert_eq!(redacted("http://host/mcp"), "http://host:80/mcp");
        assert_eq!(redacted("http://me:pw@:80/sse?k=v"), "http://***@:80/sse?…");
        assert_eq!(redacted("ftp://${HOST}/"), "ftp://${HOST}/");
        // An absolute endpoint on the same origin keeps the credentials; another origin does not.
        assert_eq!(u.join("http://host:8/m").unwrap().basic_auth(), u.basic_auth());
        assert_eq!(u.join("http://other:8/m").unwrap().basic_auth(), None);
    }
}
