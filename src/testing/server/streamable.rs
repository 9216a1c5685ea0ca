//! The Streamable HTTP side of the test server, on the same port: `POST /mcp` answers each
//! request in the response body (JSON; an event stream when [`Fault::MalformedEvent`] wants a
//! bad event first), `GET /mcp` is `405` (no stream for server messages), `DELETE /mcp` ends
//! the session. The session id comes with the reply to `initialize` (`mcp-session-id`); a
//! later request with an unknown id gets `404`.
//!
//! Faults that apply: [`Fault::RefuseConnections`], [`Fault::NeverAnswer`] (the POST is held
//! until the client gives up or the server stops), [`Fault::Delay`], [`Fault::MalformedEvent`],
//! [`Fault::CloseStreamOn`] (the connection is closed without an answer), [`Fault::PostStatus`],
//! [`Fault::ForgetSessions`], [`Fault::RepeatCursor`], [`Fault::AskClient`] (its requests go
//! out on the call's reply stream; the client POSTs its answers), [`Fault::BreakReply`] and
//! [`Fault::TruncateReply`] (the request is processed, its reply broken). Other server-to-client
//! messages (pings, notifications) need the legacy event stream and are not sent here.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use std::sync::atomic::Ordering;

use crossbeam_channel::{RecvTimeoutError, select, unbounded};
use serde_json::json;

use super::http::{self, Request};
use super::{ClientAnswer, ClientResult, Fault, InFlight, Shared, ask, lock, mcp, session_id, write_response};
use crate::jsonrpc::{self, Message, PARSE_ERROR, RequestId};
use crate::testing::ProtocolMode;

/// The path of the Streamable HTTP endpoint.
pub(crate) const PATH: &str = "/mcp";
const SESSION_HEADER: &str = "mcp-session-id";

/// Handles one request to `/mcp`; returns whether the connection may serve another.
pub(super) fn handle(shared: &Arc<Shared>, stream: &TcpStream, req: &Request, keep_alive: bool) -> bool {
    match req.method.as_str() {
        "POST" => post(shared, stream, req, keep_alive),
        "DELETE" => {
            let known = req.header(SESSION_HEADER).is_some_and(|id| lock(&shared.mcp_sessions).remove(id));
            if known {
                shared.count(|s| {
                    s.open_sessions = s.open_sessions.saturating_sub(1);
                    s.closed_sessions += 1;
                });
            }
            let status = if known { 200 } else { 404 };
            write_response(stream, status, &[], "", keep_alive)
        }
        _ => write_response(stream, 405, &[("allow", "POST, DELETE")], "Method Not Allowed", keep_alive),
    }
}

