//! One connection of the test authorization server: read the request, record it, route it
//! (the metadata documents, `/register`, `/authorize`, `/token`, the protected endpoints), write
//! the reply, or keep a legacy SSE session's event stream open.

use std::io::Write as _;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::record::{Code, Recorded};
use super::token::token;
use super::{Iss, Shared, discovery, protected};
use crate::testing::http::{ReadOutcome, Request, RequestReader, reason};

pub(super) fn serve(shared: &Shared, stop: &AtomicBool, mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let mut reader = RequestReader { stop, idle_limit: Duration::from_secs(10), buf: Vec::new() };
    let request = match reader.next(&mut stream) {
        ReadOutcome::Request(r) => r,
        _ => return,
    };
    let (status, headers, body) = handle(shared, &request);
    if request.method == "GET" && request.path() == "/sse" && status == 200 {
        stream_sse(shared, stop, stream, &body);
        return;
    }
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        reason(status),
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&body);
    let _ = stream.write_all(out.as_bytes());
}

pub(super) type Reply = (u16, Vec<(&'static str, String)>, String);

/// A legacy SSE session's event stream: the endpoint event, then every reply of the session,
/// until the client goes away or the server stops.
fn stream_sse(shared: &Shared, stop: &AtomicBool, mut stream: TcpStream, session: &str) {
    let id: u64 = session.parse().unwrap_or_default();
    let rx = shared.state.lock().unwrap_or_else(|e| e.into_inner()).sse_streams.remove(&id);
    let head =
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n";
    let endpoint = format!("event: endpoint\ndata: /messages?session={id}\n\n");
    if let Some(rx) = rx
        && stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(endpoint.as_bytes())).is_ok()
    {
        let mut idle = Duration::ZERO;
        while !stop.load(Ordering::SeqCst) {
            let out = match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(message) => format!("event: message\ndata: {message}\n\n"),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    idle += Duration::from_millis(50);
                    if idle < Duration::from_secs(1) {
                        continue;
                    }
                    ": keep-alive\n\n".to_string() // finds a client that went away
                }
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            };
            idle = Duration::ZERO;
            if stream.write_all(out.as_bytes()).is_err() {
                break;
            }
        }
    }
    shared.state.lock().unwrap_or_else(|e| e.into_inner()).sse.remove(&id);
}
pub(super) fn json(status: u16, value: serde_json::Value) -> Reply {
    (status, vec![], value.to_string())
}

pub(super) fn parse_pairs(text: &str) -> Vec<(String, String)> {
    let decode = |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').map_or((decode(p), String::new()), |(k, v)| (decode(k), decode(v))))
        .collect()
}

fn handle(shared: &Shared, request: &Request) -> Reply {
    let o = &shared.opts;
    let base = &shared.base;
    let issuer = format!("{base}{}", o.issuer_path);
    let path = request.path().to_string();
    let query = request.target.split_once('?').map_or("", |(_, q)| q);
    let body = String::from_utf8_lossy(&request.body).into_owned();
    let is_form = request.header("content-type").is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let params = if request.method == "GET" {
        parse_pairs(query)
    } else if is_form {
        parse_pairs(&body)
    } else {
        Vec::new()
    };
    let recorded = Recorded {
        method: request.method.clone(),
        path: path.clone(),
        params: params.clone(),
        authorization: request.header("authorization").map(str::to_string),
        json: serde_json::from_str(&body).ok(),
    };
    let moved = shared.moved_to.lock().unwrap_or_else(|e| e.into_inner()).clone();
    // A token of the authorization server we moved to (looked up before taking our own lock).
    let foreign_grant = moved.as_ref().and_then(|(_, other)| {
        let token = recorded.authorization.as_deref()?.strip_prefix("Bearer ")?;
        let other = other.state.lock().unwrap_or_else(|e| e.into_inner());
        other.access.get(token).filter(|(until, _)| Instant::now() < *until).map(|(_, scope)| scope.clone())
    });
    let prm_issuer = moved.as_ref().map_or(issuer.clone(), |(i, _)| i.clone());
    let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    state.requests.push(recorded.clone());
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());

    // Protected-resource metadata (the legacy SSE endpoint is a resource of its own), then
    // authorization-server metadata.
    if let Some(document) = discovery::document(o, base, &issuer, &prm_issuer, &path) {
        return document;
    }
    match (request.method.as_str(), path.as_str()) {
        ("POST", "/register") if o.registration => {
            state.counter += 1;
            let id = format!("dyn-client-{}-{}", base.rsplit(':').next().unwrap_or(""), state.counter);
            let method = recorded
                .json
                .as_ref()
                .and_then(|j| j["token_endpoint_auth_method"].as_str())
                .unwrap_or("client_secret_basic")
                .to_string();
            let secret = (method != "none").then(|| format!("dyn-secret-{}", state.counter));
            state.clients.insert(id.clone(), secret.clone());
            let mut reply = serde_json::json!({"client_id": id, "token_endpoint_auth_method": method});
            if let Some(s) = secret {
                reply["client_secret"] = serde_json::json!(s);
            }
            json(201, reply)
        }
        ("GET", "/authorize") => {
            let (Some(client_id), Some(redirect), Some(challenge)) =
                (param("client_id"), param("redirect_uri"), param("code_challenge"))
            else {
                return json(400, serde_json::json!({"error": "invalid_request"}));
            };
            state.counter += 1;
            let code = format!("code-{}", state.counter);
            state.codes.insert(
                code.clone(),
                Code {
                    client_id,
                    challenge,
                    resource: param("resource"),
                    redirect_uri: redirect.clone(),
                    scope: param("scope")
                        .unwrap_or_default()
                        .split(' ')
                        .filter(|s| !o.withheld.iter().any(|w| w == s))
                        .collect::<Vec<_>>()
                        .join(" "),
                },
            );
            let mut location = format!("{redirect}?code={code}&state={}", encode(&param("state").unwrap_or_default()));
            match o.iss {
                Iss::Correct => location.push_str(&format!("&iss={}", encode(&issuer))),
                Iss::Wrong => location.push_str("&iss=https%3A%2F%2Fevil.example.com"),
                Iss::Missing | Iss::NotAdvertised => {}
            }
            (302, vec![("location", location)], String::new())
        }
        ("POST", "/token") => token(shared, &mut state, &recorded, &issuer),
        ("GET" | "DELETE", "/mcp") => (405, vec![("allow", "POST".into())], String::new()),
        (_, "/sse") | ("POST", "/messages") | (_, "/mcp") => {
            protected::answer(shared, request, &mut state, &recorded, foreign_grant)
        }
        _ => (404, vec![], "not found".into()),
    }
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
