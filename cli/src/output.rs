//! Printing a gather: as aligned tables for a person, or as one JSON document.

use std::fmt::Write as _;
use std::time::Duration;

use std::collections::BTreeMap;

use mcp_orchestrator::{
    CacheStats, Config, Error, Gathered, Prompt, Resource, ResourceContents, ResourceTemplate, ServerOutcome, Status,
    Tool, Transport,
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

/// Where a server is: its URL without user info or query (either may hold a secret), or its
/// command line with what looks secret as `***` ([`ServerConfig::redacted_command_line`]).
///
/// [`ServerConfig::redacted_command_line`]: mcp_orchestrator::ServerConfig::redacted_command_line
fn endpoint(s: &mcp_orchestrator::ServerConfig) -> String {
    match (s.redacted_url(), s.redacted_command_line()) {
        (Some(url), _) => url,
        (None, Some(words)) => words.join(" "),
        // Transport is non_exhaustive: a transport added later still gets a line.
        (None, None) => format!("({})", s.transport.kind()),
    }
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
        let endpoint = endpoint(s);
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

/// The config format's name: `yaml`, `mcpServers`, `vscode`, `code`.
pub fn format_name(format: mcp_orchestrator::ConfigFormat) -> &'static str {
    match format {
        mcp_orchestrator::ConfigFormat::McpServersJson => "mcpServers",
        mcp_orchestrator::ConfigFormat::VsCodeJson => "vscode",
        mcp_orchestrator::ConfigFormat::Code => "code",
        _ => "yaml",
    }
}

/// What the loader assumed, one line per note: `  server: note` (empty when nothing was).
pub fn config_notes(config: &Config) -> String {
    let mut out = String::new();
    for s in &config.servers {
        if let Some(display) = &s.display_name {
            out.push_str(&format!("  {}: named \"{display}\"\n", s.name));
        }
        for note in s.notes() {
            out.push_str(&format!("  {}: {note}\n", s.name));
        }
    }
    out
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::Stale => "stale",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
        _ => "unknown",
    }
}

/// One server's state, as `status` prints it.
#[derive(Serialize)]
pub struct ServerState {
    /// Its name in the config.
    pub name: String,
    priority: u32,
    /// The transport in use (what `http` detected) when connected, else the configured one.
    transport: &'static str,
    /// The transport the config names (`http` detects one).
    configured_transport: &'static str,
    /// The URL without user info or query, or the command line.
    endpoint: String,
    /// `false`: disabled in the config, not tried.
    pub enabled: bool,
    /// Connected and answered the ping.
    pub reachable: bool,
    /// The protocol version agreed.
    protocol: Option<String>,
    /// The server's `serverInfo`: name and version.
    server_info: Option<serde_json::Value>,
    /// The ping's round trip.
    latency_ms: Option<f64>,
    /// Why it is not reachable.
    error: Option<String>,
}

impl ServerState {
    /// The state of `server`: `client` if it connected, the ping's round trip if it answered,
    /// or the error.
    pub fn new(
        server: &mcp_orchestrator::ServerConfig,
        client: Option<&mcp_orchestrator::Client>,
        ping: Option<Duration>,
        error: Option<String>,
    ) -> ServerState {
        let info = client.map(|c| &c.server().server_info);
        ServerState {
            name: server.name.clone(),
            priority: server.priority,
            transport: client.map_or(server.transport.kind(), |c| c.transport()),
            configured_transport: server.transport.kind(),
            endpoint: endpoint(server),
            enabled: server.enabled,
            reachable: ping.is_some(),
            protocol: client.map(|c| c.protocol_version().to_string()),
            server_info: info.map(|i| serde_json::json!({"name": i.name, "version": i.version})),
            latency_ms: ping.map(millis),
            error,
        }
    }
}

/// `status` as a table, then each unreachable server's error.
pub fn status_table(states: &[ServerState]) -> String {
    let mut t = Table::new(&[
        "SERVER",
        ">PRIORITY",
        "STATUS",
        "PROTOCOL",
        ">LATENCY",
        "TRANSPORT",
        "SERVER INFO",
        "URL / COMMAND",
    ]);
    for s in states {
        let status = match (s.enabled, s.reachable) {
            (false, _) => "disabled",
            (true, true) => "ok",
            (true, false) => "unreachable",
        };
        let info = s.server_info.as_ref().map_or("-".to_string(), |i| {
            format!("{} {}", i["name"].as_str().unwrap_or("?"), i["version"].as_str().unwrap_or("?"))
        });
        t.row(vec![
            s.name.clone(),
            s.priority.to_string(),
            status.to_string(),
            s.protocol.clone().unwrap_or_else(|| "-".to_string()),
            s.latency_ms.map_or("-".to_string(), |ms| human(Duration::from_secs_f64(ms / 1_000.0))),
            s.transport.to_string(),
            info,
            s.endpoint.clone(),
        ]);
    }
    let mut out = t.render("");
    for s in states {
        if let Some(e) = &s.error {
            let _ = writeln!(out, "{}: {e}", s.name);
        }
    }
    out
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

/// The first line of `text`, at most `max` characters.
fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    let mut out: String = line.chars().take(max).collect();
    if out.len() < line.len() {
        out.push('…');
    }
    out
}

