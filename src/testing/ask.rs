//! [`Fault::AskClient`](super::Fault::AskClient): a `tools/call` of the named tool first asks
//! the client `elicitation/create`, `sampling/createMessage` and `roots/list`, then answers
//! with what the client said. The same state machine serves every transport.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::jsonrpc::{self, RequestId};

/// The requests the server sends, in order, with their params.
pub(crate) fn requests() -> Vec<(&'static str, Value)> {
    vec![
        (
            "elicitation/create",
            json!({
                "mode": "form",
                "message": "Who are you?",
                "requestedSchema": {"type": "object", "properties": {
                    "name": {"type": "string", "default": "John Doe"},
                    "age": {"type": "integer", "default": 30},
                    "verified": {"type": "boolean", "default": true}}}
            }),
        ),
        (
            "sampling/createMessage",
            json!({"messages": [{"role": "user", "content": {"type": "text", "text": "Say hi"}}], "maxTokens": 16}),
        ),
        ("roots/list", json!({})),
    ]
}

/// Whether a `tools/call` with these params calls the asking tool `tool`.
pub(crate) fn calls(tool: &str, params: Option<&serde_json::value::RawValue>) -> bool {
    params
        .and_then(|p| serde_json::from_str::<Value>(p.get()).ok())
        .is_some_and(|p| p.get("name").and_then(Value::as_str) == Some(tool))
}

/// A request to send: its id, method and encoded message.
pub(crate) type Outgoing = (RequestId, &'static str, Vec<u8>);

/// One `tools/call` waiting for the client's answers.
pub(crate) struct Asking {
    call: RequestId,
    waiting: HashMap<RequestId, &'static str>,
    answers: Map<String, Value>,
}

impl Asking {
    /// The state for the call `call`, and the requests to send: id (`ask-<seq>-<k>`), method,
    /// encoded message.
    pub(crate) fn new(call: RequestId, seq: u64) -> (Asking, Vec<Outgoing>) {
        let mut waiting = HashMap::new();
        let mut out = Vec::new();
        for (k, (method, params)) in requests().into_iter().enumerate() {
            let id = RequestId::String(format!("ask-{seq}-{k}"));
            out.push((id.clone(), method, jsonrpc::encode_request(&id, method, Some(&params))));
            waiting.insert(id, method);
        }
        (Asking { call, waiting, answers: Map::new() }, out)
    }

    /// Takes the client's answer `id`; whether it was one this call waited for.
    pub(crate) fn answered(&mut self, id: &RequestId, result: &Result<Value, (i64, String)>) -> bool {
        let Some(method) = self.waiting.remove(id) else { return false };
        let answer = match result {
            Ok(v) => json!({ "result": v }),
            Err((code, message)) => json!({ "error": { "code": code, "message": message } }),
        };
        self.answers.insert(method.to_string(), answer);
        true
    }

    /// Whether every request has been answered.
    pub(crate) fn done(&self) -> bool {
        self.waiting.is_empty()
    }

    /// The call's response: a text result holding the answers as JSON.
    pub(crate) fn response(&self) -> Vec<u8> {
        let answers = Value::Object(self.answers.clone());
        let result = json!({"content": [{"type": "text", "text": answers.to_string()}], "isError": false});
        jsonrpc::encode_response(&self.call, Ok(&result))
    }
}
