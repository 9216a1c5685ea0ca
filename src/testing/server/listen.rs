//! `subscriptions/listen` (the 2026-07-28 wire): an open listen stream, whether its filter asks
//! for a notification, and a notification stamped with its subscription id.

use crossbeam_channel::Sender;
use serde_json::{Value, json};

use crate::jsonrpc::{self, RequestId};

/// One open `subscriptions/listen` stream: what it asked for, and where its messages go.
#[derive(Clone)]
pub(super) struct Listen {
    /// The listen request's `notifications` filter.
    pub(super) filter: Value,
    /// Notifications to send (`Some`), or the end of the subscription: `None` ends it
    /// gracefully (the response), a dropped sender abruptly.
    pub(super) tx: Sender<Option<Vec<u8>>>,
    /// The listen request's id: every message carries it as `subscriptionId`.
    pub(super) id: RequestId,
}

/// Whether a subscription with `filter` asked for notification `method` (with `params`), as
/// `subscriptions/listen` defines it.
pub(crate) fn wants(filter: &Value, method: &str, params: Option<&Value>) -> bool {
    let flag = |k: &str| filter.get(k).and_then(Value::as_bool) == Some(true);
    match method {
        "notifications/tools/list_changed" => flag("toolsListChanged"),
        "notifications/prompts/list_changed" => flag("promptsListChanged"),
        "notifications/resources/list_changed" => flag("resourcesListChanged"),
        "notifications/resources/updated" => listed(filter, "resourceSubscriptions", params, "uri"),
        "notifications/tasks" => listed(filter, "taskIds", params, "taskId"),
        _ => false,
    }
}

/// Whether `params[field]` is in the filter's list `key`.
fn listed(filter: &Value, key: &str, params: Option<&Value>, field: &str) -> bool {
    let value = params.and_then(|p| p.get(field)).and_then(Value::as_str);
    let subscribed = filter.get(key).and_then(Value::as_array);
    value.is_some_and(|v| subscribed.is_some_and(|s| s.iter().any(|x| x.as_str() == Some(v))))
}

/// A notification on subscription `id`: `params._meta` carries its `subscriptionId`.
pub(crate) fn on_subscription(id: &RequestId, method: &str, params: Option<&Value>) -> Vec<u8> {
    let mut params = match params {
        Some(Value::Object(m)) => m.clone(),
        _ => serde_json::Map::new(),
    };
    let meta = params.entry("_meta").or_insert_with(|| json!({}));
    if let Value::Object(meta) = meta {
        meta.insert("io.modelcontextprotocol/subscriptionId".into(), json!(id));
    }
    jsonrpc::encode_notification(method, Some(&Value::Object(params)))
}
