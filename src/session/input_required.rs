//! Multi round-trip requests (2026-07-28): a `tools/call`, `prompts/get` or `resources/read`
//! may answer `resultType: "input_required"` with `inputRequests` (elicitation, sampling, roots,
//! each under a key) and/or an opaque `requestState`. The client answers every input request
//! through the program's [`Handlers`], then sends the same method again — a new request with a
//! new id — with the same params plus `inputResponses` and, iff the server sent one, the
//! `requestState` byte for byte. Rounds are bounded; nothing here is cached.
//!
//! [`run`] is transport-independent: the session gives it a `send` that makes one request with
//! the given params (a fresh id and `_meta` each time) and returns the raw result.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::Result;
use crate::handlers::{Handlers, RequestContext};
use crate::op::OpId;
use crate::session::{RequestOptions, Session};

/// The most rounds one request may take (the first send included).
pub(crate) const MAX_ROUNDS: usize = 8;

/// The parts of a result this module reads; the rest stays raw.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(rename = "resultType")]
    result_type: Option<String>,
    #[serde(rename = "inputRequests")]
    input_requests: Option<BTreeMap<String, InputRequest>>,
    #[serde(rename = "requestState", borrow)]
    request_state: Option<&'a RawValue>,
}

/// One input request: a server request's method and params, under a key.
#[derive(Deserialize)]
pub(crate) struct InputRequest {
    method: String,
    #[serde(default)]
    params: Option<Value>,
}

/// The params of a retry: the original params, the answers, the state as received.
#[derive(Serialize)]
struct Retry<'a> {
    #[serde(flatten)]
    params: &'a Map<String, Value>,
    #[serde(rename = "inputResponses", skip_serializing_if = "Option::is_none")]
    input_responses: Option<&'a Map<String, Value>>,
    #[serde(rename = "requestState", skip_serializing_if = "Option::is_none")]
    request_state: Option<&'a RawValue>,
}

/// Makes `method` with `params` until its result is complete: at most `max_rounds` sends, each
/// through `send`; input requests are answered by `handlers` (on this thread, no lock held,
/// with `deadline`). A result without `resultType` is complete; an unknown `resultType`, an
/// input request of a kind without a handler (which the server may not send: it was not
/// declared), a handler's error, or too many rounds fail the call with `protocol(detail)`.
pub(crate) fn run<E>(
    handlers: &Handlers,
    server: &str,
    params: &Map<String, Value>,
    deadline: Instant,
    max_rounds: usize,
    mut send: impl FnMut(&RawValue) -> Result<Box<RawValue>, E>,
    protocol: impl Fn(String) -> E,
) -> Result<Box<RawValue>, E> {
    let first = serde_json::value::to_raw_value(params).map_err(|e| protocol(format!("cannot encode params: {e}")))?;
    let mut next = first;
    for round in 1..=max_rounds.max(1) {
        let raw = send(&next)?;
        let head: Head<'_> = serde_json::from_str(raw.get())
            .map_err(|e| protocol(format!("the result does not have the expected shape: {e}")))?;
        match head.result_type.as_deref() {
            // A created task is the client layer's to drive (`client/tasks.rs`).
            None | Some("complete") | Some("task") => return Ok(raw),
            Some("input_required") => {}
            Some(other) => return Err(protocol(format!("unknown resultType {other:?}"))),
        }
        if head.input_requests.is_none() && head.request_state.is_none() {
            return Err(protocol("an input_required result with neither inputRequests nor requestState".into()));
        }
        if head.request_state.is_some_and(|s| !s.get().starts_with('"')) {
            return Err(protocol("requestState is not a string".into()));
        }
        if round == max_rounds {
            return Err(protocol(format!("the server still asks for input after {max_rounds} rounds")));
        }
        let responses = match &head.input_requests {
            None => None,
            Some(requests) => {
                let mut responses = Map::new();
                for (key, request) in requests {
                    log::debug!("server={server}: input request {key:?}: {} (round {round})", request.method);
                    let answer = answer_one(handlers, server, key, request, deadline).map_err(&protocol)?;
                    responses.insert(key.clone(), answer);
                }
                Some(responses)
            }
        };
        let retry = Retry { params, input_responses: responses.as_ref(), request_state: head.request_state };
        next =
            serde_json::value::to_raw_value(&retry).map_err(|e| protocol(format!("cannot encode the retry: {e}")))?;
    }
    Err(protocol(format!("the server still asks for input after {max_rounds} rounds")))
}

/// Answers one input request (of a multi round-trip request, or of a task's `inputRequests`)
/// through `handlers`, on this thread, with `deadline`: the response to send under its key,
/// or why there is none (no handler for its kind, the handler's error, bad params).
pub(crate) fn answer_one(
    handlers: &Handlers,
    server: &str,
    key: &str,
    request: &InputRequest,
    deadline: Instant,
) -> std::result::Result<Value, String> {
    let cx = RequestContext { server: server.into(), id: None, input_key: Some(key.to_string()), deadline };
    let params = request.params.as_ref().map(Value::to_string);
    handlers
        .dispatch(&cx, &request.method, params.as_deref())
        .map_err(|e| format!("cannot answer input request {key:?} ({}): {} ({})", request.method, e.message, e.code))
}

