//! The 2026-07-28 wire: `server/discover`, the request `_meta` envelope, `resultType`, the
//! routing headers (`Mcp-Method`, `Mcp-Name`, `Mcp-Param-*`) with their value encoding, and the
//! `x-mcp-header` rules for tool schemas.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Implementation, ServerCapabilities};

/// The stateless protocol versions this crate speaks, newest first.
pub const MODERN_PROTOCOL_VERSIONS: &[&str] = &["2026-07-28"];

/// Every protocol version this crate speaks, newest first: the 2026-07-28 wire, then the
/// `initialize` handshake era ([`SUPPORTED_PROTOCOL_VERSIONS`](crate::SUPPORTED_PROTOCOL_VERSIONS)).
pub const PROTOCOL_VERSIONS: &[&str] = &["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

pub(crate) const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
pub(crate) const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
pub(crate) const META_CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
pub(crate) const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// `UnsupportedProtocolVersion`: `data.supported` lists what the server speaks.
pub(crate) const UNSUPPORTED_VERSION: i64 = -32022;
/// `MissingRequiredClientCapability`: `data.requiredCapabilities`.
pub(crate) const MISSING_CAPABILITY: i64 = -32021;
/// `HeaderMismatch`: a routing header disagrees with the body.
pub(crate) const HEADER_MISMATCH: i64 = -32020;
/// Resource not found, before 2026-07-28.
pub(crate) const RESOURCE_NOT_FOUND_LEGACY: i64 = -32002;

/// Whether `version` is a 2026-07-28-style (stateless) version we speak.
pub(crate) fn is_modern(version: &str) -> bool {
    MODERN_PROTOCOL_VERSIONS.contains(&version)
}

/// The result of `server/discover`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DiscoverResult {
    /// The protocol versions the server speaks.
    pub supported_versions: Vec<String>,
    /// What the server can do.
    #[serde(default)]
    pub capabilities: ServerCapabilities,
    /// Hints for the model using the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// How long the result stays fresh, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<i64>,
    /// `public` or `private`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_scope: Option<String>,
    /// Some servers put `serverInfo` in the body rather than in `_meta`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_info: Option<Implementation>,
    /// Protocol-reserved metadata (`io.modelcontextprotocol/serverInfo`).
    #[serde(default, rename = "_meta", skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
}

impl DiscoverResult {
    /// How long the answer stays fresh: its `ttlMs` (a negative one counts as 0); `None`
    /// without one.
    pub(crate) fn ttl(&self) -> Option<std::time::Duration> {
        self.ttl_ms.map(|ms| std::time::Duration::from_millis(ms.max(0).unsigned_abs()))
    }

    /// Parses a `server/discover` result; `None` when it is not one (no `supportedVersions`
    /// array of strings: a handshake-era server answering `{}` to an unknown method).
    pub(crate) fn parse(raw: &str) -> Option<DiscoverResult> {
        let value: Value = serde_json::from_str(raw).ok()?;
        let versions = value.get("supportedVersions")?.as_array()?;
        if versions.iter().any(|v| !v.is_string()) {
            return None;
        }
        serde_json::from_value(value).ok()
    }

    /// Who the server is: `_meta`'s `serverInfo`, else the body's, else unnamed.
    pub fn server_info(&self) -> Implementation {
        let from_meta = self
            .meta
            .as_ref()
            .and_then(|m| m.get(META_SERVER_INFO))
            .and_then(|v| serde_json::from_value::<Implementation>(v.clone()).ok());
        from_meta.or_else(|| self.server_info.clone()).unwrap_or(Implementation {
            name: String::new(),
            version: String::new(),
            title: None,
            icons: None,
        })
    }

    /// The newest version both sides speak.
    pub(crate) fn mutual_version(&self) -> Option<&'static str> {
        mutual(&self.supported_versions, MODERN_PROTOCOL_VERSIONS)
    }
}

