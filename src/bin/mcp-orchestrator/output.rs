//! Printing a gather: as aligned tables for a person, or as one JSON document.

use std::fmt::Write as _;
use std::time::Duration;

use mcp_orchestrator::{
    CacheStats, Config, Gathered, Resource, ResourceContents, ResourceTemplate, ServerOutcome, Status, Tool, Transport,
};
use serde::Serialize;

/// A duration for a person: ns below a microsecond, µs below a millisecond, ms with one
/// decimal below ten seconds.
pub fn human(d: Duration) -> String {
    let us = d.as_micros();
    if us == 0 {
        format!("{} ns", d.as_nanos())
    } else if us < 1_000 {
        format!("{us} µs")
    } else if us < 10_000_000 {
        format!("{:.1} ms", us as f64 / 1_000.0)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Milliseconds with microsecond precision, for JSON.
fn millis(d: Duration) -> f64 {
    d.as_micros() as f64 / 1_000.0
}

/// A minimal table: a header row, left-aligned columns separated by two spaces; columns whose
/// header is in `right` are right-aligned.
pub struct Table {
    header: Vec<String>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers; a header starting with `>` is right-aligned (the `>`
    /// is not printed).
    pub fn new<S: AsRef<str>>(header: &[S]) -> Table {
        Table {
            header: header.iter().map(|h| h.as_ref().trim_start_matches('>').to_string()).collect(),
            right: header.iter().map(|h| h.as_ref().starts_with('>')).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are empty, extra cells are ignored).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text, each line indented by `indent`.
    pub fn render(&self, indent: &str) -> String {
        let n = self.header.len();
        let cell = |row: &Vec<String>, i: usize| row.get(i).map_or(String::new(), |c| c.replace(['\n', '\r'], " "));
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, w) in widths.iter_mut().enumerate() {
                *w = (*w).max(cell(row, i).chars().count());
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::from(indent);
            for (i, (&width, &right)) in widths.iter().zip(&self.right).enumerate() {
                let text = cell(row, i);
                let pad = width.saturating_sub(text.chars().count());
                let last = i + 1 == n;
                if right {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(&text);
                } else {
                    line.push_str(&text);
                    if !last {
                        line.push_str(&" ".repeat(pad));
                    }
                }
                if !last {
                    line.push_str("  ");
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() { "-".to_string() } else { items.join(", ") }
}

/// The `check` listing of a valid config.
pub fn config_table(config: &Config) -> String {
    let mut t = Table::new(&[
        "NAME",
        ">PRIORITY",
        "TRANSPORT",
        "ENABLED",
        ">TIMEOUT",
        "DOMAINS",
        "CAPABILITIES",
        "URL / COMMAND",
    ]);
    for s in &config.servers {
        let endpoint = match &s.transport {
            Transport::Sse { url } | Transport::StreamableHttp { url } => url.clone(),
            Transport::Stdio { command, args, .. } => {
                std::iter::once(command.as_str()).chain(args.iter().map(String::as_str)).collect::<Vec<_>>().join(" ")
            }
            // Transport is non_exhaustive: a transport added later still gets a line.
            other => format!("({})", other.kind()),
        };
        t.row(vec![
            s.name.clone(),
            s.priority.to_string(),
            s.transport.kind().to_string(),
            if s.enabled { "yes" } else { "no" }.to_string(),
            format!("{}s", s.timeout.as_secs_f64()),
            list(&s.domains),
            list(&s.capabilities),
            endpoint,
        ]);
    }
    let o = &config.orchestration;
    let mut out = t.render("");
    let _ = writeln!(
        out,
        "\norchestration: resource_cache_ttl {}s, fail_fast {}, log_level {}, max_concurrent_connections {}, \
         cache_max_bytes {}, request_timeout {}s",
        o.resource_cache_ttl.as_secs_f64(),
        o.fail_fast,
        o.log_level.map_or("unset".to_string(), |l| l.to_string()),
        o.max_concurrent_connections,
        o.cache_max_bytes,
        o.request_timeout.as_secs_f64(),
    );
    out
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::Stale => "stale",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
    }
}

/// The per-server table of a gather, then each failed server's error.
pub fn servers_table(g: &Gathered, indent: &str) -> String {
    let mut t = Table::new(&["SERVER", ">PRIORITY", "STATUS", ">TIME", ">RESOURCES", ">TEMPLATES", ">TOOLS"]);
    for s in &g.servers {
        let counts = |f: fn(&mcp_orchestrator::ServerResources) -> usize| {
            s.data.as_ref().map_or("-".to_string(), |d| f(d).to_string())
        };
        let time = if s.from_cache {
            "cached".to_string()
        } else if s.status == Status::Ok || s.status == Status::Failed {
            human(s.elapsed)
        } else {
            "-".to_string()
        };
        t.row(vec![
            s.name.clone(),
            s.priority.to_string(),
            status_word(s.status).to_string(),
            time,
            counts(|d| d.resources.len()),
            counts(|d| d.templates.len()),
            counts(|d| d.tools.len()),
        ]);
    }
    let mut out = t.render(indent);
    for s in &g.servers {
        if let Some(e) = &s.error {
            let _ = writeln!(out, "{indent}{}: {e}", s.name);
        }
        if let Some(d) = &s.data {
            for (uri, e) in &d.read_errors {
                let _ = writeln!(out, "{indent}{}: could not read {uri}: {e}", s.name);
            }
        }
    }
    out
}

/// The merged resources of a gather.
pub fn resources_table(g: &Gathered, indent: &str) -> String {
    if g.resources.is_empty() {
        return format!("{indent}(no resources)\n");
    }
    let mut t = Table::new(&["URI", "SERVER", "SHADOWED", "MIME TYPE", ">CONTENTS"]);
    for m in &g.resources {
        // The size of what was read (text bytes, or base64 characters of a blob).
        let contents = g.contents(&m.resource.uri).map_or("-".to_string(), |items| {
            let bytes: usize = items.iter().map(|c| c.text().or(c.blob()).map_or(0, str::len)).sum();
            format!("{bytes} B")
        });
        t.row(vec![
            m.resource.uri.clone(),
            m.server.clone(),
            list(&m.shadowed),
            m.resource.mime_type.clone().unwrap_or_else(|| "-".to_string()),
            contents,
        ]);
    }
    t.render(indent)
}

/// The cache's counters on one line.
pub fn cache_line(c: &CacheStats) -> String {
    format!(
        "cache: {} hits, {} misses, {} entries, {} bytes of {}, {} evictions, {} invalidations",
        c.hits, c.misses, c.entries, c.bytes, c.max_bytes, c.evictions, c.invalidations
    )
}

/// `gather --format table`.
pub fn gather_table(g: &Gathered, cache: &CacheStats) -> String {
    let ok = g.servers.iter().filter(|s| s.status == Status::Ok).count();
    let mut out = format!("op {}: {} of {} server(s) ok\n\n", g.op, ok, g.servers.len());
    out.push_str(&servers_table(g, ""));
    let _ = writeln!(out, "\nmerged resources ({}):", g.resources.len());
    out.push_str(&resources_table(g, "  "));
    let _ = writeln!(out, "\n{}", cache_line(cache));
    out
}

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

/// The document `gather --format json` prints.
#[derive(Serialize)]
pub struct GatherJson<'a> {
    op_id: &'a str,
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

/// The JSON document of a gather.
pub fn gather_json<'a>(g: &'a Gathered, cache: &'a CacheStats) -> GatherJson<'a> {
    GatherJson {
        op_id: g.op.as_str(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_for_people() {
        assert_eq!(human(Duration::from_micros(12)), "12 µs");
        assert_eq!(human(Duration::from_nanos(310)), "310 ns");
        assert_eq!(human(Duration::from_micros(4_250)), "4.2 ms");
        assert_eq!(human(Duration::from_secs(12)), "12.0 s");
        assert_eq!(millis(Duration::from_micros(1_234)), 1.234);
    }

    #[test]
    fn tables_align_and_trim() {
        let mut t = Table::new(&["A", ">N", "LAST"]);
        t.row(vec!["long-name".into(), "7".into(), "x".into()]);
        t.row(vec!["b".into(), "123".into(), String::new()]);
        assert_eq!(t.render(""), "A            N  LAST\nlong-name    7  x\nb          123\n");
    }

    #[test]
    fn gather_json_nests_contents_and_keeps_wire_names() {
        use mcp_orchestrator::{ContentsBody, MergedResource, OpId, ServerResources};
        use std::sync::Arc;
        let resource: Resource =
            serde_json::from_value(serde_json::json!({"uri": "a://x", "name": "x", "mimeType": "text/plain"})).unwrap();
        let mut data = ServerResources::default();
        data.resources.push(resource.clone());
        data.contents.insert(
            "a://x".into(),
            vec![ResourceContents {
                uri: "a://x".into(),
                mime_type: Some("text/plain".into()),
                body: ContentsBody::Text("hi".into()),
                meta: None,
            }],
        );
        let g = Gathered {
            op: OpId::new(),
            servers: vec![ServerOutcome {
                name: "a".into(),
                priority: 1,
                status: Status::Ok,
                error: None,
                elapsed: Duration::from_micros(1500),
                from_cache: false,
                protocol: None,
                transport: "sse",
                recovered: false,
                data: Some(Arc::new(data)),
            }],
            resources: vec![MergedResource { server: "a".into(), priority: 1, resource, shadowed: vec!["b".into()] }],
            templates: Vec::new(),
            tools: Vec::new(),
            prompts: Vec::new(),
        };
        let stats = CacheStats::default();
        let text = serde_json::to_string(&gather_json(&g, &stats)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["op_id"], g.op.as_str());
        let s = &v["servers"][0];
        assert_eq!(
            (s["status"].as_str(), s["error"].is_null(), s["elapsed_ms"].as_f64()),
            (Some("ok"), true, Some(1.5))
        );
        assert_eq!(s["resources"][0]["mimeType"], "text/plain");
        assert_eq!(s["resources"][0]["contents"][0]["text"], "hi");
        assert_eq!(v["resources"][0]["server"], "a");
        assert_eq!(v["resources"][0]["shadowed"], serde_json::json!(["b"]));
        assert!(text.contains(r#""resources":[{"uri":"a://x","name":"x","mimeType":"text/plain","server":"a","priority":1,"shadowed":["b"]}]"#), "{text}");
        assert!(v["cache"].is_object());
    }
}
