//! The test server over stdio: newline-delimited JSON-RPC on a reader and a writer (the
//! process's stdin and stdout in the `mcp-test-server` binary).
//!
//! The same methods and faults as over HTTP, where they mean something here:
//! [`Fault::NeverAnswer`], [`Fault::Delay`] (a `test-server-delay` thread per delayed answer),
//! [`Fault::MalformedEvent`] (a `{not json` line first), [`Fault::CloseStreamOn`] (serving ends:
//! the binary exits), [`Fault::OversizedEvent`] (one line of that many bytes first),
//! [`Fault::PingClient`], [`Fault::RequestClient`], [`Fault::NotifyAfterInitialized`],
//! [`Fault::RepeatCursor`], [`Fault::AskClient`], and three of its own: [`Fault::ExitAtStart`],
//! [`Fault::IgnoreEndOfInput`] and [`Fault::ExitOnUnknownMethod`]. One writer thread (`test-server-stdout`) owns the output.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, Read, Write};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, unbounded};
use serde_json::{Value, json};

use super::server::oversized_data;
use super::{Fault, ProtocolMode, Spec, ask, mcp};
use crate::jsonrpc::{self, Message, PARSE_ERROR, RequestId, RpcError};

/// The longest input line read (a longer one is answered with a parse error and skipped).
const MAX_LINE: u64 = 8 * 1024 * 1024;

/// How serving ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StdioEnd {
    /// The input ended (the client closed it).
    EndOfInput,
    /// [`Fault::CloseStreamOn`] fired: the server stops as if it had crashed.
    Closed,
    /// [`Fault::ExitAtStart`]: the process should exit at once with this status.
    Exit(i32),
}

/// One line for the writer thread, and what to note in the event log once it is written.
type Line = (Vec<u8>, Option<String>);

/// Appends `<server> <event>` lines to a shared file (one `write` each, so several servers may
/// append to the same file without tearing lines).
#[derive(Clone)]
struct Events {
    name: String,
    files: Arc<Vec<File>>,
}

impl Events {
    fn note(&self, event: &str) {
        let line = format!("{} {event}\n", self.name);
        for mut file in self.files.iter() {
            let _ = file.write_all(line.as_bytes());
        }
    }
}

pub(crate) fn serve(
    spec: &Spec,
    events: Vec<File>,
    input: impl BufRead,
    output: impl Write + Send + 'static,
) -> io::Result<StdioEnd> {
    let events = Events { name: spec.name.clone(), files: Arc::new(events) };
    if let Some(code) = spec.faults.iter().find_map(|f| if let Fault::ExitAtStart(c) = f { Some(*c) } else { None }) {
        events.note(&format!("exit {code}"));
        return Ok(StdioEnd::Exit(code));
    }
    events.note(&format!("start {}", std::process::id()));
    let (tx, rx) = unbounded::<Line>();
    let writer = {
        let events = events.clone();
        thread::Builder::new().name("test-server-stdout".into()).spawn(move || write_loop(output, &rx, &events))?
    };
    let (stop_tx, stop_rx) = unbounded::<()>();
    let mut state = State {
        tx,
        stop: stop_rx,
        delays: Vec::new(),
        asked: HashMap::new(),
        next_request: 0,
        modern_era: None,
        asking: Vec::new(),
    };
    if let Some(n) = spec.oversized() {
        state.send(oversized_data(n), None);
    }
    let end = read_loop(spec, &events, input, &mut state);
    events.note(match end {
        StdioEnd::EndOfInput => "eof",
        _ => "closed",
    });
    // Delayed answers still pending are dropped; then the writer drains and ends.
    drop(stop_tx);
    for t in std::mem::take(&mut state.delays) {
        let _ = t.join();
    }
    drop(state);
    let _ = writer.join();
    if end == StdioEnd::EndOfInput && spec.has(&Fault::IgnoreEndOfInput) {
        events.note("ignoring end of input");
        loop {
            thread::sleep(Duration::from_secs(3600));
        }
    }
    Ok(end)
}

struct State {
    tx: Sender<Line>,
    stop: Receiver<()>,
    delays: Vec<JoinHandle<()>>,
    /// Requests the server sent to the client, by id.
    asked: HashMap<RequestId, String>,
    next_request: u64,
    /// [`ProtocolMode::Both`]: whether the first request opened the modern era.
    modern_era: Option<bool>,
    /// Calls of the asking tool waiting for the client's answers ([`Fault::AskClient`]).
    asking: Vec<ask::Asking>,
}

impl State {
    fn send(&self, line: Vec<u8>, note: Option<String>) {
        let _ = self.tx.send((line, note));
    }

    fn request_client(&mut self, method: &str) {
        self.request_client_with(method, None);
    }