/// The first of `ours` (newest first) that `theirs` lists.
pub(crate) fn mutual(theirs: &[String], ours: &[&'static str]) -> Option<&'static str> {
    ours.iter().copied().find(|v| theirs.iter().any(|t| t == v))
}

/// The `supported` list of a `-32022` error's `data` (JSON text), if any.
pub(crate) fn supported_versions(data: Option<&str>) -> Vec<String> {
    data.and_then(|d| serde_json::from_str::<Value>(d).ok())
        .and_then(|d| d.get("supported").cloned())
        .and_then(|s| serde_json::from_value::<Vec<String>>(s).ok())
        .unwrap_or_default()
}

/// The `_meta` envelope of a request on the 2026-07-28 wire.
pub(crate) fn envelope(version: &str, capabilities: &Value) -> Map<String, Value> {
    let mut meta = Map::new();
    meta.insert(META_VERSION.into(), Value::String(version.into()));
    meta.insert(META_CAPABILITIES.into(), capabilities.clone());
    meta.insert(
        META_CLIENT_INFO.into(),
        serde_json::json!({ "name": "mcp-orchestrator", "version": env!("CARGO_PKG_VERSION") }),
    );
    meta
}

/// `params` with the envelope (and `extra` keys) merged into its `_meta`; params that are not
/// an object become an empty object (the modern wire never omits params).
pub(crate) fn with_envelope(params: Option<Value>, envelope: Map<String, Value>, extra: &Map<String, Value>) -> Value {
    let mut params = match params {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let meta = params.entry("_meta").or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    if let Value::Object(meta) = meta {
        for (k, v) in extra.iter().chain(envelope.iter()) {
            meta.insert(k.clone(), v.clone());
        }
    }
    Value::Object(params)
}

/// The cache hints of one result on the 2026-07-28 wire (`ttlMs`, `cacheScope`), or of several
/// merged ([`CacheHints::merge`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CacheHints {
    /// The shortest `ttlMs` seen (a negative one counts as 0); `None` when no result had one.
    pub ttl: Option<std::time::Duration>,
    /// Whether any result said `cacheScope: "private"`.
    pub private: bool,
}

impl CacheHints {
    /// The hints of a raw result; results without `ttlMs` or `cacheScope` give none of them.
    pub(crate) fn of(raw: &str) -> CacheHints {
        #[derive(Deserialize)]
        struct Hints {
            #[serde(rename = "ttlMs")]
            ttl_ms: Option<Value>,
            #[serde(rename = "cacheScope")]
            cache_scope: Option<Value>,
        }
        let Ok(h) = serde_json::from_str::<Hints>(raw) else { return CacheHints::default() };
        let ttl = h.ttl_ms.and_then(|v| match v {
            // "If ttlMs is negative, clients SHOULD ignore it and treat it as 0."
            Value::Number(n) if n.as_i64().is_some_and(|n| n < 0) || n.as_f64().is_some_and(|f| f < 0.0) => Some(0),
            Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)),
            _ => None,
        });
        CacheHints {
            ttl: ttl.map(std::time::Duration::from_millis),
            private: h.cache_scope.as_ref().and_then(Value::as_str) == Some("private"),
        }
    }

    /// Both hints at once: the shorter TTL, private if either is.
    pub(crate) fn merge(self, other: CacheHints) -> CacheHints {
        let ttl = match (self.ttl, other.ttl) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        CacheHints { ttl, private: self.private || other.private }
    }
}

/// Whether results of `method` carry cache hints (the spec's cacheable results, less
/// `server/discover`, whose result the orchestrator does not cache).
pub(crate) fn is_cacheable(method: &str) -> bool {
    matches!(method, "tools/list" | "prompts/list" | "resources/list" | "resources/templates/list" | "resources/read")
}

/// What a result's `resultType` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResultKind {
    /// `complete`, or absent.
    Complete,
    /// `input_required`: the server asks for input (multi round-trip requests).
    InputRequired,
    /// `task`: the server made a task of the request (the tasks extension; `tools/call` only).
    Task,
}

/// Reads `resultType`: absent means complete; a value we do not know makes the result invalid.
pub(crate) fn result_kind(raw: &str) -> Result<ResultKind, String> {
    #[derive(Deserialize)]
    struct Head {
        #[serde(rename = "resultType")]
        result_type: Option<Value>,
    }
    let head: Head = match serde_json::from_str(raw) {
        Ok(h) => h,
        Err(_) => return Ok(ResultKind::Complete), // not an object: the shape check reports it
    };
    match head.result_type {
        None => Ok(ResultKind::Complete),
        Some(Value::String(s)) if s == "complete" => Ok(ResultKind::Complete),
        Some(Value::String(s)) if s == "input_required" => Ok(ResultKind::InputRequired),
        Some(Value::String(s)) if s == "task" => Ok(ResultKind::Task),
        Some(other) => Err(format!("unknown resultType {other}: the result is invalid")),
    }
}

