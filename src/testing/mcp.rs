//! The MCP methods the test server answers: pure functions from a request to a result.

use std::panic::{AssertUnwindSafe, catch_unwind};

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::{Fault, Spec};
use crate::jsonrpc::{INVALID_PARAMS, METHOD_NOT_FOUND, RpcError};
use crate::protocol::{
    CallToolResult, Content, GetPromptResult, Implementation, InitializeResult, ListChangedCapability,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PromptMessage,
    ReadResourceResult, ResourcesCapability, SUPPORTED_PROTOCOL_VERSIONS, ServerCapabilities,
};

/// The error MCP recommends for an unknown resource.
pub(crate) const RESOURCE_NOT_FOUND: i64 = -32002;
/// The 2026-07-28 wire's "missing required client capability".
const MISSING_CAPABILITY: i64 = -32021;
/// JSON-RPC's internal error.
const INTERNAL_ERROR: i64 = -32603;

fn error(code: i64, message: impl Into<String>, data: Option<Value>) -> RpcError {
    RpcError { code, message: message.into(), data }
}

fn to_value<T: Serialize>(value: &T) -> Result<Value, RpcError> {
    serde_json::to_value(value).map_err(|e| error(INTERNAL_ERROR, format!("cannot encode result: {e}"), None))
}

/// The params as a JSON value (`{}` when absent), or an invalid-params error.
fn params_value(params: Option<&RawValue>) -> Result<Value, RpcError> {
    match params {
        None => Ok(json!({})),
        Some(raw) => match serde_json::from_str::<Value>(raw.get()) {
            Ok(v @ Value::Object(_)) => Ok(v),
            Ok(Value::Null) => Ok(json!({})),
            Ok(_) => Err(error(INVALID_PARAMS, "Invalid params: expected an object", None)),
            Err(e) => Err(error(INVALID_PARAMS, format!("Invalid params: {e}"), None)),
        },
    }
}

/// Answers one request.
pub(crate) fn answer(spec: &Spec, method: &str, params: Option<&RawValue>) -> Result<Value, RpcError> {
    let params = params_value(params)?;
    if let (Some(n), "resources/list") = (spec.endless_pages(), method) {
        return endless_page(n, &params);
    }
    match method {
        "initialize" => initialize(spec, &params),
        "ping" => Ok(json!({})),
        "resources/list" => {
            let (resources, next_cursor) = page(spec, "resources", &spec.resources, &params)?;
            to_value(&ListResourcesResult { resources, next_cursor })
        }
        "resources/templates/list" => {
            let (resource_templates, next_cursor) = page(spec, "templates", &spec.templates, &params)?;
            to_value(&ListResourceTemplatesResult { resource_templates, next_cursor })
        }
        "tools/list" if spec.lists_no_tools() => to_value(&ListToolsResult { tools: Vec::new(), next_cursor: None }),
        "tools/list" => {
            let (mut tools, next_cursor) = page(spec, "tools", &spec.tools, &params)?;
            // A task tool says so (2025-11-25), unless it declares its own `execution`.
            for t in tools.iter_mut().filter(|t| t.execution.is_none() && spec.task_tools.contains_key(&t.name)) {
                t.execution = Some(json!({"taskSupport": "optional"}));
            }
            to_value(&ListToolsResult { tools, next_cursor })
        }
        "prompts/list" => {
            let prompts: Vec<_> = spec.prompts.iter().map(|(p, _)| p.clone()).collect();
            let (prompts, next_cursor) = page(spec, "prompts", &prompts, &params)?;
            to_value(&ListPromptsResult { prompts, next_cursor })
        }
        "prompts/get" => get_prompt(spec, &params),
        "resources/read" => read(spec, &params),
        "tools/call" if super::tasks::makes_task(spec, &params, false) => super::tasks::create(spec, &params, false),
        "tools/call" => call(spec, &params),
        "tasks/get" | "tasks/result" | "tasks/cancel" if !spec.task_tools.is_empty() => {
            super::tasks::answer(spec, method, &params, false)
        }
        "logging/setLevel" if spec.logging => Ok(json!({})),
        _ => Err(error(METHOD_NOT_FOUND, "Method not found", Some(json!({"method": method})))),
    }
}