fn post(shared: &Arc<Shared>, stream: &TcpStream, req: &Request, keep_alive: bool) -> bool {
    let spec = &shared.spec;
    shared.count(|s| s.posts += 1);
    if let Some(status) = spec.post_status() {
        return write_response(stream, status, &[], &format!("injected fault: status {status}"), keep_alive);
    }
    let decoded = std::str::from_utf8(&req.body).map_err(|e| e.to_string()).and_then(|text| {
        jsonrpc::decode(text).and_then(|v| v.into_iter().collect::<Result<Vec<_>, _>>()).map_err(|e| e.0)
    });
    let messages = match decoded {
        Ok(m) => m,
        Err(why) => {
            let error = json!({"jsonrpc": "2.0", "id": null, "error": {"code": PARSE_ERROR, "message": "Parse error", "data": why}});
            return json_response(stream, 400, None, &error.to_string(), keep_alive);
        }
    };
    let headers: std::collections::BTreeMap<String, String> =
        req.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect();
    for m in &messages {
        if let Message::Request { method, .. } | Message::Notification { method, .. } = m {
            shared.count(|s| {
                s.last_headers.insert(method.clone(), headers.clone());
            });
        }
    }
    let version = req.header("mcp-protocol-version");
    let modern = version.is_some_and(|v| !crate::protocol::SUPPORTED_PROTOCOL_VERSIONS.contains(&v));
    match spec.mode {
        ProtocolMode::ModernOnly | ProtocolMode::Both if modern => {
            return modern_post(shared, stream, req, messages, keep_alive);
        }
        ProtocolMode::ModernOnly => {
            let id = match messages.first() {
                Some(Message::Request { id, .. }) => json!(id),
                _ => json!(null),
            };
            let e = mcp::unsupported_version(version);
            let body =
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": e.code, "message": e.message, "data": e.data}});
            return json_response(stream, 400, None, &body.to_string(), keep_alive);
        }
        _ => {}
    }
    let initializing = messages.iter().any(|m| matches!(m, Message::Request { method, .. } if method == "initialize"));
    // A new session counts once its id goes out with the answer to `initialize`.
    let session = if initializing {
        session_id(shared.next_id.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
    } else {
        let known = req.header(SESSION_HEADER).filter(|id| lock(&shared.mcp_sessions).contains(*id));
        match known {
            Some(id) if !spec.has(&Fault::ForgetSessions) => id.to_string(),
            _ if req.header(SESSION_HEADER).is_none() => {
                return write_response(stream, 400, &[], "mcp-session-id is required", keep_alive);
            }
            _ => return write_response(stream, 404, &[], "Could not find session", keep_alive),
        }
    };
    let mut answers = Vec::new();
    let mut malformed = false;
    for message in messages {
        match message {
            Message::Request { id, method, params } => {
                shared.count(|s| *s.requests.entry(method.clone()).or_default() += 1);
                super::record_params(shared, &method, params.as_deref());
                let guard = InFlight::enter(shared.gauges.clone());
                if spec.closes_on(&method) {
                    drop(guard);
                    let _ = stream.shutdown(std::net::Shutdown::Both);
                    return false;
                }
                if spec.never_answers(&method) {
                    hold(shared, stream);
                    return false;
                }
                if method == "initialize" {
                    super::record_capabilities(shared, params.as_deref());
                }
                if spec.asks(&method, params.as_deref()) {
                    return ask_on_stream(shared, stream, &session, id, guard);
                }
                if let Some(delay) = spec.delay_for(&method)
                    && shared.stop_rx.recv_timeout(delay) != Err(RecvTimeoutError::Timeout)
                {
                    return false; // shutting down
                }
                malformed |= spec.malformed_before(&method);
                let result = mcp::answer(spec, &method, params.as_deref());
                let answer = String::from_utf8_lossy(&jsonrpc::encode_response(&id, result.as_ref())).into_owned();
                if let Some(json) = breaking(shared, &method) {
                    return broken_reply(stream, Some(&session), json, &answer);
                }
                answers.push(answer);
                drop(guard);
            }
            Message::Notification { method, .. } => {
                shared.count(|s| *s.requests.entry(method).or_default() += 1);
            }
            Message::Response { id, result } => {
                let result: ClientResult = match result {
                    Ok(raw) => Ok(serde_json::from_str(raw.get()).unwrap_or(serde_json::Value::Null)),
                    Err(e) => Err((e.code, e.message)),
                };
                let waiter = id.as_ref().and_then(|id| lock(&shared.mcp_asking).remove(id));
                let method = waiter.as_ref().map(|(_, m)| m.to_string());
                shared
                    .count(|s| s.client_answers.push(ClientAnswer { id: id.clone(), method, result: result.clone() }));
                if let (Some((tx, _)), Some(id)) = (waiter, id) {
                    let _ = tx.send((id, result));
                }
            }
        }
    }
    if initializing && !answers.is_empty() {
        lock(&shared.mcp_sessions).insert(session.clone());
        shared.count(|s| {
            s.mcp_sessions += 1;
            s.open_sessions += 1;
        });
    }
    match answers.len() {
        0 => write_response(stream, 202, &[(SESSION_HEADER, &session)], "", keep_alive),
        _ if malformed => {
            let mut body = String::from("event: message\ndata: {not json\n\n");
            for a in &answers {
                body.push_str(&format!("event: message\ndata: {a}\n\n"));
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n{SESSION_HEADER}: {session}\r\nconnection: close\r\n\r\n"
            );
            let _ = (&*stream).write_all(head.as_bytes()).and_then(|()| (&*stream).write_all(body.as_bytes()));
            false
        }
        1 => json_response(stream, 200, Some(&session), &answers[0], keep_alive),
        _ => json_response(stream, 200, Some(&session), &format!("[{}]", answers.join(",")), keep_alive),
    }
}

/// A POST on the 2026-07-28 wire: one message, no session; the answer's status says what the
/// spec says (`400` for envelope, header and version errors, `404` for an unknown method).
fn modern_post(
    shared: &Arc<Shared>,
    stream: &TcpStream,
    req: &Request,
    messages: Vec<Message>,
    keep_alive: bool,
) -> bool {
    let spec = &shared.spec;
    let [message] = &messages[..] else {
        let body = json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": "one message per POST"}});
        return json_response(stream, 400, None, &body.to_string(), keep_alive);
    };
    let Message::Request { id, method, params } = message else {
        if let Message::Notification { method, .. } = message {
            shared.count(|s| *s.requests.entry(method.clone()).or_default() += 1);
        }
        return write_response(stream, 202, &[], "", keep_alive);
    };
    shared.count(|s| *s.requests.entry(method.clone()).or_default() += 1);
    super::record_params(shared, method, params.as_deref());
    if method == "subscriptions/listen" && !spec.never_answers(method) {
        return listen(shared, stream, req, id, params.as_deref(), keep_alive);
    }
    let _guard = InFlight::enter(shared.gauges.clone());
    if spec.never_answers(method) {
        hold(shared, stream);
        return false;
    }
    if let Some(delay) = spec.delay_for(method)
        && shared.stop_rx.recv_timeout(delay) != Err(RecvTimeoutError::Timeout)
    {
        return false;
    }
    let header = |name: &str| req.header(name).map(str::to_string);
    let params_headers: Vec<(String, String)> = req
        .headers
        .iter()
        .filter(|(k, _)| k.to_ascii_lowercase().starts_with("mcp-param-"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let (status, result) = mcp::answer_modern(spec, method, params.as_deref(), Some(&header), &params_headers);
    let body = jsonrpc::encode_response(id, result.as_ref());
    if status == 200
        && let Some(json) = breaking(shared, method)
    {
        return broken_reply(stream, None, json, &String::from_utf8_lossy(&body));
    }
    json_response(stream, status, None, &String::from_utf8_lossy(&body), keep_alive)
}

/// `subscriptions/listen` on the modern wire: checked like any request; then an event stream
/// that stays open — the acknowledgement first, then the notifications [`TestServer::notify`]
/// sends that the filter asked for, each carrying the subscription id — until the client goes,
/// the server stops, [`TestServer::close_streams`] drops it (no response) or
/// [`TestServer::end_listens`] ends it gracefully (the response). Not counted as in flight.
///
/// [`TestServer::notify`]: crate::testing::TestServer::notify
/// [`TestServer::close_streams`]: crate::testing::TestServer::close_streams
/// [`TestServer::end_listens`]: crate::testing::TestServer::end_listens
fn listen(
    shared: &Arc<Shared>,
    stream: &TcpStream,
    req: &Request,
    id: &RequestId,
    params: Option<&serde_json::value::RawValue>,
    keep_alive: bool,
) -> bool {
    let header = |name: &str| req.header(name).map(str::to_string);
    let (status, result) = mcp::answer_modern(&shared.spec, "subscriptions/listen", params, Some(&header), &[]);
    if status != 200 || result.is_err() {
        let body = jsonrpc::encode_response(id, result.as_ref());
        return json_response(stream, status, None, &String::from_utf8_lossy(&body), keep_alive);
    }
    let asked = params
        .and_then(|p| serde_json::from_str::<serde_json::Value>(p.get()).ok())
        .and_then(|p| p.get("notifications").cloned())
        .unwrap_or_else(|| json!({}));
    let filter = mcp::honoured(&asked);
    shared.count(|s| s.listen_filters.push(filter.clone()));
    let (tx, rx) = unbounded::<Option<Vec<u8>>>();
    let n = shared.next_id.fetch_add(1, Ordering::SeqCst);
    lock(&shared.listens).insert(n, super::Listen { filter: filter.clone(), tx, id: id.clone() });
    let head =
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n";
    let event = |data: &[u8]| {
        let mut out = b"event: message\ndata: ".to_vec();
        out.extend_from_slice(data);
        out.extend_from_slice(b"\n\n");
        (&*stream).write_all(&out).is_ok()
    };
    let ack =
        super::on_subscription(id, "notifications/subscriptions/acknowledged", Some(&json!({"notifications": filter})));
    let mut ok = (&*stream).write_all(head.as_bytes()).is_ok() && event(&ack);
    while ok {
        select! {
            recv(rx) -> out => match out {
                Ok(Some(data)) => ok = event(&data),
                Ok(None) => {
                    let end = json!({"resultType": "complete", "_meta": {"io.modelcontextprotocol/subscriptionId": id}});
                    let _ = event(&jsonrpc::encode_response(id, Ok(&end)));
                    ok = false;
                }
                Err(_) => ok = false, // dropped: the stream ends without a response
            },
            recv(shared.stop_rx) -> _ => ok = false,
            default(Duration::from_millis(50)) => ok = !client_gone(stream),
        }
    }
    lock(&shared.listens).remove(&n);
    let _ = stream.shutdown(std::net::Shutdown::Both);
    false
}

/// Whether this reply to `method` is to be broken ([`Fault::BreakReply`],
/// [`Fault::TruncateReply`]; counted), and how: `Some(true)` cut-off JSON, `Some(false)` an
/// event stream without the response.
fn breaking(shared: &Shared, method: &str) -> Option<bool> {
    let (times, json) = shared.spec.breaks(method)?;
    let mut broken = lock(&shared.broken);
    let n = broken.entry(method.to_string()).or_default();
    if *n >= times {
        return None;
    }
    *n += 1;
    Some(json)
}

/// Sends a reply that ends before the response, then closes the connection.
fn broken_reply(stream: &TcpStream, session: Option<&str>, json: bool, answer: &str) -> bool {
    let session = session.map(|id| format!("{SESSION_HEADER}: {id}\r\n")).unwrap_or_default();
    let out = if json {
        let half = &answer.as_bytes()[..answer.len() / 2];
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{session}connection: close\r\n\r\n",
            answer.len()
        );
        [head.as_bytes(), half].concat()
    } else {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n{session}connection: close\r\n\r\nid: broken\r\nretry: 100\r\ndata:\r\n\r\n"
        )
        .into_bytes()
    };
    let _ = (&*stream).write_all(&out);
    let _ = (&*stream).flush();
    let _ = stream.shutdown(std::net::Shutdown::Both);
    false
}

/// Whether the client closed its end of the connection (a read would see end of file).
fn client_gone(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return true;
    }
    let mut byte = [0u8; 1];
    let gone = match stream.peek(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted),
    };
    let _ = stream.set_nonblocking(false);
    gone
}

