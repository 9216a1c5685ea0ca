//! The human tables: a minimal aligned [`Table`], and the tables (with their trailing error
//! lines) of `check`, `status`, `gather`, `tools`, `prompts`, `resources` and the demo.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use mcp_orchestrator::{CacheStats, Config, Gathered, Prompt, ResourceTemplate, ServerOutcome, Status, ToolMatch};

use super::{ServerState, all_tools, endpoint, human};

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

/// `tools`: one line per tool and server, then each failed server's error.
pub fn tools_table(g: &Gathered) -> String {
    let tools = all_tools(g);
    let tokens = tool_tokens(g);
    let mut t = Table::new(&["TOOL", "SERVER", ">PRIORITY", ">TOKENS", "DESCRIPTION"]);
    for (s, tool) in &tools {
        let description = tool.description.as_deref().or(tool.title.as_deref()).unwrap_or("-");
        let size = tokens.get(&(s.name.as_str(), tool.name.as_str())).map_or("-".to_string(), ToString::to_string);
        t.row(vec![tool.name.clone(), s.name.clone(), s.priority.to_string(), size, first_line(description, 80)]);
    }
    let mut out = if tools.is_empty() { "(no tools)\n".to_string() } else { t.render("") };
    if !tools.is_empty() {
        let _ = writeln!(out, "{} tools in the merged catalogue, ~{} tokens in all", g.tools.len(), g.tool_tokens());
    }
    for s in &g.servers {
        if let Some(e) = &s.error {
            let _ = writeln!(out, "{}: {e}", s.name);
        }
    }
    out
}

/// The estimated tokens of each tool of the merged catalogue, by (server, its own name).
fn tool_tokens(g: &Gathered) -> HashMap<(&str, &str), usize> {
    g.tools
        .iter()
        .filter_map(|m| Some(((m.server.as_str(), m.original.as_str()), g.tool_token_estimate(&m.name)?)))
        .collect()
}

/// `tools --search`: the matches, best first, then each failed server's error.
pub fn search_table(g: &Gathered, found: &[ToolMatch]) -> String {
    let mut t = Table::new(&["TOOL", "SERVER", ">SCORE", ">TOKENS", "DESCRIPTION"]);
    for m in found {
        let description = m.tool.description.as_deref().or(m.tool.title.as_deref()).unwrap_or("-");
        t.row(vec![
            m.name.clone(),
            m.server.clone(),
            format!("{:.2}", m.score),
            m.tokens.to_string(),
            first_line(description, 80),
        ]);
    }
    let mut out = if found.is_empty() { "(no matching tools)\n".to_string() } else { t.render("") };
    for s in &g.servers {
        if let Some(e) = &s.error {
            let _ = writeln!(out, "{}: {e}", s.name);
        }
    }
    out
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
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_trim() {
        let mut t = Table::new(&["A", ">N", "LAST"]);
        t.row(vec!["long-name".into(), "7".into(), "x".into()]);
        t.row(vec!["b".into(), "123".into(), String::new()]);
        assert_eq!(t.render(""), "A            N  LAST\nlong-name    7  x\nb          123\n");
    }
}
