//! The protected endpoints: `POST /mcp` and the legacy `GET /sse` + `POST /messages`, which
//! answer a minimal MCP server's requests with a valid bearer token, 401 without one, and 403
//! `insufficient_scope` when a method needs a scope the token lacks.

use std::time::Instant;

use super::connection::{Reply, json, parse_pairs};
use super::record::{Recorded, State};
use super::{PrmAt, Shared, discovery};
use crate::testing::http::Request;

/// The answer of a protected endpoint to `request` (recorded as `recorded`). `foreign_grant`:
/// the scope of a token of the authorization server this one moved to.
pub(super) fn answer(
    shared: &Shared,
    request: &Request,
    state: &mut State,
    recorded: &Recorded,
    foreign_grant: Option<String>,
) -> Reply {
    let o = &shared.opts;
    let base = &shared.base;
    let path = request.path().to_string();
    let query = request.target.split_once('?').map_or("", |(_, q)| q);
    let body = String::from_utf8_lossy(&request.body).into_owned();
    let (_, path_prm) = discovery::resource_of(&path);
    let www = |error: &str, scope: Option<&str>| {
        let mut v = format!("Bearer error=\"{error}\"");
        if let Some(s) = scope {
            v.push_str(&format!(", scope=\"{s}\""));
        }
        if matches!(o.prm, PrmAt::PathAndHeader) {
            v.push_str(&format!(", resource_metadata=\"{base}{path_prm}\""));
        }
        if matches!(o.prm, PrmAt::Custom) {
            v.push_str(&format!(", resource_metadata=\"{base}/custom/metadata.json\""));
        }
        v
    };
    let token = recorded.authorization.as_deref().and_then(|a| a.strip_prefix("Bearer ")).unwrap_or("");
    let granted = match state.access.get(token) {
        _ if foreign_grant.is_some() => foreign_grant.clone().unwrap_or_default(),
        Some((until, scope)) if Instant::now() < *until => scope.clone(),
        _ => {
            return (
                401,
                vec![("www-authenticate", www("invalid_token", o.challenge_scope.as_deref()))],
                String::new(),
            );
        }
    };
    let message: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let method = message["method"].as_str().unwrap_or("");
    if let Some((_, needed)) = o.method_scopes.iter().find(|(m, _)| m == method)
        && !granted.split(' ').any(|s| s == needed)
    {
        return (403, vec![("www-authenticate", www("insufficient_scope", Some(needed)))], String::new());
    }
    if path == "/sse" && request.method != "GET" {
        // Behind the authorization, like a real server's middleware: a Streamable HTTP
        // probe gets 401 first, then this.
        return (405, vec![("allow", "GET".into())], String::new());
    }
    state.served += 1;
    if path == "/sse" {
        // A new legacy session: its stream is taken by this connection (see `serve`).
        state.counter += 1;
        let id = state.counter;
        let (tx, rx) = crossbeam_channel::unbounded();
        state.sse.insert(id, tx);
        state.sse_streams.insert(id, rx);
        return (200, vec![], id.to_string());
    }
    let sse_session = (path == "/messages").then(|| {
        let id: u64 =
            parse_pairs(query).into_iter().find(|(k, _)| k == "session").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
        state.sse.get(&id).cloned()
    });
    if let Some(None) = sse_session {
        return (404, vec![], "no such session".into());
    }
    if message.get("id").is_none() {
        return (202, vec![], String::new()); // a notification
    }
    let result = match method {
        "initialize" => serde_json::json!({
            "protocolVersion": message["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "guarded", "version": "1"},
        }),
        "tools/list" => serde_json::json!({"tools": [{"name": "whoami", "inputSchema": {"type": "object"}}]}),
        "tools/call" => serde_json::json!({"content": [{"type": "text", "text": format!("scope: {granted}")}]}),
        _ => serde_json::json!({"method": method, "scope": granted}),
    };
    let reply = serde_json::json!({"jsonrpc": "2.0", "id": message["id"], "result": result});
    match sse_session {
        Some(Some(tx)) => {
            let _ = tx.send(reply.to_string());
            (202, vec![], String::new())
        }
        _ => json(200, reply),
    }
}