/// Answers a call of the asking tool ([`Fault::AskClient`]) with an event stream: the server's
/// requests first, then — once the client has POSTed every answer — the call's response.
/// Gives up (closing the stream without a response) after 30 s or on shutdown.
fn ask_on_stream(shared: &Arc<Shared>, stream: &TcpStream, session: &str, call: RequestId, _guard: InFlight) -> bool {
    let (mut asking, requests) = ask::Asking::new(call, shared.next_id.fetch_add(1, Ordering::SeqCst));
    let (tx, rx) = unbounded();
    {
        let mut waiting = lock(&shared.mcp_asking);
        for (id, method, _) in &requests {
            waiting.insert(id.clone(), (tx.clone(), *method));
        }
    }
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n{SESSION_HEADER}: {session}\r\nconnection: close\r\n\r\n"
    );
    let mut out = head.into_bytes();
    for (_, _, data) in &requests {
        out.extend_from_slice(b"event: message\ndata: ");
        out.extend_from_slice(data);
        out.extend_from_slice(b"\n\n");
    }
    let mut ok = (&*stream).write_all(&out).is_ok();
    while ok && !asking.done() {
        select! {
            recv(rx) -> answer => match answer {
                Ok((id, result)) => {
                    asking.answered(&id, &result);
                }
                Err(_) => ok = false,
            },
            recv(shared.stop_rx) -> _ => ok = false,
            default(Duration::from_secs(30)) => ok = false,
        }
    }
    {
        let mut waiting = lock(&shared.mcp_asking);
        for (id, _, _) in &requests {
            waiting.remove(id);
        }
    }
    if ok {
        let mut event = b"event: message\ndata: ".to_vec();
        event.extend_from_slice(&asking.response());
        event.extend_from_slice(b"\n\n");
        let _ = (&*stream).write_all(&event);
    }
    false
}

