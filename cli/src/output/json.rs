//! The JSON documents of `--format json`: the config as understood, a gather (and a failed
//! one), the listings (and a failed one), and [`write_json`], which streams one to stdout.

use std::collections::BTreeMap;

use mcp_orchestrator::{
    CacheStats, Config, Error, Gathered, Resource, ResourceContents, ResourceTemplate, ServerOutcome, Status, Tool,
    ToolMatch, Transport,
};
use serde::Serialize;

use super::{all_tools, format_name, millis};

/// `check --format json`: the config as understood, with nothing secret in it (URLs without
/// user info or query, header and environment names without values).
pub fn config_json(config: &Config) -> serde_json::Value {
    let servers: Vec<serde_json::Value> = config
        .servers
        .iter()
        .map(|s| {
            let mut server = serde_json::json!({
                "name": s.name,
                "priority": s.priority,
                "transport": s.transport.kind(),
                "enabled": s.enabled,
                "timeout_s": s.timeout.as_secs_f64(),
                "domains": s.domains,
                "capabilities": s.capabilities,
                "read_contents": s.read_contents,
                "headers": s.headers.iter().map(|(name, _)| name).collect::<Vec<_>>(),
                "display_name": s.display_name,
                "notes": s.notes(),
            });
            match &s.transport {
                Transport::Stdio { env, cwd, .. } => {
                    // The command line with what looks secret as `***`.
                    let mut words = s.redacted_command_line().unwrap_or_default().into_iter();
                    server["command"] = words.next().unwrap_or_default().into();
                    server["args"] = words.collect::<Vec<_>>().into();
                    server["env"] = env.keys().map(String::as_str).collect::<Vec<_>>().into();
                    server["cwd"] = cwd.as_ref().map(|p| p.display().to_string()).into();
                }
                _ => server["url"] = s.redacted_url().into(),
            }
            server
        })
        .collect();
    let o = &config.orchestration;
    serde_json::json!({
        "servers": servers,
        "orchestration": {
            "resource_cache_ttl_s": o.resource_cache_ttl.as_secs_f64(),
            "fail_fast": o.fail_fast,
            "log_level": o.log_level.map(|l| l.to_string()),
            "max_concurrent_connections": o.max_concurrent_connections,
            "cache_max_bytes": o.cache_max_bytes,
            "request_timeout_s": o.request_timeout.as_secs_f64(),
            "max_retries": o.max_retries,
        },
        "format": format_name(config.format()),
    })
}

/// `tools --format json`: `{"tools": [{"server", "priority", …the tool as the server sent it}]}`.
pub fn tools_json(g: &Gathered) -> serde_json::Value {
    #[derive(Serialize)]
    struct ToolJson<'a> {
        server: &'a str,
        priority: u32,
        /// The estimated tokens of its definition (`null` for a shadowed tool).
        tokens: Option<usize>,
        #[serde(flatten)]
        tool: &'a Tool,
    }
    let tokens: std::collections::HashMap<(&str, &str), usize> = g
        .tools
        .iter()
        .filter_map(|m| Some(((m.server.as_str(), m.original.as_str()), g.tool_token_estimate(&m.name)?)))
        .collect();
    let tools: Vec<ToolJson<'_>> = all_tools(g)
        .into_iter()
        .map(|(s, tool)| ToolJson {
            server: &s.name,
            priority: s.priority,
            tokens: tokens.get(&(s.name.as_str(), tool.name.as_str())).copied(),
            tool,
        })
        .collect();
    serde_json::json!({ "tools": tools, "tool_tokens": g.tool_tokens(), "servers": server_errors(g) })
}

/// `tools --search Q --format json`: `{"query", "matches": [{"name" (merged), "server",
/// "original", "score", "tokens", "tool"}], "servers": [{"name", "status", "error"}]}`.
pub fn search_json(g: &Gathered, query: &str, found: &[ToolMatch]) -> serde_json::Value {
    let matches: Vec<serde_json::Value> = found
        .iter()
        .map(|m| {
            serde_json::json!({
                "name": m.name, "server": m.server, "original": m.original,
                "score": m.score, "tokens": m.tokens, "tool": m.tool,
            })
        })
        .collect();
    serde_json::json!({ "query": query, "matches": matches, "servers": server_errors(g) })
}

/// Each server's status and error, for the JSON of a listing.
fn server_errors(g: &Gathered) -> serde_json::Value {
    g.servers
        .iter()
        .map(|s| serde_json::json!({"name": s.name, "status": s.status, "error": s.error.as_ref().map(ToString::to_string)}))
        .collect()
}