/// The version of the 2026-07-28 wire the test server speaks.
pub(crate) const MODERN: &str = "2026-07-28";
const UNSUPPORTED_VERSION: i64 = -32022;
const HEADER_MISMATCH: i64 = -32020;

/// Whether a request's params carry the 2026-07-28 envelope.
/// The `notifications/progress` a request asking for progress (`_meta.progressToken`) gets
/// before its answer: three, `{progressToken, progress: 1..=3, total: 3, message: "working"}`.
pub(crate) fn progress_for(params: Option<&RawValue>) -> Vec<Vec<u8>> {
    let Some(params) = params.and_then(|p| serde_json::from_str::<Value>(p.get()).ok()) else { return Vec::new() };
    let Some(token) = params.get("_meta").and_then(|m| m.get("progressToken")) else { return Vec::new() };
    (1..=3)
        .map(|i| {
            let progress = json!({"progressToken": token, "progress": i, "total": 3, "message": "working"});
            crate::jsonrpc::encode_notification("notifications/progress", Some(&progress))
        })
        .collect()
}

pub(crate) fn is_enveloped(params: Option<&RawValue>) -> bool {
    params
        .and_then(|p| serde_json::from_str::<Value>(p.get()).ok())
        .is_some_and(|p| p.get("_meta").and_then(|m| m.get(META_VERSION)).is_some())
}

const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";

/// A `-32022` for a request that is not on the 2026-07-28 wire (a modern-only server).
pub(crate) fn unsupported_version(requested: Option<&str>) -> RpcError {
    error(
        UNSUPPORTED_VERSION,
        "Unsupported protocol version",
        Some(json!({"supported": [MODERN], "requested": requested})),
    )
}

