//! URL-mode elicitation: the handler gets the full URL and the asking server's name, the client
//! declares `elicitation.url`, the answer reaches the server; a URL a person may not be offered
//! (`javascript:`, `file:`) never reaches the handler.

#![cfg(feature = "testing")]

#[path = "support/wait.rs"]
mod wait;

use std::sync::{Arc, Mutex};

use mcp_orchestrator::testing::{Fault, TestServer};
use mcp_orchestrator::{Client, ElicitResult, Handlers, RequestContext, ServerConfig, UrlElicitRequest};
use serde_json::json;

fn asking(url: &str) -> TestServer {
    let params = json!({"mode": "url", "message": "Connect your account", "url": url, "elicitationId": "e-1"});
    TestServer::builder()
        .fault(Fault::RequestClientWith("elicitation/create".into(), params.to_string()))
        .start()
        .unwrap()
}

type Seen = Arc<Mutex<Vec<(String, String, Option<String>)>>>;

fn handlers(seen: &Seen) -> Handlers {
    let seen = seen.clone();
    Handlers::new().url_elicitation(move |cx: &RequestContext, r: UrlElicitRequest| {
        seen.lock().unwrap().push((cx.server.clone(), r.url, r.elicitation_id));
        Ok(ElicitResult::accept_url())
    })
}

#[test]
fn the_handler_gets_the_full_url_and_the_asking_server() {
    let url = "https://auth.example.com/oauth/start?elicitation=e-1&scope=read%20write";
    let s = asking(url);
    let seen: Seen = Arc::default();
    let client = Client::builder(&ServerConfig::sse("github", s.url())).handlers(handlers(&seen)).connect().unwrap();
    wait::eventually("the answer reached the server", || !s.stats().client_answers.is_empty());
    assert_eq!(*seen.lock().unwrap(), [("github".to_string(), url.to_string(), Some("e-1".to_string()))]);
    let stats = s.stats();
    assert_eq!(stats.client_answers[0].result, Ok(json!({"action": "accept"})));
    assert_eq!(stats.client_capabilities.unwrap()["elicitation"], json!({"url": {}}));
    client.close();
}

#[test]
fn an_unsafe_url_never_reaches_the_handler() {
    for url in ["javascript:alert(1)", "file:///etc/passwd"] {
        let s = asking(url);
        let seen: Seen = Arc::default();
        let client = Client::builder(&ServerConfig::sse("s", s.url())).handlers(handlers(&seen)).connect().unwrap();
        wait::eventually("the answer reached the server", || !s.stats().client_answers.is_empty());
        assert!(seen.lock().unwrap().is_empty(), "{url}");
        assert!(matches!(&s.stats().client_answers[0].result, Err((-32602, _))), "{url}");
        client.close();
    }
}