/// `prompts --format json`: `{"prompts": [{"name" (merged), "server", "priority", "original",
/// "shadowed", …the prompt as the server sent it}], "servers": [{"name", "status", "error"}]}`.
pub fn prompts_json(g: &Gathered) -> serde_json::Value {
    #[derive(Serialize)]
    struct PromptJson<'a> {
        /// The merged name (what `prompts get` takes); the prompt's own `name` is `original`.
        name: &'a str,
        server: &'a str,
        priority: u32,
        original: &'a str,
        shadowed: &'a [String],
        #[serde(skip_serializing_if = "Option::is_none")]
        title: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<&'a str>,
        arguments: &'a [mcp_orchestrator::PromptArgument],
    }
    let prompts: Vec<PromptJson<'_>> = g
        .prompts
        .iter()
        .map(|m| PromptJson {
            name: &m.name,
            server: &m.server,
            priority: m.priority,
            original: &m.original,
            shadowed: &m.shadowed,
            title: m.item.title.as_deref(),
            description: m.item.description.as_deref(),
            arguments: &m.item.arguments,
        })
        .collect();
    serde_json::json!({ "prompts": prompts, "servers": server_errors(g) })
}

/// `resources --format json`: `{"resources": [merged, as in gather's], "templates": [{"server",
/// "priority", …the template}], "servers": [{"name", "status", "error"}]}`.
pub fn resources_json(g: &Gathered) -> serde_json::Value {
    #[derive(Serialize)]
    struct TemplateJson<'a> {
        server: &'a str,
        priority: u32,
        #[serde(flatten)]
        template: &'a ResourceTemplate,
    }
    let templates: Vec<TemplateJson<'_>> = g
        .servers
        .iter()
        .filter_map(|s| s.data.as_ref().map(|d| (s, d)))
        .flat_map(|(s, d)| {
            d.templates.iter().map(move |template| TemplateJson { server: &s.name, priority: s.priority, template })
        })
        .collect();
    let resources: Vec<MergedJson<'_>> = g
        .resources
        .iter()
        .map(|m| MergedJson { resource: &m.resource, server: &m.server, priority: m.priority, shadowed: &m.shadowed })
        .collect();
    serde_json::json!({ "resources": resources, "templates": templates, "servers": server_errors(g) })
}

/// The document `gather --format json` prints.
#[derive(Serialize)]
pub struct GatherJson<'a> {
    op_id: &'a str,
    /// `null`, or why the gather failed.
    error: Option<String>,
    servers: Vec<ServerJson<'a>>,
    resources: Vec<MergedJson<'a>>,
    cache: &'a CacheStats,
}

#[derive(Serialize)]
struct ServerJson<'a> {
    name: &'a str,
    priority: u32,
    status: Status,
    error: Option<String>,
    elapsed_ms: f64,
    from_cache: bool,
    resources: Vec<ResourceJson<'a>>,
    templates: &'a [ResourceTemplate],
    tools: &'a [Tool],
}

#[derive(Serialize)]
struct ResourceJson<'a> {
    #[serde(flatten)]
    resource: &'a Resource,
    contents: &'a [ResourceContents],
    #[serde(skip_serializing_if = "Option::is_none")]
    read_error: Option<&'a str>,
}

/// A merged resource: the winner's resource fields (`uri` first), then who won and who lost.
#[derive(Serialize)]
struct MergedJson<'a> {
    #[serde(flatten)]
    resource: &'a Resource,
    server: &'a str,
    priority: u32,
    shadowed: &'a [String],
}

const NO_TEMPLATES: &[ResourceTemplate] = &[];
const NO_TOOLS: &[Tool] = &[];
const NO_CONTENTS: &[ResourceContents] = &[];

fn server_json(s: &ServerOutcome) -> ServerJson<'_> {
    let (resources, templates, tools) = match &s.data {
        Some(d) => {
            let resources = d
                .resources
                .iter()
                .map(|r| ResourceJson {
                    resource: r,
                    contents: d.contents.get(&r.uri).map_or(NO_CONTENTS, Vec::as_slice),
                    read_error: d.read_errors.get(&r.uri).map(String::as_str),
                })
                .collect();
            (resources, d.templates.as_slice(), d.tools.as_slice())
        }
        None => (Vec::new(), NO_TEMPLATES, NO_TOOLS),
    };
    ServerJson {
        name: &s.name,
        priority: s.priority,
        status: s.status,
        error: s.error.as_ref().map(ToString::to_string),
        elapsed_ms: millis(s.elapsed),
        from_cache: s.from_cache,
        resources,
        templates,
        tools,
    }
}

/// Writes `value` as pretty JSON and a newline to `out` as it is encoded, through a 64 KiB
/// buffer: a gather's document (every server's resources, contents, tools) is never held
/// whole in memory. A closed output (`| head`) is not an error: the rest is dropped, as
/// `emit` does; a value that cannot be encoded is.
pub fn write_json(out: impl std::io::Write, value: &impl Serialize) -> Result<(), String> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    match serde_json::to_writer_pretty(&mut out, value) {
        Ok(()) => {
            let _ = out.write_all(b"\n").and_then(|()| out.flush());
            Ok(())
        }
        Err(e) if e.is_io() => Ok(()),
        Err(e) => Err(format!("cannot encode the result as JSON: {e}")),
    }
}

/// The JSON document of a gather.
pub fn gather_json<'a>(g: &'a Gathered, cache: &'a CacheStats) -> GatherJson<'a> {
    GatherJson {
        op_id: g.op.as_str(),
        error: None,
        servers: g.servers.iter().map(server_json).collect(),
        resources: g
            .resources
            .iter()
            .map(|m| MergedJson {
                resource: &m.resource,
                server: &m.server,
                priority: m.priority,
                shadowed: &m.shadowed,
            })
            .collect(),
        cache,
    }
}