/// A header value as the spec encodes it: plain when every character is visible ASCII or a
/// space, with no space at either end, and it does not look like an encoded value; otherwise
/// `=?base64?…?=` of its UTF-8 bytes.
pub(crate) fn encode_header_value(value: &str) -> String {
    let visible = value.chars().all(|c| (' '..='~').contains(&c));
    let padded = value.starts_with(' ') || value.ends_with(' ');
    let looks_encoded = value.starts_with("=?base64?") && value.ends_with("?=") && value.len() >= 11;
    let plain = visible && !padded && !looks_encoded;
    if plain { value.to_string() } else { format!("=?base64?{}?=", base64(value.as_bytes())) }
}

/// Standard, padded base64.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One `x-mcp-header` annotation of a tool: the header's name suffix and the argument's path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ParamHeader {
    /// `Region` for `Mcp-Param-Region`.
    pub name: String,
    /// The `properties` keys from the schema's root to the argument.
    pub path: Vec<String>,
}

/// Keywords whose value is a schema (or a map or list of schemas) that `x-mcp-header` may not
/// be reached through; walked only to find misplaced annotations.
const NESTED: &[&str] = &[
    "items",
    "prefixItems",
    "contains",
    "additionalProperties",
    "patternProperties",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "dependentSchemas",
    "$defs",
    "definitions",
    "contentSchema",
];

/// The `x-mcp-header` annotations of a tool's input schema, or why the tool is invalid.
pub(crate) fn param_headers(schema: &Value) -> Result<Vec<ParamHeader>, String> {
    let mut found = Vec::new();
    walk(schema, &mut Vec::new(), true, 0, &mut found)?;
    let mut seen: Vec<String> = Vec::new();
    for h in &found {
        let lower = h.name.to_ascii_lowercase();
        if seen.contains(&lower) {
            return Err(format!("x-mcp-header {:?} is used twice (case-insensitively)", h.name));
        }
        seen.push(lower);
    }
    Ok(found)
}

fn walk(
    schema: &Value,
    path: &mut Vec<String>,
    reachable: bool,
    depth: usize,
    found: &mut Vec<ParamHeader>,
) -> Result<(), String> {
    if depth > 64 {
        return Err("the schema nests too deeply".into());
    }
    let Some(obj) = schema.as_object() else { return Ok(()) };
    if let Some(annotation) = obj.get("x-mcp-header") {
        let name = annotation.as_str().ok_or("x-mcp-header is not a string")?;
        if name.is_empty() {
            return Err("x-mcp-header is empty".into());
        }
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)) {
            return Err(format!("x-mcp-header {name:?} is not an HTTP token"));
        }
        if !reachable || path.is_empty() {
            return Err(format!("x-mcp-header {name:?} is not on a property reached through `properties` only"));
        }
        match obj.get("type").and_then(Value::as_str) {
            Some("string" | "integer" | "boolean") => {}
            _ => {
                return Err(format!("x-mcp-header {name:?} is on a property that is not a string, integer or boolean"));
            }
        }
        found.push(ParamHeader { name: name.to_string(), path: path.clone() });
    }
    if let Some(Value::Object(props)) = obj.get("properties") {
        for (key, sub) in props {
            path.push(key.clone());
            let r = walk(sub, path, reachable, depth + 1, found);
            path.pop();
            r?;
        }
    }
    for keyword in NESTED {
        let Some(sub) = obj.get(*keyword) else { continue };
        let subs: Vec<&Value> = match sub {
            Value::Array(items) => items.iter().collect(),
            Value::Object(m)
                if matches!(*keyword, "patternProperties" | "dependentSchemas" | "$defs" | "definitions") =>
            {
                m.values().collect()
            }
            other => vec![other],
        };
        for s in subs {
            walk(s, path, false, depth + 1, found)?;
        }
    }
    Ok(())
}

