//! Property tests of the JSON-RPC decoder on arbitrary text, arbitrary JSON and arbitrary
//! messages: it never panics, and what we encode it decodes back.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::{Message, RequestId, decode, encode_notification, encode_request};

/// Arbitrary JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("jsonrpc".to_string()),
                    Just("id".to_string()),
                    Just("method".to_string()),
                    Just("params".to_string()),
                    Just("result".to_string()),
                    Just("error".to_string()),
                    ".{0,6}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn request_id() -> impl Strategy<Value = RequestId> {
    prop_oneof![any::<i64>().prop_map(RequestId::Number), ".{0,16}".prop_map(RequestId::String)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}") {
        let _ = decode(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_json_never_panics(value in json_value(), jsonrpc in any::<bool>()) {
        // Half the time, make it look like JSON-RPC to get past the first checks.
        let value = match (value, jsonrpc) {
            (Value::Object(mut m), true) => {
                m.insert("jsonrpc".into(), json!("2.0"));
                Value::Object(m)
            }
            (v, _) => v,
        };
        let _ = decode(&value.to_string());
        let _ = decode(&Value::Array(vec![value.clone(), value]).to_string());
    }

    #[test]
    fn requests_and_notifications_round_trip(
        id in request_id(),
        method in ".{1,30}",
        params in proptest::option::of(json_value()),
    ) {
        let text = String::from_utf8(encode_request(&id, &method, params.as_ref())).unwrap();
        match decode(&text).unwrap().remove(0).unwrap() {
            Message::Request { id: got, method: m, params: p } => {
                prop_assert_eq!(got, id);
                prop_assert_eq!(m, method.clone());
                // Compared as text: floats need not survive a parse (serde_json's default).
                let p = p.map(|p| p.get().to_string());
                // `"params": null` reads as no params.
                prop_assert_eq!(p, params.as_ref().filter(|v| !v.is_null()).map(Value::to_string));
            }
            other => prop_assert!(false, "{other:?}"),
        }
        let text = String::from_utf8(encode_notification(&method, params.as_ref())).unwrap();
        let is_notification = matches!(decode(&text).unwrap().remove(0).unwrap(), Message::Notification { .. });
        prop_assert!(is_notification);
    }
}

/// Deep nesting does not overflow the stack: a deep batch item is an error; deep params and
/// results stay raw (they are typed later, and typing them is an error, not a crash).
#[test]
fn deep_nesting_is_never_a_crash() {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let batch = decode(&deep(100_000));
    assert!(batch.is_err() || batch.is_ok_and(|items| items.iter().all(Result::is_err)));
    let in_params = format!(r#"{{"jsonrpc":"2.0","method":"x","params":{}}}"#, deep(100_000));
    match decode(&in_params).map(|mut v| v.remove(0)) {
        Ok(Ok(Message::Notification { params: Some(p), .. })) => {
            assert!(serde_json::from_str::<Value>(p.get()).is_err());
        }
        other => assert!(other.is_err() || other.is_ok_and(|m| m.is_err())),
    }
    let in_result = format!(r#"{{"jsonrpc":"2.0","id":1,"result":{}}}"#, deep(100_000));
    let _ = decode(&in_result);
}