impl Session {
    /// One request that may take `input_required` rounds (2026-07-28): each round is a new
    /// request (new id, fresh `_meta`, the same `options`), input requests are answered by the
    /// router's handlers with `deadline`; the complete result, raw. On the handshake era it is
    /// one plain request.
    pub(crate) fn request_with_input(
        &self,
        op: &OpId,
        method: &'static str,
        params: Value,
        deadline: Instant,
        options: &RequestOptions,
    ) -> Result<Box<RawValue>> {
        let (Some(_), Value::Object(map)) = (self.modern_version(), &params) else {
            let call = self.start_with(op, method, Some(params), deadline, options)?;
            return self.finish_raw(call, deadline);
        };
        let send = |p: &RawValue| {
            let p: Value =
                serde_json::from_str(p.get()).map_err(|e| self.protocol(op, method, format!("retry params: {e}")))?;
            let call = self.start_with(op, method, Some(p), deadline, options)?;
            match self.finish_outcome(call, deadline)? {
                super::Outcome::Complete(raw) | super::Outcome::InputRequired(raw) => Ok(raw),
            }
        };
        run(self.router.handlers(), &self.name, map, deadline, MAX_ROUNDS, send, |d| self.protocol(op, method, d))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::handlers::{ElicitRequest, ElicitResult};

    fn confirm() -> Handlers {
        Handlers::new().elicitation(|cx: &RequestContext, r: ElicitRequest| {
            assert_eq!(cx.input_key.as_deref(), Some("confirm"));
            assert!(cx.id.is_none());
            assert_eq!(r.message, "Sure?");
            let mut content = Map::new();
            content.insert("confirmed".into(), json!(true));
            Ok(ElicitResult::accept(content))
        })
    }

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_string()).unwrap()
    }

    /// Runs with scripted results; returns the outcome and the params of every send.
    fn script(handlers: &Handlers, results: &[&str]) -> (Result<String, String>, Vec<String>) {
        let sent = RefCell::new(Vec::new());
        let params = json!({"name": "t", "arguments": {"a": 1}});
        let deadline = Instant::now() + Duration::from_secs(5);
        let outcome = run(
            handlers,
            "s",
            params.as_object().unwrap(),
            deadline,
            4,
            |p: &RawValue| {
                let n = sent.borrow().len();
                sent.borrow_mut().push(p.get().to_string());
                Ok(raw(results.get(n).copied().unwrap_or(results[results.len() - 1])))
            },
            |d| d,
        );
        (outcome.map(|r| r.get().to_string()), sent.into_inner())
    }

    const ASK: &str = r#"{"resultType":"input_required","inputRequests":{"confirm":{"method":"elicitation/create","params":{"mode":"form","message":"Sure?","requestedSchema":{"type":"object","properties":{"confirmed":{"type":"boolean"}}}}}}}"#;

    #[test]
    fn a_complete_result_or_one_without_result_type_returns_at_once() {
        for result in [r#"{"resultType":"complete","content":[]}"#, r#"{"content":[]}"#] {
            let (outcome, sent) = script(&Handlers::new(), &[result]);
            assert_eq!(outcome.unwrap(), result);
            assert_eq!(sent, vec![r#"{"arguments":{"a":1},"name":"t"}"#]);
        }
    }

    #[test]
    fn input_requests_are_answered_and_the_state_is_echoed_byte_for_byte() {
        // A state with escapes a re-serialisation would change.
        let state = r#""{\"step\":1,\"e\":\"\u00e9\\/\"}""#;
        let first = format!("{},\"requestState\":{state}}}", &ASK[..ASK.len() - 1]);
        let done = r#"{"resultType":"complete","content":[{"type":"text","text":"ok"}]}"#;
        let (outcome, sent) = script(&confirm(), &[&first, done]);
        assert_eq!(outcome.unwrap(), done);
        assert_eq!(sent.len(), 2);
        let retry: Value = serde_json::from_str(&sent[1]).unwrap();
        assert_eq!(retry["name"], "t");
        assert_eq!(retry["arguments"], json!({"a": 1}));
        assert_eq!(retry["inputResponses"], json!({"confirm": {"action": "accept", "content": {"confirmed": true}}}));
        assert!(sent[1].contains(&format!("\"requestState\":{state}")), "{}", sent[1]);
    }

    #[test]
    fn without_a_state_none_is_sent_and_without_requests_no_responses() {
        let done = r#"{"resultType":"complete"}"#;
        let (outcome, sent) = script(&confirm(), &[ASK, done]);
        assert!(outcome.is_ok());
        assert!(!sent[1].contains("requestState") && sent[1].contains("inputResponses"), "{}", sent[1]);
        let (outcome, sent) = script(&confirm(), &[r#"{"resultType":"input_required","requestState":"s"}"#, done]);
        assert!(outcome.is_ok());
        assert!(!sent[1].contains("inputResponses") && sent[1].contains(r#""requestState":"s""#), "{}", sent[1]);
    }

    #[test]
    fn rounds_are_bounded_and_bad_results_fail_the_call() {
        let (outcome, sent) = script(&confirm(), &[ASK]);
        assert!(outcome.unwrap_err().contains("after 4 rounds"));
        assert_eq!(sent.len(), 4);
        let (outcome, _) = script(&confirm(), &[r#"{"resultType":"later"}"#]);
        assert_eq!(outcome.unwrap_err(), r#"unknown resultType "later""#);
        let (outcome, _) = script(&confirm(), &[r#"{"resultType":"input_required"}"#]);
        assert!(outcome.unwrap_err().contains("neither"));
        let (outcome, _) = script(&confirm(), &[r#"{"resultType":"input_required","requestState":{"a":1}}"#]);
        assert!(outcome.unwrap_err().contains("not a string"));
    }

    #[test]
    fn an_input_request_without_a_handler_fails_the_call_naming_it() {
        let ask_roots = r#"{"resultType":"input_required","inputRequests":{"r":{"method":"roots/list"}}}"#;
        let (outcome, sent) = script(&confirm(), &[ask_roots]);
        let e = outcome.unwrap_err();
        assert!(e.contains(r#""r""#) && e.contains("roots/list") && e.contains("-32601"), "{e}");
        assert_eq!(sent.len(), 1);
    }
}