/// The `Mcp-Param-*` headers of a `tools/call` with these arguments: one per annotation whose
/// argument is present and not null (`false`, `0` and `""` are values).
pub(crate) fn param_header_values(headers: &[ParamHeader], arguments: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for h in headers {
        let mut v = arguments;
        let mut present = true;
        for key in &h.path {
            match v.get(key) {
                Some(next) => v = next,
                None => {
                    present = false;
                    break;
                }
            }
        }
        if !present {
            continue;
        }
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
            _ => continue, // null (omitted) or a value the annotation does not allow
        };
        out.push((format!("Mcp-Param-{}", h.name), encode_header_value(&text)));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn header_values_are_encoded_as_the_spec_says() {
        for (plain, wire) in [
            ("Hello, 世界", "=?base64?SGVsbG8sIOS4lueVjA==?="),
            (" padded ", "=?base64?IHBhZGRlZCA=?="),
            (" us-west1", "=?base64?IHVzLXdlc3Qx?="),
            ("us-west1 ", "=?base64?dXMtd2VzdDEg?="),
            ("line1\nline2", "=?base64?bGluZTEKbGluZTI=?="),
            ("line1\r\nline2", "=?base64?bGluZTENCmxpbmUy?="),
            ("\tindented", "=?base64?CWluZGVudGVk?="),
            ("=?base64?literal?=", "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="),
            ("us west 1", "us west 1"),
            ("", ""),
            ("eu-west–1", "=?base64?ZXUtd2VzdOKAkzE=?="),
        ] {
            assert_eq!(encode_header_value(plain), wire, "{plain:?}");
        }
    }

    #[test]
    fn param_headers_follow_the_annotations() {
        let schema = json!({"type": "object", "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "priority": {"type": "integer", "x-mcp-header": "Priority"},
            "verbose": {"type": "boolean", "x-mcp-header": "Verbose"},
            "empty": {"type": "string", "x-mcp-header": "EmptyVal"},
            "nested": {"type": "object", "properties": {"zone": {"type": "string", "x-mcp-header": "Zone"}}},
            "query": {"type": "string"}}});
        let headers = param_headers(&schema).unwrap();
        assert_eq!(headers.len(), 5);
        let args = json!({"region": "us-west1", "priority": 42, "verbose": false, "empty": "",
                          "nested": {"zone": "b"}, "query": "x"});
        let mut got = param_header_values(&headers, &args);
        got.sort();
        assert_eq!(
            got,
            [
                ("Mcp-Param-EmptyVal".to_string(), String::new()),
                ("Mcp-Param-Priority".into(), "42".into()),
                ("Mcp-Param-Region".into(), "us-west1".into()),
                ("Mcp-Param-Verbose".into(), "false".into()),
                ("Mcp-Param-Zone".into(), "b".into()),
            ]
        );
        let nulls = param_header_values(&headers, &json!({"region": "x", "verbose": null}));
        assert_eq!(nulls, [("Mcp-Param-Region".to_string(), "x".to_string())]);
    }

    #[test]
    fn invalid_annotations_make_the_tool_invalid() {
        let prop = |p: Value| json!({"type": "object", "properties": {"a": p}});
        for bad in [
            prop(json!({"type": "string", "x-mcp-header": ""})),
            prop(json!({"type": "string", "x-mcp-header": 7})),
            prop(json!({"type": "object", "x-mcp-header": "A"})),
            prop(json!({"type": "number", "x-mcp-header": "A"})),
            prop(json!({"type": "null", "x-mcp-header": "A"})),
            prop(json!({"type": ["string", "null"], "x-mcp-header": "A"})),
            prop(json!({"x-mcp-header": "A"})),
            prop(json!({"type": "string", "x-mcp-header": "My Region"})),
            prop(json!({"type": "string", "x-mcp-header": "Region:Primary"})),
            prop(json!({"type": "string", "x-mcp-header": "Région"})),
            prop(json!({"type": "string", "x-mcp-header": "Region\t1"})),
            prop(json!({"type": "array", "items": {"type": "string", "x-mcp-header": "A"}})),
            json!({"type": "object", "properties": {"a": {"type": "string", "x-mcp-header": "MyField"},
                                                     "b": {"type": "string", "x-mcp-header": "myfield"}}}),
            json!({"type": "string", "x-mcp-header": "Root"}),
            json!({"type": "object", "$defs": {"x": {"type": "string", "x-mcp-header": "A"}}}),
            json!({"type": "object", "anyOf": [{"properties": {"a": {"type": "string", "x-mcp-header": "A"}}}]}),
        ] {
            assert!(param_headers(&bad).is_err(), "{bad}");
        }
        // A $ref is never followed, and is no annotation.
        let refd = json!({"type": "object", "properties": {"id": {"$ref": "#/$defs/id"}}, "$defs": {"id": {"type": "string"}}});
        assert_eq!(param_headers(&refd).unwrap(), []);
    }

    #[test]
    fn result_types_and_discover_results() {
        assert_eq!(result_kind(r#"{"content":[]}"#), Ok(ResultKind::Complete));
        assert_eq!(result_kind(r#"{"resultType":"complete"}"#), Ok(ResultKind::Complete));
        assert_eq!(result_kind(r#"{"resultType":"input_required"}"#), Ok(ResultKind::InputRequired));
        assert_eq!(result_kind(r#"{"resultType":"task"}"#), Ok(ResultKind::Task));
        assert!(result_kind(r#"{"resultType":"later"}"#).is_err());
        assert!(DiscoverResult::parse("{}").is_none());
        assert!(DiscoverResult::parse(r#"{"supportedVersions":"2026-07-28"}"#).is_none());
        let d = DiscoverResult::parse(
            r#"{"supportedVersions":["2027-01-01","2026-07-28"],"capabilities":{"tools":{}},
                "_meta":{"io.modelcontextprotocol/serverInfo":{"name":"db","version":"1"}}}"#,
        )
        .unwrap();
        assert_eq!(d.mutual_version(), Some("2026-07-28"));
        assert_eq!(d.server_info().name, "db");
        assert_eq!(supported_versions(Some(r#"{"supported":["2026-07-28"],"requested":"x"}"#)), ["2026-07-28"]);
        let p = with_envelope(
            Some(json!({"name": "t", "_meta": {"progressToken": 1}})),
            envelope("v", &json!({})),
            &Map::new(),
        );
        assert_eq!(p["_meta"]["progressToken"], 1);
        assert_eq!(p["_meta"][META_VERSION], "v");
        assert_eq!(with_envelope(None, envelope("v", &json!({})), &Map::new())["_meta"][META_CAPABILITIES], json!({}));
    }

    #[test]
    fn cache_hints_are_read_and_merged() {
        use std::time::Duration;
        let h = CacheHints::of(r#"{"tools":[],"ttlMs":1500,"cacheScope":"public"}"#);
        assert_eq!(h, CacheHints { ttl: Some(Duration::from_millis(1500)), private: false });
        let p = CacheHints::of(r#"{"ttlMs":0,"cacheScope":"private","resultType":"complete"}"#);
        assert_eq!(p, CacheHints { ttl: Some(Duration::ZERO), private: true });
        assert_eq!(CacheHints::of(r#"{"ttlMs":-5}"#).ttl, Some(Duration::ZERO), "negative is 0");
        assert_eq!(CacheHints::of(r#"{"ttlMs":2.5}"#).ttl, Some(Duration::from_millis(2)));
        assert_eq!(CacheHints::of(r#"{"ttlMs":"10"}"#).ttl, None, "not a number: no hint");
        assert_eq!(CacheHints::of(r#"{"tools":[]}"#), CacheHints::default());
        assert_eq!(CacheHints::of("not json"), CacheHints::default());
        assert_eq!(CacheHints::of(r#"{"ttlMs":18446744073709551615}"#).ttl, Some(Duration::from_millis(u64::MAX)));
        assert_eq!(h.merge(p), CacheHints { ttl: Some(Duration::ZERO), private: true });
        assert_eq!(h.merge(CacheHints::default()), h);
        assert_eq!(CacheHints::default().merge(h), h);
        assert!(is_cacheable("resources/read") && !is_cacheable("tools/call") && !is_cacheable("server/discover"));
    }
}
