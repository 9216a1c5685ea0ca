//! The authorization module's HTTP: every request goes through `transport/http.rs`
//! ([`http::exchange`]): no redirect followed, bounded by the flow's deadline, bodies capped.

use ureq::Agent;

use crate::deadline::Deadline;
use crate::error::Error;
use crate::op::OpId;
use crate::transport::http::{self, Ctx, Exchanged};
use crate::url::Url;

/// The largest metadata, registration or token response we read.
pub(crate) const AUTH_BODY_LIMIT: usize = 256 * 1024;

/// One flow's HTTP context: the agent, the server it is for, the MCP method that needed it, the
/// op, the deadline.
pub(crate) struct Net<'a> {
    pub agent: &'a Agent,
    pub server: &'a str,
    pub method: &'a str,
    pub op: &'a OpId,
    pub deadline: Deadline,
}

impl Net<'_> {
    pub(crate) fn ctx<'b>(&'b self, what: &'b str) -> Ctx<'b> {
        Ctx { server: self.server, method: what, op: self.op }
    }

    /// An authorization error: [`Error::Auth`].
    pub(crate) fn fail(&self, detail: impl std::fmt::Display) -> Error {
        Error::Auth {
            server: self.server.into(),
            method: self.method.into(),
            op: self.op.clone(),
            reason: detail.to_string(),
        }
    }

    /// An error of the flow as the caller sees it: [`Error::Auth`] for the MCP method that needed
    /// the authorization, naming the OAuth step that failed (a timeout stays a timeout).
    pub(crate) fn as_auth(&self, e: Error) -> Error {
        match e {
            Error::Auth { reason, .. } => self.fail(reason),
            Error::Http { method: step, status, body, .. } => self.fail(format!("{step}: status {status}: {body:?}")),
            Error::Protocol { method: step, detail, .. } => self.fail(format!("{step}: {detail}")),
            Error::Connect { detail, .. } => self.fail(format!("the authorization server is unreachable: {detail}")),
            other => other,
        }
    }

    pub(crate) fn get(&self, url: &Url, what: &str) -> Result<Exchanged, Error> {
        let accept = [("Accept", "application/json".to_string())];
        http::exchange(self.agent, url, &accept, None, AUTH_BODY_LIMIT, self.deadline, self.ctx(what))
    }

    pub(crate) fn post(
        &self,
        url: &Url,
        headers: &[(&str, String)],
        content_type: &str,
        body: &[u8],
        what: &str,
    ) -> Result<Exchanged, Error> {
        let mut all = vec![("Accept", "application/json".to_string())];
        all.extend(headers.iter().map(|(n, v)| (*n, v.clone())));
        http::exchange(
            self.agent,
            url,
            &all,
            Some((content_type, body)),
            AUTH_BODY_LIMIT,
            self.deadline,
            self.ctx(what),
        )
    }

    /// GETs a JSON document: `Ok(None)` when the server has none there (any status but 2xx, a
    /// redirect included).
    pub(crate) fn get_json<T: serde::de::DeserializeOwned>(&self, url: &Url, what: &str) -> Result<Option<T>, Error> {
        let reply = self.get(url, what)?;
        if !(200..300).contains(&reply.status) {
            log::debug!("op={} server={} {what}: status {} at {url}", self.op, self.server, reply.status);
            return Ok(None);
        }
        serde_json::from_str(&reply.body)
            .map(Some)
            .map_err(|e| self.ctx(what).protocol(format!("{what} at {url} is not valid: {e}")))
    }
}

/// `application/x-www-form-urlencoded` (the token and registration forms).
pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

/// Percent-encodes everything but the unreserved characters (RFC 3986 §2.3).
pub(crate) fn encode(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// The pairs of a query string or form body, decoded (`+` is a space).
pub(crate) fn parse_form(text: &str) -> Vec<(String, String)> {
    let decode = |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}
