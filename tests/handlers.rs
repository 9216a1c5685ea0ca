//! Server-to-client requests answered by the program's handlers (`Handlers`), over the legacy
//! HTTP+SSE transport, Streamable HTTP (the requests arrive on the call's reply stream) and
//! stdio: the test server's `Fault::AskClient` sends `elicitation/create`, `sampling/createMessage`
//! and `roots/list` during a `tools/call` and returns the client's answers as the call's result.

#![cfg(feature = "testing")]

#[path = "support/servers.rs"]
mod servers;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcp_orchestrator::testing::Fault;
use mcp_orchestrator::{
    Client, Config, CreateMessageRequest, CreateMessageResult, ElicitRequest, ElicitResult, HandlerError, Handlers,
    Orchestration, Orchestrator, RequestContext, Root,
};
use serde_json::{Value, json};
use servers::{ALL, Kind, sample};

/// What the handlers saw: (server, method, time left until the deadline).
type Seen = Arc<Mutex<Vec<(String, &'static str, Duration)>>>;

fn all_handlers(seen: &Seen) -> Handlers {
    let (s1, s2, s3) = (seen.clone(), seen.clone(), seen.clone());
    let left = |cx: &RequestContext| cx.deadline.saturating_duration_since(Instant::now());
    Handlers::new()
        .elicitation(move |cx: &RequestContext, request: ElicitRequest| {
            s1.lock().unwrap().push((cx.server.clone(), "elicitation", left(cx)));
            assert_eq!(request.message, "Who are you?");
            let mut content = request.defaults();
            content.insert("name".into(), json!("Ada"));
            Ok(ElicitResult::accept(content))
        })
        .sampling(move |cx: &RequestContext, request: CreateMessageRequest| {
            s2.lock().unwrap().push((cx.server.clone(), "sampling", left(cx)));
            assert_eq!(request.max_tokens, Some(16));
            let asked = request.messages[0]["content"]["text"].as_str().unwrap_or_default().to_string();
            Ok(CreateMessageResult::text("test-model", format!("{asked}: hi")))
        })
        .roots(move |cx: &RequestContext| {
            s3.lock().unwrap().push((cx.server.clone(), "roots", left(cx)));
            Ok(vec![Root::new("file:///work/project").named("project")])
        })
}

/// The answers the server received, from the asking tool's result.
fn answers(client: &Client) -> Value {
    let result = client.call_tool("ask", json!({})).expect("the asking call");
    serde_json::from_str(&result.text()).expect("the answers as JSON")
}

fn capabilities(srv: &servers::Srv) -> Option<Value> {
    srv.http().map(|s| s.stats().client_capabilities.expect("an initialize was recorded"))
}

#[test]
fn registered_handlers_answer_elicitation_sampling_and_roots_over_every_transport() {
    for kind in ALL {
        let srv = sample(1).fault(Fault::AskClient("ask".into())).start(kind);
        let seen = Seen::default();
        let client = Client::builder(&srv.config("asker", 1)).handlers(all_handlers(&seen)).connect().unwrap();
        let got = answers(&client);
        assert_eq!(
            got["elicitation/create"],
            json!({"result": {"action": "accept", "content": {"name": "Ada", "age": 30, "verified": true}}}),
            "{kind:?}"
        );
        assert_eq!(
            got["sampling/createMessage"]["result"],
            json!({"role": "assistant", "content": {"type": "text", "text": "Say hi: hi"}, "model": "test-model", "stopReason": "endTurn"}),
            "{kind:?}"
        );
        assert_eq!(
            got["roots/list"],
            json!({"result": {"roots": [{"uri": "file:///work/project", "name": "project"}]}}),
            "{kind:?}"
        );
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 3, "{kind:?}: {seen:?}");
        for (server, what, left) in &seen {
            assert_eq!(server, "asker", "{kind:?} {what}");
            // Each handler gets the server's timeout (10 s) as its deadline.
            assert!(*left > Duration::from_secs(5) && *left <= Duration::from_secs(10), "{kind:?} {what}: {left:?}");
        }
        if let Some(caps) = capabilities(&srv) {
            assert_eq!(
                caps,
                json!({"elicitation": {"form": {}}, "sampling": {}, "roots": {}, "tasks": {}}),
                "{kind:?}"
            );
        }
        // The session still works after the exchange.
        assert_eq!(client.list_resources().unwrap().len(), 1, "{kind:?}");
        client.close();
    }
}