    fn request_client_with(&mut self, method: &str, params: Option<&Value>) {
        self.next_request += 1;
        let id = RequestId::String(format!("server-{}", self.next_request));
        self.asked.insert(id.clone(), method.to_string());
        self.send(jsonrpc::encode_request::<Value>(&id, method, params), None);
    }
}

fn write_loop(mut output: impl Write, rx: &Receiver<Line>, events: &Events) {
    for (mut line, note) in rx {
        // Noted before it is written, as a request stops counting as in flight before its
        // answer goes out: a client that has read it may send its next request at once.
        if let Some(note) = note {
            events.note(&note);
        }
        line.push(b'\n');
        if output.write_all(&line).and_then(|()| output.flush()).is_err() {
            return;
        }
    }
}

fn read_loop(spec: &Spec, events: &Events, mut input: impl BufRead, state: &mut State) -> StdioEnd {
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut input).take(MAX_LINE).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return StdioEnd::EndOfInput,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let messages = match jsonrpc::decode(text).and_then(|v| v.into_iter().collect::<Result<Vec<_>, _>>()) {
            Ok(m) => m,
            Err(why) => {
                let error = json!({"jsonrpc": "2.0", "id": null, "error": {"code": PARSE_ERROR, "message": "Parse error", "data": why.0}});
                state.send(error.to_string().into_bytes(), None);
                continue;
            }
        };
        for message in messages {
            if dispatch(spec, events, state, message) {
                return StdioEnd::Closed;
            }
        }
    }
}

/// Handles one message; `true` when serving must end ([`Fault::CloseStreamOn`]).
fn dispatch(spec: &Spec, events: &Events, state: &mut State, message: Message) -> bool {
    match message {
        Message::Request { id, method, params } => {
            events.note(&format!("in {method}"));
            if spec.closes_on(&method) {
                return true;
            }
            if spec.never_answers(&method) {
                return false;
            }
            if spec.asks(&method, params.as_deref()) {
                state.next_request += 1;
                let (asking, requests) = ask::Asking::new(id, state.next_request);
                for (id, method, data) in requests {
                    state.asked.insert(id, method.to_string());
                    state.send(data, None);
                }
                state.asking.push(asking);
                return false;
            }
            for progress in mcp::progress_for(params.as_deref()) {
                state.send(progress, None);
            }
            let enveloped = mcp::is_enveloped(params.as_deref());
            let modern = match spec.mode {
                ProtocolMode::ModernOnly => true,
                ProtocolMode::Both => *state.modern_era.get_or_insert(enveloped),
                _ => false,
            };
            let result = match (modern, method.as_str()) {
                (true, "initialize") => Err(mcp::unsupported_version(
                    params
                        .as_deref()
                        .and_then(|p| serde_json::from_str::<Value>(p.get()).ok())
                        .and_then(|p| p.get("protocolVersion").and_then(Value::as_str).map(str::to_string))
                        .as_deref(),
                )),
                (true, _) => mcp::answer_modern(spec, &method, params.as_deref(), None, &[]).1,
                (false, _) if enveloped && spec.mode == ProtocolMode::Both => {
                    Err(RpcError { code: -32600, message: "this process speaks the handshake era".into(), data: None })
                }
                (false, _) => mcp::answer(spec, &method, params.as_deref()),
            };
            if modern && method == "subscriptions/listen" && result.is_ok() {
                // The subscription stays open (its response would end it): the acknowledgement,
                // and a change with NotifyAfterInitialized.
                let asked = params
                    .as_deref()
                    .and_then(|p| serde_json::from_str::<Value>(p.get()).ok())
                    .and_then(|p| p.get("notifications").cloned())
                    .unwrap_or_else(|| json!({}));
                let filter = mcp::honoured(&asked);
                let ack = json!({"notifications": filter});
                let ack = super::server::on_subscription(&id, "notifications/subscriptions/acknowledged", Some(&ack));
                state.send(ack, Some("out subscriptions/listen".into()));
                let change = "notifications/resources/list_changed";
                if spec.has(&Fault::NotifyAfterInitialized) && super::server::wants(&filter, change, None) {
                    state.send(super::server::on_subscription(&id, change, None), None);
                }
                return false;
            }
            if spec.has(&Fault::ExitOnUnknownMethod)
                && matches!(&result, Err(e) if e.code == crate::jsonrpc::METHOD_NOT_FOUND)
            {
                return true;
            }
            let data = jsonrpc::encode_response(&id, result.as_ref());
            if spec.malformed_before(&method) {
                state.send(b"{not json".to_vec(), None);
            }
            let note = Some(format!("out {method}"));
            match spec.delay_for(&method) {
                None => state.send(data, note),
                Some(delay) => {
                    let (stop, tx) = (state.stop.clone(), state.tx.clone());
                    let spawned = thread::Builder::new().name("test-server-delay".into()).spawn(move || {
                        // Disconnected means serving ended: drop the answer.
                        if stop.recv_timeout(delay) == Err(RecvTimeoutError::Timeout) {
                            let _ = tx.send((data, note));
                        }
                    });
                    state.delays.retain(|t| !t.is_finished());
                    match spawned {
                        Ok(t) => state.delays.push(t),
                        Err(e) => log::warn!("test server `{}`: cannot start a delay thread: {e}", spec.name),
                    }
                }
            }
        }
        Message::Notification { method, .. } => {
            events.note(&format!("in {method}"));
            if method == "notifications/initialized" {
                after_initialized(spec, state);
            }
        }
        Message::Response { id, result } => {
            let method = id.as_ref().and_then(|id| state.asked.remove(id));
            events.note(&format!("answer {}", method.as_deref().unwrap_or("?")));
            let result = match result {
                Ok(raw) => Ok(serde_json::from_str(raw.get()).unwrap_or(Value::Null)),
                Err(e) => Err((e.code, e.message)),
            };
            let finished = id.as_ref().and_then(|id| {
                let i = state.asking.iter_mut().position(|a| a.answered(id, &result))?;
                state.asking[i].done().then(|| state.asking.remove(i))
            });
            if let Some(asking) = finished {
                state.send(asking.response(), Some("out tools/call".into()));
            }
        }
    }
    false
}