/// A request's header by (case-insensitive) name.
pub(crate) type HeaderLookup<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// Answers a request on the 2026-07-28 wire: checks the envelope and, over HTTP (`header`
/// given), the routing headers as the spec says, then answers. Returns the HTTP status too.
pub(crate) fn answer_modern(
    spec: &Spec,
    method: &str,
    raw: Option<&RawValue>,
    header: Option<&HeaderLookup<'_>>,
    param_headers: &[(String, String)],
) -> (u16, Result<Value, RpcError>) {
    let params = match params_value(raw) {
        Ok(p) => p,
        Err(e) => return (400, Err(e)),
    };
    let meta = params.get("_meta");
    let version = meta.and_then(|m| m.get(META_VERSION)).and_then(Value::as_str);
    let Some(version) = version.filter(|_| meta.is_some_and(|m| m.get(META_CAPABILITIES).is_some())) else {
        return (400, Err(error(INVALID_PARAMS, "Missing _meta protocolVersion or clientCapabilities", None)));
    };
    if let Some(header) = header {
        let mismatch = |what: &str| (400, Err(error(HEADER_MISMATCH, format!("Header mismatch: {what}"), None)));
        if header("mcp-protocol-version").as_deref() != Some(version) {
            return mismatch("MCP-Protocol-Version");
        }
        if header("mcp-method").as_deref() != Some(method) {
            return mismatch("Mcp-Method");
        }
        let name = match method {
            "tools/call" | "prompts/get" => params.get("name").and_then(Value::as_str),
            "resources/read" => params.get("uri").and_then(Value::as_str),
            "tasks/get" | "tasks/update" | "tasks/cancel" => params.get("taskId").and_then(Value::as_str),
            _ => None,
        };
        if let Some(name) = name
            && header("mcp-name").map(|v| decode_header_value(&v)) != Some(name.to_string())
        {
            return mismatch("Mcp-Name");
        }
        if method == "tools/call" {
            let tool = spec.tools.iter().find(|t| Some(t.name.as_str()) == name);
            let expected = tool
                .and_then(|t| crate::protocol::modern::param_headers(&t.input_schema).ok())
                .map(|h| {
                    crate::protocol::modern::param_header_values(&h, params.get("arguments").unwrap_or(&Value::Null))
                })
                .unwrap_or_default();
            let lower = |v: &[(String, String)]| {
                let mut v: Vec<(String, String)> = v.iter().map(|(k, x)| (k.to_ascii_lowercase(), x.clone())).collect();
                v.sort();
                v
            };
            if lower(&expected) != lower(param_headers) {
                return mismatch("Mcp-Param-*");
            }
        }
    }
    if version != MODERN {
        return (400, Err(unsupported_version(Some(version))));
    }
    if let Some(required) = spec.required_capabilities(method) {
        let data = json!({"requiredCapabilities": serde_json::from_str::<Value>(required).unwrap_or(Value::Null)});
        return (400, Err(error(MISSING_CAPABILITY, "Missing required client capability", Some(data))));
    }
    let result = match method {
        "server/discover" => to_value(&json!({
            "supportedVersions": [MODERN],
            "capabilities": modern_capabilities(spec),
            "instructions": spec.instructions,
            "ttlMs": 0,
            "cacheScope": "private",
            "_meta": {"io.modelcontextprotocol/serverInfo": {"name": spec.name, "version": spec.version, "icons": spec.icons}},
        })),
        // The subscription itself is the transport's (an event stream, or stdout); this is
        // its graceful end.
        "subscriptions/listen" => Ok(json!({})),
        "initialize" | "ping" | "notifications/initialized" => {
            Err(error(METHOD_NOT_FOUND, "Method not found", Some(json!({"method": method}))))
        }
        "tools/call" if super::tasks::makes_task(spec, &params, true) => super::tasks::create(spec, &params, true),
        "tasks/get" | "tasks/update" | "tasks/cancel" if !spec.task_tools.is_empty() => {
            super::tasks::answer(spec, method, &params, true)
        }
        "resources/read" => match read(spec, &params) {
            Err(e) if e.code == RESOURCE_NOT_FOUND => {
                Err(error(INVALID_PARAMS, "Resource not found", Some(json!({"uri": params.get("uri")}))))
            }
            other => other,
        },
        _ => answer(spec, method, raw),
    };
    match result {
        Ok(Value::Object(mut m)) => {
            // A created task keeps its `resultType: "task"`.
            m.entry("resultType").or_insert_with(|| json!("complete"));
            if let Some((ttl_ms, scope)) = spec.cache_hints.as_ref().filter(|_| is_cacheable(method)) {
                m.insert("ttlMs".into(), json!(ttl_ms));
                m.insert("cacheScope".into(), json!(scope));
            }
            (200, Ok(Value::Object(m)))
        }
        Ok(other) => (200, Ok(other)),
        Err(e) if e.code == METHOD_NOT_FOUND => (404, Err(e)),
        Err(e) if e.code == INVALID_PARAMS => (400, Err(e)),
        Err(e) => (200, Err(e)),
    }
}

/// Decodes a header value in the spec's `=?base64?…?=` form (anything else is plain).
fn decode_header_value(v: &str) -> String {
    let Some(b64) = v.strip_prefix("=?base64?").and_then(|r| r.strip_suffix("?=")) else { return v.to_string() };
    super::base64::decode(b64).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_else(|| v.to_string())
}

/// Whether the 2026-07-28 wire's results of `method` carry cache hints.
fn is_cacheable(method: &str) -> bool {
    matches!(
        method,
        "server/discover"
            | "tools/list"
            | "prompts/list"
            | "resources/list"
            | "resources/templates/list"
            | "resources/read"
    )
}