#[test]
fn without_handlers_no_handler_capability_is_declared_and_each_request_is_method_not_found() {
    for kind in ALL {
        let srv = sample(0).fault(Fault::AskClient("ask".into())).start(kind);
        let client = Client::connect(&srv.config("plain", 1)).unwrap();
        let got = answers(&client);
        for method in ["elicitation/create", "sampling/createMessage", "roots/list"] {
            assert_eq!(got[method]["error"]["code"], -32601, "{kind:?} {method}: {got}");
            let message = got[method]["error"]["message"].as_str().unwrap();
            assert!(message.contains(method), "{kind:?}: {message}");
        }
        if let Some(caps) = capabilities(&srv) {
            // Only the experimental `tasks` (2025-11-25), which needs no handler.
            assert_eq!(caps, json!({"tasks": {}}), "{kind:?}");
        }
        client.close();
    }
}

#[test]
fn only_the_registered_kinds_are_declared_and_a_handler_error_reaches_the_server() {
    let kind = Kind::StreamableHttp;
    let srv = sample(0).fault(Fault::AskClient("ask".into())).start(kind);
    let handlers = Handlers::new().roots(|_: &RequestContext| -> Result<Vec<Root>, HandlerError> {
        Err(HandlerError::rejected("no roots today"))
    });
    let client = Client::builder(&srv.config("roots-only", 1)).handlers(handlers).connect().unwrap();
    let got = answers(&client);
    assert_eq!(got["roots/list"], json!({"error": {"code": -1, "message": "no roots today"}}));
    assert_eq!(got["elicitation/create"]["error"]["code"], -32601);
    assert_eq!(got["sampling/createMessage"]["error"]["code"], -32601);
    assert_eq!(capabilities(&srv).unwrap(), json!({"roots": {}, "tasks": {}}));
    client.close();
}

#[test]
fn a_panicking_handler_answers_an_internal_error_and_the_session_lives_on() {
    for kind in [Kind::Sse, Kind::Stdio] {
        let srv = sample(1).fault(Fault::AskClient("ask".into())).start(kind);
        let handlers =
            Handlers::new().elicitation(|_: &RequestContext, _: ElicitRequest| -> Result<ElicitResult, HandlerError> {
                panic!("a bug")
            });
        let client = Client::builder(&srv.config("panics", 1)).handlers(handlers).connect().unwrap();
        let got = answers(&client);
        assert_eq!(got["elicitation/create"]["error"]["code"], -32603, "{kind:?}");
        assert_eq!(client.list_resources().unwrap().len(), 1, "{kind:?}: the reader survived");
        client.close();
    }
}

#[test]
fn an_orchestrator_answers_every_server_with_its_handlers_naming_the_server() {
    let a = sample(1).name("a").fault(Fault::AskClient("ask".into())).start(Kind::Sse);
    let b = sample(1).name("b").fault(Fault::AskClient("ask".into())).start(Kind::Stdio);
    let config = Config::new(vec![a.config("alpha", 1), b.config("beta", 2)], Orchestration::default()).unwrap();
    let seen = Seen::default();
    let orchestrator = Orchestrator::new(config).with_handlers(all_handlers(&seen));
    orchestrator.initialize().unwrap();
    for server in ["alpha", "beta"] {
        let result = orchestrator.call_tool_on(Some(server), "ask", json!({})).unwrap();
        let got: Value = serde_json::from_str(&result.text()).unwrap();
        assert_eq!(got["roots/list"]["result"]["roots"][0]["uri"], "file:///work/project", "{server}");
    }
    let servers: Vec<String> = seen.lock().unwrap().iter().map(|(s, _, _)| s.clone()).collect();
    assert_eq!(servers.iter().filter(|s| *s == "alpha").count(), 3, "{servers:?}");
    assert_eq!(servers.iter().filter(|s| *s == "beta").count(), 3, "{servers:?}");
    assert_eq!(a.http().unwrap().stats().client_capabilities.unwrap()["roots"], json!({}));
    orchestrator.close();
}