/// Every tool of every server that answered, by name then priority.
fn all_tools(g: &Gathered) -> Vec<(&ServerOutcome, &Tool)> {
    let mut tools: Vec<(&ServerOutcome, &Tool)> = g
        .servers
        .iter()
        .filter_map(|s| s.data.as_ref().map(|d| (s, d)))
        .flat_map(|(s, d)| d.tools.iter().map(move |t| (s, t)))
        .collect();
    tools.sort_by(|(sa, a), (sb, b)| (&a.name, sa.priority, &sa.name).cmp(&(&b.name, sb.priority, &sb.name)));
    tools
}

/// `tools`: one line per tool and server, then each failed server's error.
pub fn tools_table(g: &Gathered) -> String {
    let tools = all_tools(g);
    let mut t = Table::new(&["TOOL", "SERVER", ">PRIORITY", "DESCRIPTION"]);
    for (s, tool) in &tools {
        let description = tool.description.as_deref().or(tool.title.as_deref()).unwrap_or("-");
        t.row(vec![tool.name.clone(), s.name.clone(), s.priority.to_string(), first_line(description, 80)]);
    }
    let mut out = if tools.is_empty() { "(no tools)\n".to_string() } else { t.render("") };
    for s in &g.servers {
        if let Some(e) = &s.error {
            let _ = writeln!(out, "{}: {e}", s.name);
        }
    }
    out
}

/// `tools --format json`: `{"tools": [{"server", "priority", …the tool as the server sent it}]}`.
pub fn tools_json(g: &Gathered) -> serde_json::Value {
    #[derive(Serialize)]
    struct ToolJson<'a> {
        server: &'a str,
        priority: u32,
        #[serde(flatten)]
        tool: &'a Tool,
    }
    let tools: Vec<ToolJson<'_>> =
        all_tools(g).into_iter().map(|(s, tool)| ToolJson { server: &s.name, priority: s.priority, tool }).collect();
    serde_json::json!({ "tools": tools, "servers": server_errors(g) })
}

/// Each server's status and error, for the JSON of a listing.
fn server_errors(g: &Gathered) -> serde_json::Value {
    g.servers
        .iter()
        .map(|s| serde_json::json!({"name": s.name, "status": s.status, "error": s.error.as_ref().map(ToString::to_string)}))
        .collect()
}

/// A prompt's arguments: names, `?` after an optional one.
fn prompt_arguments(p: &Prompt) -> String {
    let names: Vec<String> = p
        .arguments
        .iter()
        .map(|a| if a.required == Some(true) { a.name.clone() } else { format!("{}?", a.name) })
        .collect();
    list(&names)
}

/// `prompts`: the catalogue's prompts (merged names), then each failed server's error.
pub fn prompts_table(g: &Gathered) -> String {
    let mut t = Table::new(&["PROMPT", "SERVER", ">PRIORITY", "ARGUMENTS", "SHADOWED", "DESCRIPTION"]);
    for m in &g.prompts {
        let description = m.item.description.as_deref().or(m.item.title.as_deref()).unwrap_or("-");
        t.row(vec![
            m.name.clone(),
            m.server.clone(),
            m.priority.to_string(),
            prompt_arguments(&m.item),
            list(&m.shadowed),
            first_line(description, 80),
        ]);
    }
    let mut out = if g.prompts.is_empty() { "(no prompts)\n".to_string() } else { t.render("") };
    for s in &g.servers {
        if let Some(e) = &s.error {
            let _ = writeln!(out, "{}: {e}", s.name);
        }
    }
    out
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

/// `resources`: the merged resources, then every template with its server.
pub fn resources_and_templates_table(g: &Gathered) -> String {
    let mut out = String::new();
    if g.resources.is_empty() {
        out.push_str("(no resources)\n");
    } else {
        let mut t = Table::new(&["URI", "SERVER", "SHADOWED", "MIME TYPE", "NAME"]);
        for m in &g.resources {
            t.row(vec![
                m.resource.uri.clone(),
                m.server.clone(),
                list(&m.shadowed),
                m.resource.mime_type.clone().unwrap_or_else(|| "-".to_string()),
                m.resource.name.clone(),
            ]);
        }
        out.push_str(&t.render(""));
    }
    let templates: Vec<(&ServerOutcome, &ResourceTemplate)> = g
        .servers
        .iter()
        .filter_map(|s| s.data.as_ref().map(|d| (s, d)))
        .flat_map(|(s, d)| d.templates.iter().map(move |t| (s, t)))
        .collect();
    if !templates.is_empty() {
        let mut t = Table::new(&["TEMPLATE", "SERVER", "NAME"]);
        for (s, template) in templates {
            t.row(vec![template.uri_template.clone(), s.name.clone(), template.name.clone()]);
        }
        out.push('\n');
        out.push_str(&t.render(""));
    }
    for s in &g.servers {
        if let Some(e) = &s.error {
            let _ = writeln!(out, "{}: {e}", s.name);
        }
    }
    out
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

/// A resource's contents for a person: text as it is, a blob described.
pub fn contents_text(contents: &[ResourceContents]) -> String {
    let mut out = String::new();
    for c in contents {
        match (c.text(), c.blob()) {
            (Some(text), _) => {
                out.push_str(text);
                if !text.ends_with('\n') {
                    out.push('\n');
                }
            }
            (None, Some(blob)) => {
                let mime = c.mime_type.as_deref().unwrap_or("unknown type");
                let _ = writeln!(out, "[blob {}: {mime}, {} base64 characters]", c.uri, blob.len());
            }
            (None, None) => {
                let _ = writeln!(out, "[{}: contents of a kind this version does not know]", c.uri);
            }
        }
    }
    out
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