/// What the modern wire advertises: every list may change (`subscriptions/listen` is served,
/// [`crate::testing::TestServer::notify`] sends the changes) and resources may be subscribed.
fn modern_capabilities(spec: &Spec) -> ServerCapabilities {
    let tasks = !spec.task_tools.is_empty();
    ServerCapabilities {
        extensions: tasks.then(|| json!({ crate::protocol::tasks::EXTENSION: {} })),
        logging: spec.logging.then(|| json!({})),
        resources: Some(ResourcesCapability { subscribe: Some(true), list_changed: Some(true) }),
        tools: spec.offers_tools().then_some(ListChangedCapability { list_changed: Some(true) }),
        prompts: Some(ListChangedCapability { list_changed: Some(true) }),
        ..ServerCapabilities::default()
    }
}

/// The part of a `subscriptions/listen` filter the test server honours: the three list kinds,
/// `resourceSubscriptions` and (with task tools) `taskIds`, as asked (everything it advertises
/// on the modern wire).
pub(crate) fn honoured(asked: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for key in ["toolsListChanged", "promptsListChanged", "resourcesListChanged"] {
        if asked.get(key).and_then(Value::as_bool) == Some(true) {
            out.insert(key.into(), json!(true));
        }
    }
    for key in ["resourceSubscriptions", "taskIds"] {
        if let Some(values) = asked.get(key).filter(|u| u.is_array()) {
            out.insert(key.into(), values.clone());
        }
    }
    Value::Object(out)
}

fn capabilities(spec: &Spec) -> ServerCapabilities {
    let tasks = !spec.task_tools.is_empty();
    ServerCapabilities {
        tasks: tasks.then(|| json!({"cancel": {}, "requests": {"tools": {"call": {}}}})),
        logging: spec.logging.then(|| json!({})),
        resources: Some(ResourcesCapability { subscribe: Some(false), list_changed: Some(true) }),
        tools: spec.offers_tools().then_some(ListChangedCapability { list_changed: Some(false) }),
        prompts: Some(ListChangedCapability { list_changed: Some(false) }),
        ..ServerCapabilities::default()
    }
}

fn initialize(spec: &Spec, params: &Value) -> Result<Value, RpcError> {
    let asked = params.get("protocolVersion").and_then(Value::as_str);
    let version = match asked {
        Some(v) if SUPPORTED_PROTOCOL_VERSIONS.contains(&v) => v,
        _ => SUPPORTED_PROTOCOL_VERSIONS[0],
    };
    to_value(&InitializeResult {
        protocol_version: version.to_string(),
        capabilities: capabilities(spec),
        server_info: Implementation {
            name: spec.name.clone(),
            version: spec.version.clone(),
            title: None,
            icons: spec.icons.clone(),
        },
        instructions: spec.instructions.clone(),
    })
}

/// A page of [`Fault::EndlessPages`]: one resource of about `n` bytes, and the next cursor.
fn endless_page(n: usize, params: &Value) -> Result<Value, RpcError> {
    let k = params.get("cursor").and_then(Value::as_str).and_then(|c| c.strip_prefix("endless-")?.parse().ok());
    let k: u64 = k.unwrap_or(0);
    let mut resource = super::plain_resource(&format!("test://endless/{k}"), "endless", "text/plain");
    resource.description = Some("x".repeat(n));
    to_value(&ListResourcesResult { resources: vec![resource], next_cursor: Some(format!("endless-{}", k + 1)) })
}

/// An opaque cursor: the list it belongs to and an offset.
fn cursor(kind: &str, offset: usize) -> String {
    format!("{kind}-page-{offset}")
}

fn page<T: Clone>(spec: &Spec, kind: &str, items: &[T], params: &Value) -> Result<(Vec<T>, Option<String>), RpcError> {
    let start = match params.get("cursor") {
        None | Some(Value::Null) => 0,
        Some(Value::String(c)) => c
            .strip_prefix(kind)
            .and_then(|rest| rest.strip_prefix("-page-"))
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| error(INVALID_PARAMS, "Invalid cursor", Some(json!({"cursor": c}))))?,
        Some(_) => return Err(error(INVALID_PARAMS, "Invalid cursor: expected a string", None)),
    };
    let size = spec.page_size.unwrap_or(usize::MAX);
    if spec.has(&Fault::RepeatCursor) {
        let end = size.min(items.len());
        return Ok((items[..end].to_vec(), Some(cursor(kind, 0))));
    }
    let end = start.saturating_add(size).min(items.len());
    let next = (end < items.len()).then(|| cursor(kind, end));
    Ok((items[start..end].to_vec(), next))
}

