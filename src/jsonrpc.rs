//! JSON-RPC 2.0 messages: encoding (compact) and decoding (strict about the envelope, lazy about
//! the payload: `params` and `result` stay raw JSON until the caller parses them into the type it
//! expects, so a large result is parsed once).

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A JSON-RPC request id: a number or a string.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum RequestId {
    /// A numeric id (we send these).
    Number(i64),
    /// A string id (servers may send these).
    String(String),
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestId::Number(n) => write!(f, "{n}"),
            RequestId::String(s) => write!(f, "{s:?}"),
        }
    }
}

/// A JSON-RPC error object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct RpcError {
    pub code: i64,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

/// Standard error codes.
pub(crate) const METHOD_NOT_FOUND: i64 = -32601;
pub(crate) const INVALID_PARAMS: i64 = -32602;
#[cfg_attr(not(feature = "testing"), allow(dead_code))] // reason: only the test server answers parse errors
pub(crate) const PARSE_ERROR: i64 = -32700;

/// One decoded message.
#[derive(Debug)]
#[cfg_attr(not(feature = "testing"), allow(dead_code))] // reason: the client ignores a request's params; the test server reads them
pub(crate) enum Message {
    Request {
        id: RequestId,
        method: String,
        params: Option<Box<RawValue>>,
    },
    Notification {
        method: String,
        params: Option<Box<RawValue>>,
    },
    /// `id` is `None` for a response to something the peer could not parse (`"id": null`).
    Response {
        id: Option<RequestId>,
        result: Result<Box<RawValue>, RpcError>,
    },
}

/// Why a text is not a JSON-RPC 2.0 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(borrow)]
    jsonrpc: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "present")]
    id: Option<Option<RequestId>>,
    method: Option<String>,
    params: Option<Box<RawValue>>,
    /// Present, even as `null` (a valid result), or absent.
    #[serde(default, deserialize_with = "present_raw")]
    result: Option<Box<RawValue>>,
    error: Option<RpcError>,
}

/// Keeps a present `"result": null` as the raw `null` instead of reading it as absent.
fn present_raw<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Box<RawValue>>, D::Error> {
    Box::<RawValue>::deserialize(d).map(Some)
}

/// Tells a present `"id": null` (Some(None)) from an absent id (None).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<RequestId>>, D::Error> {
    Option::<RequestId>::deserialize(d).map(Some)
}

/// Decodes one message, or a batch (a JSON array of messages, allowed by protocol 2025-03-26).
/// A bad item of a batch is reported by itself and does not cost the others.
pub(crate) fn decode(text: &str) -> Result<Vec<Result<Message, DecodeError>>, DecodeError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        let items: Vec<Box<RawValue>> =
            serde_json::from_str(text).map_err(|e| DecodeError(format!("invalid JSON: {e}")))?;
        if items.is_empty() {
            return Err(DecodeError("empty batch".into()));
        }
        return Ok(items.iter().map(|raw| decode_one(raw.get())).collect());
    }
    decode_one(text).map(|m| vec![Ok(m)])
}

fn decode_one(text: &str) -> Result<Message, DecodeError> {
    let wire: Wire<'_> = serde_json::from_str(text).map_err(|e| DecodeError(format!("invalid JSON-RPC: {e}")))?;
    match wire.jsonrpc.as_deref() {
        Some("2.0") => {}
        Some(other) => return Err(DecodeError(format!("unsupported jsonrpc version {other:?}"))),
        None => return Err(DecodeError("missing \"jsonrpc\": \"2.0\"".into())),
    }
    if let Some(method) = wire.method {
        if wire.result.is_some() || wire.error.is_some() {
            return Err(DecodeError("a message with a method cannot carry result or error".into()));
        }
        return Ok(match wire.id {
            Some(Some(id)) => Message::Request { id, method, params: wire.params },
            Some(None) => return Err(DecodeError("a request id cannot be null".into())),
            None => Message::Notification { method, params: wire.params },
        });
    }
    let id = match wire.id {
        Some(id) => id,
        None => return Err(DecodeError("neither a method nor an id: not a JSON-RPC message".into())),
    };
    match (wire.result, wire.error) {
        (Some(result), None) => Ok(Message::Response { id, result: Ok(result) }),
        (None, Some(error)) => Ok(Message::Response { id, result: Err(error) }),
        (Some(_), Some(_)) => Err(DecodeError("a response cannot carry both result and error".into())),
        (None, None) => Err(DecodeError("a response needs a result or an error".into())),
    }
}

#[derive(Serialize)]
struct OutRequest<'a, P: Serialize> {
    jsonrpc: &'static str,
    id: &'a RequestId,
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<&'a P>,
}

#[derive(Serialize)]
struct OutNotification<'a, P: Serialize> {
    jsonrpc: &'static str,
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<&'a P>,
}

#[derive(Serialize)]
struct OutResponse<'a> {
    jsonrpc: &'static str,
    id: &'a RequestId,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a RpcError>,
}

/// A request as compact JSON bytes.
pub(crate) fn encode_request<P: Serialize>(id: &RequestId, method: &str, params: Option<&P>) -> Vec<u8> {
    to_vec(&OutRequest { jsonrpc: "2.0", id, method, params })
}

/// A notification as compact JSON bytes.
pub(crate) fn encode_notification<P: Serialize>(method: &str, params: Option<&P>) -> Vec<u8> {
    to_vec(&OutNotification { jsonrpc: "2.0", method, params })
}