fn after_initialized(spec: &Spec, state: &mut State) {
    for fault in &spec.faults {
        match fault {
            Fault::PingClient => state.request_client("ping"),
            Fault::RequestClient(method) => state.request_client(method),
            Fault::RequestClientWith(method, params) => {
                state.request_client_with(method, serde_json::from_str::<Value>(params).ok().as_ref());
            }
            Fault::NotifyAfterInitialized => {
                let log = json!({"level": "info", "logger": "test", "data": "hello"});
                state.send(jsonrpc::encode_notification("notifications/message", Some(&log)), None);
                let progress = json!({"progressToken": "test", "progress": 1, "total": 1, "message": "initialized"});
                state.send(jsonrpc::encode_notification("notifications/progress", Some(&progress)), None);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;
    use std::sync::Mutex;

    use super::*;
    use crate::testing::TestServer;

    /// An output the test can read after serving ends.
    #[derive(Clone, Default)]
    struct Out(Arc<Mutex<Vec<u8>>>);

    impl Write for Out {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Out {
        fn lines(&self) -> Vec<Value> {
            let bytes = self.0.lock().unwrap().clone();
            String::from_utf8(bytes).unwrap().lines().map(|l| serde_json::from_str(l).unwrap_or(json!(l))).collect()
        }
    }

    const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}"#;

    #[test]
    fn answers_each_line_and_ends_with_its_input() {
        let input = format!(
            "{INIT}\n\n{}\n{}\nnot json\n",
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":2,"method":"resources/list"}"#
        );
        let out = Out::default();
        let b = TestServer::builder().name("db").with_sample_resources(2).fault(Fault::PingClient);
        assert_eq!(b.serve_stdio(Cursor::new(input), out.clone()).unwrap(), StdioEnd::EndOfInput);
        let lines = out.lines();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert_eq!(lines[0]["result"]["serverInfo"]["name"], "db");
        assert_eq!(lines[1], json!({"jsonrpc": "2.0", "id": "server-1", "method": "ping"}));
        assert_eq!(lines[2]["result"]["resources"].as_array().unwrap().len(), 2);
        assert_eq!((lines[3]["id"].clone(), lines[3]["error"]["code"].clone()), (Value::Null, json!(PARSE_ERROR)));
    }

    #[test]
    fn faults_end_serving_or_hold_answers() {
        let out = Out::default();
        let b = TestServer::builder().fault(Fault::ExitAtStart(7));
        assert_eq!(b.serve_stdio(Cursor::new(INIT), out.clone()).unwrap(), StdioEnd::Exit(7));
        assert!(out.lines().is_empty());

        let input = format!("{INIT}\n{}\n", r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#);
        let b = TestServer::builder().fault(Fault::CloseStreamOn("tools/list".into()));
        assert_eq!(b.serve_stdio(Cursor::new(input.clone()), out.clone()).unwrap(), StdioEnd::Closed);
        assert_eq!(out.lines().len(), 1);

        let out = Out::default();
        let b = TestServer::builder().fault(Fault::NeverAnswer("tools/list".into()));
        assert_eq!(b.serve_stdio(Cursor::new(input), out.clone()).unwrap(), StdioEnd::EndOfInput);
        assert_eq!(out.lines().len(), 1, "only initialize is answered");
    }
}