/// A server in the document of a failed gather.
#[derive(Serialize)]
struct FailedServerJson<'a> {
    name: &'a str,
    priority: u32,
    /// `failed`, `skipped` (disabled), or `unknown`: the gather stopped (fail_fast) before
    /// this server's outcome was known.
    status: &'static str,
    error: Option<String>,
}

/// The document of a failed gather (`initialize` or `gather_all_resources` returned `error`):
/// the same top-level keys as a successful one, `error` set, each server's outcome as far as
/// it is known, no resources.
pub fn gather_failure_json(
    config: &Config,
    error: &Error,
    connect_failures: &BTreeMap<String, Error>,
    cache: &CacheStats,
) -> serde_json::Value {
    let servers: Vec<FailedServerJson<'_>> = config
        .servers
        .iter()
        .map(|s| {
            let failed = connect_failures.get(&s.name).or((error.server() == Some(s.name.as_str())).then_some(error));
            let status = match (s.enabled, failed) {
                (false, _) => "skipped",
                (true, Some(_)) => "failed",
                (true, None) => "unknown",
            };
            FailedServerJson { name: &s.name, priority: s.priority, status, error: failed.map(ToString::to_string) }
        })
        .collect();
    serde_json::json!({
        "op_id": error.op_id().map(|op| op.as_str()),
        "error": error.to_string(),
        "servers": servers,
        "resources": [],
        "cache": cache,
    })
}

/// The document of a failed `tools`, `resources`, `prompts` or `read` with `--format json`:
/// `{"op_id", "error", "servers": [{"name", "priority", "status", "error"}]}`, each server's
/// outcome as far as it is known (as for a failed gather).
pub fn listing_failure_json(
    config: &Config,
    error: Option<&Error>,
    message: &str,
    connect_failures: &BTreeMap<String, Error>,
) -> serde_json::Value {
    let mut doc = match error {
        Some(e) => gather_failure_json(config, e, connect_failures, &CacheStats::default()),
        None => {
            let servers: Vec<FailedServerJson<'_>> = config
                .servers
                .iter()
                .map(|s| {
                    let failed = connect_failures.get(&s.name);
                    let status = match (s.enabled, failed) {
                        (false, _) => "skipped",
                        (true, Some(_)) => "failed",
                        (true, None) => "ok",
                    };
                    FailedServerJson {
                        name: &s.name,
                        priority: s.priority,
                        status,
                        error: failed.map(ToString::to_string),
                    }
                })
                .collect();
            serde_json::json!({ "op_id": null, "error": message, "servers": servers })
        }
    };
    if let Some(map) = doc.as_object_mut() {
        map.remove("resources");
        map.remove("cache");
    }
    doc
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_written_whole_and_a_closed_output_is_no_error() {
        let value = serde_json::json!({"a": [1, 2], "b": "x"});
        let mut out = Vec::new();
        write_json(&mut out, &value).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), format!("{}\n", serde_json::to_string_pretty(&value).unwrap()));
        struct Closed;
        impl std::io::Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
        }
        let big: Vec<String> = (0..20_000).map(|i| format!("item {i}")).collect();
        assert_eq!(write_json(Closed, &big), Ok(()));
    }

    #[test]
    fn gather_json_nests_contents_and_keeps_wire_names() {
        use mcp_orchestrator::testing::TestServer;
        use mcp_orchestrator::{Orchestrator, ServerConfig};
        let start = |name: &str| {
            TestServer::builder().name(name).text_resource("a://x", "x", "text/plain", "hi").start().unwrap()
        };
        let (a, b) = (start("a"), start("b"));
        let config = Config::builder()
            .server(ServerConfig::sse("a", a.url()).priority(1))
            .server(ServerConfig::sse("b", b.url()).priority(2))
            .build()
            .unwrap();
        let o = Orchestrator::new(config);
        let g = o.gather_all_resources().unwrap();
        let stats = o.cache_stats();
        let text = serde_json::to_string(&gather_json(&g, &stats)).unwrap();
        o.close();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["op_id"], g.op.as_str());
        let s = &v["servers"][0];
        assert_eq!((s["status"].as_str(), s["error"].is_null()), (Some("ok"), true));
        assert!(s["elapsed_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{s}");
        assert_eq!(s["resources"][0]["mimeType"], "text/plain");
        assert_eq!(s["resources"][0]["contents"][0]["text"], "hi");
        assert_eq!(v["resources"][0]["server"], "a");
        assert_eq!(v["resources"][0]["shadowed"], serde_json::json!(["b"]));
        // The resource's own fields first (`uri` leading), then who won and who lost.
        let merged = r#""resources":[{"uri":"a://x","name":"x","mimeType":"text/plain","server":"a","priority":1,"shadowed":["b"]}]"#;
        assert!(text.contains(merged), "{text}");
        assert!(v["cache"].is_object());
    }
}