/// A response as compact JSON bytes.
pub(crate) fn encode_response(id: &RequestId, result: Result<&serde_json::Value, &RpcError>) -> Vec<u8> {
    let (result, error) = match result {
        Ok(v) => (Some(v), None),
        Err(e) => (None, Some(e)),
    };
    to_vec(&OutResponse { jsonrpc: "2.0", id, result, error })
}

fn to_vec<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing these plain structs (strings, numbers, serde_json values) cannot fail.
    serde_json::to_vec(value).unwrap_or_else(|e| unreachable!("JSON-RPC encoding failed: {e}"))
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(text: &str) -> Message {
        let mut v = decode(text).expect(text);
        assert_eq!(v.len(), 1);
        v.remove(0).expect(text)
    }

    #[test]
    fn decodes_requests_notifications_and_responses() {
        match one(r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#) {
            Message::Request { id, method, params } => {
                assert_eq!(id, RequestId::Number(7));
                assert_eq!(method, "ping");
                assert!(params.is_none());
            }
            m => panic!("{m:?}"),
        }
        match one(r#"{"jsonrpc":"2.0","id":"a-1","method":"roots/list","params":{}}"#) {
            Message::Request { id, .. } => assert_eq!(id, RequestId::String("a-1".into())),
            m => panic!("{m:?}"),
        }
        match one(r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"hi"}}"#) {
            Message::Notification { method, params } => {
                assert_eq!(method, "notifications/message");
                assert_eq!(params.unwrap().get(), r#"{"level":"info","data":"hi"}"#);
            }
            m => panic!("{m:?}"),
        }
        match one(r#"{"jsonrpc":"2.0","id":3,"result":{"a":[1,2]}}"#) {
            Message::Response { id, result } => {
                assert_eq!(id, Some(RequestId::Number(3)));
                assert_eq!(result.unwrap().get(), r#"{"a":[1,2]}"#);
            }
            m => panic!("{m:?}"),
        }
        match one(r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"#) {
            Message::Response { id, result } => {
                assert_eq!(id, None);
                let e = result.unwrap_err();
                assert_eq!(e.code, PARSE_ERROR);
                assert_eq!(e.message, "Parse error");
            }
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn decodes_a_batch() {
        let v = decode(r#"[{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","method":"x"},{"id":3}]"#).unwrap();
        assert_eq!(v.len(), 3);
        assert!(matches!(v[0], Ok(Message::Response { .. })));
        assert!(matches!(v[1], Ok(Message::Notification { .. })));
        assert!(v[2].as_ref().unwrap_err().0.contains("missing \"jsonrpc\""));
    }

    #[test]
    fn rejects_what_is_not_json_rpc_2() {
        match one(r#"{"jsonrpc":"2.0","id":4,"result":null}"#) {
            Message::Response { result: Ok(raw), .. } => assert_eq!(raw.get(), "null"),
            m => panic!("a null result is a result: {m:?}"),
        }
        for (text, why) in [
            ("not json", "invalid JSON-RPC"),
            (r#"{"id":1,"result":{}}"#, "missing \"jsonrpc\""),
            (r#"{"jsonrpc":"1.0","id":1,"result":{}}"#, "unsupported jsonrpc version"),
            (r#"{"jsonrpc":"2.0"}"#, "neither a method nor an id"),
            (r#"{"jsonrpc":"2.0","id":1}"#, "needs a result or an error"),
            (r#"{"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":"x"}}"#, "both result and error"),
            (r#"{"jsonrpc":"2.0","id":null,"method":"x"}"#, "cannot be null"),
            (r#"{"jsonrpc":"2.0","id":1.5,"result":{}}"#, "invalid JSON-RPC"),
            (r#"{"jsonrpc":"2.0","id":{},"result":{}}"#, "invalid JSON-RPC"),
            ("[]", "empty batch"),
            (r#"{"jsonrpc":"2.0","id":1,"method":"m","result":{}}"#, "cannot carry result"),
        ] {
            let err = match decode(text) {
                Err(e) => e,
                Ok(mut v) => v.remove(0).expect_err(text),
            };
            assert!(err.0.contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn encodes_compactly() {
        let bytes = encode_request(&RequestId::Number(1), "resources/read", Some(&json!({"uri": "a://b"})));
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"a://b"}}"#
        );
        let bytes = encode_notification::<()>("notifications/initialized", None);
        assert_eq!(std::str::from_utf8(&bytes).unwrap(), r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        let bytes = encode_response(&RequestId::String("s".into()), Ok(&json!({})));
        assert_eq!(std::str::from_utf8(&bytes).unwrap(), r#"{"jsonrpc":"2.0","id":"s","result":{}}"#);
        let err = RpcError { code: METHOD_NOT_FOUND, message: "Method not found".into(), data: None };
        let bytes = encode_response(&RequestId::Number(9), Err(&err));
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"jsonrpc":"2.0","id":9,"error":{"code":-32601,"message":"Method not found"}}"#
        );
    }

    #[test]
    fn round_trips() {
        let bytes = encode_request(&RequestId::String("x".into()), "tools/call", Some(&json!({"name":"t"})));
        match one(std::str::from_utf8(&bytes).unwrap()) {
            Message::Request { id, method, params } => {
                assert_eq!(id, RequestId::String("x".into()));
                assert_eq!(method, "tools/call");
                assert_eq!(params.unwrap().get(), r#"{"name":"t"}"#);
            }
            m => panic!("{m:?}"),
        }
    }
}