/// Holds a request that is never answered until the client closes the connection or the
/// server stops.
fn hold(shared: &Shared, stream: &TcpStream) {
    let mut byte = [0u8; 1];
    loop {
        // The socket's read timeout paces this loop.
        match (&*stream).read(&mut byte) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
        if shared.stopping() || shared.stop_rx.recv_timeout(Duration::ZERO) == Err(RecvTimeoutError::Disconnected) {
            return;
        }
    }
}

fn json_response(stream: &TcpStream, status: u16, session: Option<&str>, body: &str, keep_alive: bool) -> bool {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        http::reason(status),
        body.len()
    );
    if let Some(id) = session {
        out.push_str(&format!("{SESSION_HEADER}: {id}\r\n"));
    }
    out.push_str(if keep_alive { "connection: keep-alive\r\n\r\n" } else { "connection: close\r\n\r\n" });
    out.push_str(body);
    (&*stream).write_all(out.as_bytes()).is_ok()
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use crate::testing::{Fault, TestServer};

    /// One request on a fresh connection; the whole response as text.
    fn exchange(server: &TestServer, method: &str, session: Option<&str>, body: &str) -> String {
        let mut s = TcpStream::connect(server.addr()).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        let session = session.map(|id| format!("mcp-session-id: {id}\r\n")).unwrap_or_default();
        write!(
            s,
            "{method} /mcp HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: {}\r\n{session}\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    fn session_of(response: &str) -> String {
        let line = response.lines().find(|l| l.starts_with("mcp-session-id: ")).expect("a session id");
        line["mcp-session-id: ".len()..].to_string()
    }

    const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#;
    const LIST: &str = r#"{"jsonrpc":"2.0","id":2,"method":"resources/list"}"#;

    #[test]
    fn sessions_json_answers_and_statuses() {
        let server = TestServer::builder().with_sample_resources(1).start().unwrap();
        assert!(server.mcp_url().ends_with("/mcp"));
        let init = exchange(&server, "POST", None, INIT);
        assert!(init.starts_with("HTTP/1.1 200") && init.contains("content-type: application/json"), "{init}");
        let id = session_of(&init);
        let list = exchange(&server, "POST", Some(&id), LIST);
        assert!(list.contains(r#""uri":"test://resource/0""#), "{list}");
        assert!(exchange(&server, "POST", Some("nope"), LIST).starts_with("HTTP/1.1 404"));
        assert!(exchange(&server, "POST", None, LIST).starts_with("HTTP/1.1 400"));
        assert!(exchange(&server, "GET", Some(&id), "").starts_with("HTTP/1.1 405"));
        let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        assert!(exchange(&server, "POST", Some(&id), note).starts_with("HTTP/1.1 202"));
        let stats = server.stats();
        assert_eq!((stats.mcp_sessions, stats.open_sessions), (1, 1));
        assert!(exchange(&server, "DELETE", Some(&id), "").starts_with("HTTP/1.1 200"));
        assert_eq!(server.stats().open_sessions, 0);
        assert_eq!(server.stats().count("resources/list"), 1);
    }

    #[test]
    fn a_malformed_event_comes_first_in_an_event_stream_reply() {
        let server = TestServer::builder().fault(Fault::MalformedEvent("initialize".into())).start().unwrap();
        let init = exchange(&server, "POST", None, INIT);
        assert!(init.contains("content-type: text/event-stream"), "{init}");
        let first = init.find("data: {not json").unwrap();
        assert!(first < init.find("\"result\"").unwrap(), "{init}");
    }
}