fn read(spec: &Spec, params: &Value) -> Result<Value, RpcError> {
    let Some(uri) = params.get("uri").and_then(Value::as_str) else {
        return Err(error(INVALID_PARAMS, "Invalid params: uri is required", None));
    };
    match spec.contents.get(uri) {
        Some(contents) => to_value(&ReadResourceResult { contents: contents.clone() }),
        None if spec.templates.iter().any(|t| crate::catalog::match_template(&t.uri_template, uri).is_some()) => {
            let contents = crate::protocol::ResourceContents {
                uri: uri.to_string(),
                mime_type: Some("text/plain".into()),
                body: crate::protocol::ContentsBody::Text(format!("{}:{uri}", spec.name)),
                meta: None,
            };
            to_value(&ReadResourceResult { contents: vec![contents] })
        }
        None => Err(error(RESOURCE_NOT_FOUND, "Resource not found", Some(json!({"uri": uri})))),
    }
}

fn get_prompt(spec: &Spec, params: &Value) -> Result<Value, RpcError> {
    let Some(name) = params.get("name").and_then(Value::as_str) else {
        return Err(error(INVALID_PARAMS, "Invalid params: name is required", None));
    };
    let Some((prompt, text)) = spec.prompts.iter().find(|(p, _)| p.name == name) else {
        return Err(error(INVALID_PARAMS, format!("Unknown prompt: {name}"), None));
    };
    let mut text = text.clone();
    for arg in &prompt.arguments {
        let Some(value) = params.get("arguments").and_then(|a| a.get(&arg.name)).and_then(Value::as_str) else {
            return Err(error(INVALID_PARAMS, format!("Missing required argument: {}", arg.name), None));
        };
        text = text.replace(&format!("{{{}}}", arg.name), value);
    }
    to_value(&GetPromptResult {
        description: prompt.description.clone(),
        messages: vec![PromptMessage { role: "user".into(), content: Content::Text { text, annotations: None } }],
        meta: None,
    })
}

pub(super) fn call(spec: &Spec, params: &Value) -> Result<Value, RpcError> {
    let Some(name) = params.get("name").and_then(Value::as_str) else {
        return Err(error(INVALID_PARAMS, "Invalid params: name is required", None));
    };
    let Some(handler) = spec.handlers.get(name) else {
        return Err(error(INVALID_PARAMS, format!("Unknown tool: {name}"), None));
    };
    let arguments = match params.get("arguments") {
        None | Some(Value::Null) => json!({}),
        Some(a) => a.clone(),
    };
    // The handler is the user's code: a panic becomes a tool error, not a dead connection.
    let outcome = catch_unwind(AssertUnwindSafe(|| handler(&arguments))).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(format!("tool `{name}` panicked: {message}"))
    });
    let result = match outcome {
        Ok(result) => result,
        Err(message) => CallToolResult {
            content: vec![Content::Text { text: message, annotations: None }],
            structured_content: None,
            is_error: true,
            meta: None,
        },
    };
    to_value(&result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestServer, text_result};

    fn raw(v: Value) -> Box<RawValue> {
        RawValue::from_string(v.to_string()).unwrap()
    }

    fn spec(b: crate::testing::TestServerBuilder) -> Spec {
        b.spec
    }

    #[test]
    fn negotiates_the_version() {
        let s = spec(TestServer::builder().name("db").version("9"));
        let r = answer(&s, "initialize", Some(&raw(json!({"protocolVersion": "2024-11-05"})))).unwrap();
        assert_eq!(r["protocolVersion"], "2024-11-05");
        assert_eq!(r["serverInfo"], json!({"name": "db", "version": "9"}));
        assert_eq!(r["capabilities"]["resources"], json!({"subscribe": false, "listChanged": true}));
        // The `tools` capability only with tools (or while listing none, warming up).
        assert_eq!(r["capabilities"].get("tools"), None);
        let s = spec(TestServer::builder().simple_tool("t", "a tool", |_| Ok(crate::testing::text_result("t"))));
        let r = answer(&s, "initialize", Some(&raw(json!({"protocolVersion": "2024-11-05"})))).unwrap();
        assert_eq!(r["capabilities"]["tools"], json!({"listChanged": false}));
        let r = answer(&s, "initialize", Some(&raw(json!({"protocolVersion": "1999-01-01"})))).unwrap();
        assert_eq!(r["protocolVersion"], SUPPORTED_PROTOCOL_VERSIONS[0]);
    }

    #[test]
    fn pages_with_cursors_and_rejects_bad_ones() {
        let s = spec(TestServer::builder().with_sample_resources(5).page_size(2));
        let mut cursor: Option<String> = None;
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let params = match &cursor {
                Some(c) => json!({"cursor": c}),
                None => json!({}),
            };
            let r = answer(&s, "resources/list", Some(&raw(params))).unwrap();
            pages += 1;
            for item in r["resources"].as_array().unwrap() {
                seen.push(item["uri"].as_str().unwrap().to_string());
            }
            match r.get("nextCursor") {
                Some(Value::String(c)) => cursor = Some(c.clone()),
                None => break,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, (0..5).map(|i| format!("test://resource/{i}")).collect::<Vec<_>>());
        for bad in [json!({"cursor": "tools-page-2"}), json!({"cursor": "resources-page-99"}), json!({"cursor": 3})] {
            let e = answer(&s, "resources/list", Some(&raw(bad))).unwrap_err();
            assert_eq!(e.code, INVALID_PARAMS);
        }
    }

    #[test]
    fn reads_calls_and_refuses() {
        let s = spec(
            TestServer::builder()
                .blob_resource("test://blob", "blob", "application/octet-stream", &[0, 1, 2])
                .simple_tool("echo", "echoes", |args| Ok(text_result(args.to_string())))
                .simple_tool("fail", "fails", |_| Err("no such table".into()))
                .simple_tool("boom", "panics", |_| panic!("kaboom")),
        );
        let r = answer(&s, "resources/read", Some(&raw(json!({"uri": "test://blob"})))).unwrap();
        assert_eq!(r["contents"][0]["blob"], "AAEC");
        let e = answer(&s, "resources/read", Some(&raw(json!({"uri": "test://nope"})))).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (RESOURCE_NOT_FOUND, "Resource not found"));
        let r = answer(&s, "tools/call", Some(&raw(json!({"name": "echo", "arguments": {"a": 1}})))).unwrap();
        assert_eq!(r["content"][0]["text"], r#"{"a":1}"#);
        assert_eq!(r["isError"], false);
        let r = answer(&s, "tools/call", Some(&raw(json!({"name": "echo"})))).unwrap();
        assert_eq!(r["content"][0]["text"], "{}");
        let r = answer(&s, "tools/call", Some(&raw(json!({"name": "fail"})))).unwrap();
        assert_eq!((r["isError"].clone(), r["content"][0]["text"].clone()), (json!(true), json!("no such table")));
        let r = answer(&s, "tools/call", Some(&raw(json!({"name": "boom"})))).unwrap();
        assert!(r["content"][0]["text"].as_str().unwrap().contains("kaboom"), "{r}");
        let e = answer(&s, "tools/call", Some(&raw(json!({"name": "nope"})))).unwrap_err();
        assert_eq!(e.code, INVALID_PARAMS);
        assert_eq!(answer(&s, "roots/list", None).unwrap_err().code, METHOD_NOT_FOUND);
        assert_eq!(answer(&s, "ping", Some(&raw(json!([1])))).unwrap_err().code, INVALID_PARAMS);
        assert_eq!(answer(&s, "ping", None).unwrap(), json!({}));
    }
}
