//! The catalogue: what every server offers, merged into one view per kind — resources (by URI),
//! resource templates (by URI template), tools and prompts (by name) — and the routes back from
//! a merged name to the server that owns it.
//!
//! Pure: values in, values out; no I/O, no locks, no clock. The rule is the same for every kind:
//! the lowest priority number wins, ties by server name, and the servers that lost are kept in
//! `shadowed`. Tools and prompts may be renamed ([`Naming`]) so that every one stays reachable;
//! each merged entry keeps the server and the original name a call must use.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::config::{Config, NameFilter, Naming};
use crate::error::Error;
use crate::op::OpId;
use crate::protocol::{Prompt, Resource, ResourceContents, ResourceTemplate, Tool};

pub(crate) mod search;
pub use search::{ToolMatch, ToolQuery};

/// Matches `uri` against an RFC 6570 level-1 template (`file:///{path}`, `db://{table}/rows`):
/// literal parts match themselves, each `{var}` a non-empty run of unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`) and percent-encodings, as simple string expansion produces them.
/// Returns the variables' values (still percent-encoded), or `None`. A template with an
/// operator (`{+x}`, `{/x}`, …, level 2 and up) or a malformed one matches nothing.
pub fn match_template(template: &str, uri: &str) -> Option<BTreeMap<String, String>> {
    enum Part<'a> {
        Lit(&'a str),
        Var(&'a str),
    }
    let mut parts = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        match rest.find('{') {
            Some(0) => {
                let end = rest.find('}')?;
                let name = &rest[1..end];
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
                    return None;
                }
                parts.push(Part::Var(name));
                rest = &rest[end + 1..];
            }
            Some(i) => {
                parts.push(Part::Lit(&rest[..i]));
                rest = &rest[i..];
            }
            None => {
                if rest.contains('}') {
                    return None;
                }
                parts.push(Part::Lit(rest));
                rest = "";
            }
        }
    }
    fn unreserved(b: u8) -> bool {
        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'%')
    }
    // Backtracking over the variables; templates are short, so this is cheap.
    fn go(parts: &[Part<'_>], uri: &str, out: &mut BTreeMap<String, String>) -> bool {
        match parts.first() {
            None => uri.is_empty(),
            Some(Part::Lit(l)) => uri.strip_prefix(l).is_some_and(|r| go(&parts[1..], r, out)),
            Some(Part::Var(name)) => {
                let run = uri.bytes().take_while(|&b| unreserved(b)).count();
                for len in (1..=run).rev() {
                    if go(&parts[1..], &uri[len..], out) {
                        out.insert((*name).to_string(), uri[..len].to_string());
                        return true;
                    }
                }
                false
            }
        }
    }
    let mut out = BTreeMap::new();
    go(&parts, uri, &mut out).then_some(out)
}

/// What one server offers: its listings (all pages) and the contents of its resources.
///
/// This is what the cache holds, one entry per server, shared by `Arc`.
#[derive(Debug, Default, Serialize)]
#[non_exhaustive]
pub struct ServerResources {
    /// Every resource (all pages), each held once: the merged view's
    /// [`MergedResource::resource`] shares it.
    pub resources: Vec<Arc<Resource>>,
    /// Every resource template.
    pub templates: Vec<ResourceTemplate>,
    /// Every tool.
    pub tools: Vec<Tool>,
    /// Every prompt.
    pub prompts: Vec<Prompt>,
    /// The contents of each resource, by URI (empty with `read_contents: false`).
    pub contents: BTreeMap<String, Vec<ResourceContents>>,
    /// Resources whose read failed, by URI, with the error message.
    pub read_errors: BTreeMap<String, String>,
}

impl ServerResources {
    /// The heap bytes this entry owns (the cache's accounting unit).
    pub(crate) fn owned_bytes(&self) -> usize {
        self.resources.iter().map(|r| r.owned_bytes()).sum::<usize>()
            + self.templates.iter().map(ResourceTemplate::owned_bytes).sum::<usize>()
            + self.tools.iter().map(Tool::owned_bytes).sum::<usize>()
            + self.prompts.iter().map(Prompt::owned_bytes).sum::<usize>()
            + self
                .contents
                .iter()
                .map(|(k, v)| k.len() + v.iter().map(ResourceContents::owned_bytes).sum::<usize>())
                .sum::<usize>()
            + self.read_errors.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
    }
}

/// How one server fared in a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Status {
    /// It answered (or its fresh cache entry was used).
    Ok,
    /// It failed, and its last good data is served instead (`serve_stale`); the outcome's
    /// error says why.
    Stale,
    /// It failed (see the outcome's error).
    Failed,
    /// It was not asked: disabled in the config.
    Skipped,
}

/// One server's part of a [`Gathered`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServerOutcome {
    /// Its name in the config.
    pub name: String,
    /// Its priority (lower wins).
    pub priority: u32,
    /// Ok, stale, failed or skipped.
    pub status: Status,
    /// Why it failed (also for a stale outcome).
    pub error: Option<Error>,
    /// How long its part took (zero for a cache hit).
    pub elapsed: Duration,
    /// Whether its data came from the cache.
    pub from_cache: bool,
    /// The protocol version agreed with it, when it is connected.
    pub protocol: Option<String>,
    /// The transport it is reached over: `sse`, `streamable_http`, `stdio`.
    pub transport: &'static str,
    /// Whether this call (re)connected it after it had failed or its session had died.
    pub recovered: bool,
    /// Its data, when it answered (or the stale data).
    pub data: Option<Arc<ServerResources>>,
}

/// A resource of the merged view: the winner for its URI, and who else has it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct MergedResource {
    /// The winning server (lowest priority number, ties by name).
    pub server: String,
    /// The winner's priority.
    pub priority: u32,
    /// The winner's description of the resource (shared with its server's
    /// [`ServerResources::resources`], not a copy).
    pub resource: Arc<Resource>,
    /// The servers that also list this URI and lost, in priority order.
    pub shadowed: Vec<String>,
}

/// A tool, prompt or resource template of the merged view, under its merged name.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Merged<T> {
    /// The name programs use: the original, or `<server><separator><original>` (see [`Naming`]).
    /// For a template, its URI template.
    pub name: String,
    /// The server that owns it.
    pub server: String,
    /// Its name on that server (what a call sends).
    pub original: String,
    /// The owner's priority.
    pub priority: u32,
    /// The owner's description of it.
    pub item: T,
    /// The servers that offer the same merged name and lost, in priority order.
    pub shadowed: Vec<String>,
}

/// A tool of the merged view.
pub type MergedTool = Merged<Tool>;

impl Merged<Tool> {
    /// The `ui://` resource an MCP App host renders for this tool (`_meta.ui.resourceUri`),
    /// read from its owner like any resource ([`Orchestrator::read_resource`](crate::Orchestrator::read_resource)).
    pub fn ui_resource_uri(&self) -> Option<&str> {
        self.item.ui_resource_uri()
    }

    /// Who may call it (`_meta.ui.visibility`). Always includes the model: app-only tools are
    /// not in the merged view.
    pub fn visibility(&self) -> crate::protocol::Visibility {
        self.item.visibility()
    }
}
/// A prompt of the merged view.
pub type MergedPrompt = Merged<Prompt>;
/// A resource template of the merged view.
pub type MergedTemplate = Merged<ResourceTemplate>;

/// Where a URI is read from: the server that lists it, or the first (by priority) whose
/// template matches it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UriRoute<'a> {
    /// The server to ask.
    pub server: &'a str,
    /// The template that matched, when no server lists the URI.
    pub template: Option<&'a str>,
}

/// The result of [`Orchestrator::gather_all_resources`](crate::Orchestrator::gather_all_resources):
/// every server's outcome and the merged catalogue.
#[derive(Debug)]
#[non_exhaustive]
pub struct Gathered {
    /// The operation id of the gather that built it.
    pub op: OpId,
    /// Every configured server, in priority order.
    pub servers: Vec<ServerOutcome>,
    /// Every URI once, sorted by URI, with the winning server.
    pub resources: Vec<MergedResource>,
    /// Every resource template once, sorted by URI template.
    pub templates: Vec<MergedTemplate>,
    /// Every tool once, sorted by merged name (after the servers' `tools` filters).
    pub tools: Vec<MergedTool>,
    /// Every prompt once, sorted by merged name (after the servers' `prompts` filters).
    pub prompts: Vec<MergedPrompt>,
    /// The tool search index (`catalog/search.rs`), built on the first search of this catalogue.
    pub(crate) tool_index: crate::catalog::search::LazyToolIndex,
    /// Each server's `tools` filter (those that have one), which also bounds its app's calls.
    pub(crate) app_filters: BTreeMap<String, NameFilter>,
}

fn find<'a, T>(items: &'a [T], key: &str, name: impl Fn(&T) -> &str) -> Option<&'a T> {
    items.binary_search_by(|m| name(m).cmp(key)).ok().map(|i| &items[i])
}

impl Gathered {
    /// The merged entry for a URI.
    pub fn resource(&self, uri: &str) -> Option<&MergedResource> {
        find(&self.resources, uri, |m| &m.resource.uri)
    }

    /// The merged tool of this name: a lookup in a sorted table.
    pub fn tool(&self, name: &str) -> Option<&MergedTool> {
        find(&self.tools, name, |m| &m.name)
    }

    /// The merged prompt of this name.
    pub fn prompt(&self, name: &str) -> Option<&MergedPrompt> {
        find(&self.prompts, name, |m| &m.name)
    }

    /// The merged template with this URI template.
    pub fn template(&self, uri_template: &str) -> Option<&MergedTemplate> {
        find(&self.templates, uri_template, |m| &m.name)
    }

    /// The contents of a URI, as the winning server gave them.
    pub fn contents(&self, uri: &str) -> Option<&[ResourceContents]> {
        let winner = &self.resource(uri)?.server;
        let server = self.servers.iter().find(|s| &s.name == winner)?;
        server.data.as_ref()?.contents.get(uri).map(Vec::as_slice)
    }

    /// One server's outcome.
    pub fn server(&self, name: &str) -> Option<&ServerOutcome> {
        self.servers.iter().find(|s| s.name == name)
    }

    /// A tool an app (MCP Apps: the UI of `server`'s tools) may call: one of `server`'s own
    /// tools, by the server's name for it, whose visibility includes `"app"` and that the
    /// server's `tools` filter allows. App-only tools are found here, never in
    /// [`Gathered::tools`].
    pub fn app_tool(&self, server: &str, name: &str) -> Option<&Tool> {
        let data = self.server(server)?.data.as_ref()?;
        let tool = data.tools.iter().find(|t| t.name == name && t.visibility().app)?;
        self.app_filters.get(server).is_none_or(|f| f.allows(name)).then_some(tool)
    }

    /// The servers whose app-only tool (visibility without `"model"`) is named `name` on the
    /// server, in priority order: what a call by a name missing from [`Gathered::tools`] may
    /// have meant.
    pub fn app_only_owners(&self, name: &str) -> Vec<&str> {
        let app_only = |s: &&ServerOutcome| {
            s.data.as_ref().is_some_and(|d| d.tools.iter().any(|t| t.name == name && t.visibility().is_app_only()))
        };
        self.servers.iter().filter(app_only).map(|s| s.name.as_str()).collect()
    }

    /// The server to read `uri` from: the winner for a listed URI, else the first server (in
    /// priority order) with a template that matches it (RFC 6570 level 1).
    pub fn route_uri(&self, uri: &str) -> Option<UriRoute<'_>> {
        if let Some(m) = self.resource(uri) {
            return Some(UriRoute { server: &m.server, template: None });
        }
        self.servers.iter().find_map(|s| {
            let t = s.data.as_ref()?.templates.iter().find(|t| match_template(&t.uri_template, uri).is_some())?;
            Some(UriRoute { server: &s.name, template: Some(&t.uri_template) })
        })
    }

    /// Merges the servers' parts. `servers` must be in priority order (then name), as the
    /// config keeps them; the first to claim a name wins.
    pub(crate) fn merge(op: OpId, servers: Vec<ServerOutcome>, config: &Config) -> Gathered {
        let resources = merge_resources(&servers);
        let o = &config.orchestration;
        let filter = |server: &str, prompts: bool| -> Option<&NameFilter> {
            let s = config.servers.iter().find(|s| s.name == server)?;
            let f = if prompts { &s.prompts } else { &s.tools };
            (!f.is_empty()).then_some(f)
        };
        let templates = merge_kind(&servers, Naming::Priority, "", |d| &d.templates, |t| &t.uri_template, |_| None);
        // MCP Apps: a tool whose visibility excludes "model" never enters the merged catalogue
        // (the extension's MUST); its app calls it on its own server (`Gathered::app_tool`).
        let model_tools = |s: &str| ModelTools(filter(s, false));
        let tools = merge_kind(&servers, o.naming, &o.separator, |d| &d.tools, |t| &t.name, model_tools);
        let prompts = merge_kind(&servers, o.naming, &o.separator, |d| &d.prompts, |p| &p.name, |s| filter(s, true));
        let app_filters =
            config.servers.iter().filter(|s| !s.tools.is_empty()).map(|s| (s.name.clone(), s.tools.clone())).collect();
        Gathered { op, servers, resources, templates, tools, prompts, tool_index: Default::default(), app_filters }
    }
}

/// The merged resources, sorted by URI: the first server in `servers`' order (priority, then
/// name) to list a URI wins, and the later ones are its `shadowed`. What is sorted is one
/// (server, shared resource) pair per listed resource, and each merged entry shares its
/// resource with the server's part: a million listed resources are held once, not copied into a
/// tree and again into the view.
fn merge_resources(servers: &[ServerOutcome]) -> Vec<MergedResource> {
    let total = servers.iter().filter_map(|s| s.data.as_ref()).map(|d| d.resources.len()).sum();
    let mut listed: Vec<(usize, &Arc<Resource>)> = Vec::with_capacity(total);
    for (i, outcome) in servers.iter().enumerate() {
        if let Some(data) = &outcome.data {
            listed.extend(data.resources.iter().map(|r| (i, r)));
        }
    }
    // A stable sort: among equal URIs the servers' order, and each server's own, is kept.
    listed.sort_by(|a, b| a.1.uri.cmp(&b.1.uri));
    // Exact when no URI is listed twice (the common case).
    let mut merged: Vec<MergedResource> = Vec::with_capacity(listed.len());
    for (i, r) in listed {
        let outcome = &servers[i];
        match merged.last_mut() {
            Some(m) if m.resource.uri == r.uri => {
                if m.server != outcome.name && !m.shadowed.contains(&outcome.name) {
                    m.shadowed.push(outcome.name.clone());
                }
            }
            _ => merged.push(MergedResource {
                server: outcome.name.clone(),
                priority: outcome.priority,
                resource: Arc::clone(r),
                shadowed: Vec::new(),
            }),
        }
    }
    if merged.len() < merged.capacity() / 2 {
        merged.shrink_to_fit();
    }
    merged
}

/// Which of a server's items enter a merged view.
trait Keep<T> {
    fn keeps(&self, item: &T, name: &str) -> bool;
}

/// A server's name filter (`tools`, `prompts`), if it has one.
impl<T> Keep<T> for Option<&NameFilter> {
    fn keeps(&self, _: &T, name: &str) -> bool {
        self.is_none_or(|f| f.allows(name))
    }
}

/// The tools a model may see: the name filter's, without the app-only ones (MCP Apps).
struct ModelTools<'f>(Option<&'f NameFilter>);

impl Keep<Tool> for ModelTools<'_> {
    fn keeps(&self, tool: &Tool, name: &str) -> bool {
        !tool.visibility().is_app_only() && self.0.keeps(tool, name)
    }
}

/// One kind's merged view, sorted by merged name.
fn merge_kind<T: Clone, K: Keep<T>>(
    servers: &[ServerOutcome],
    naming: Naming,
    separator: &str,
    items: impl Fn(&ServerResources) -> &Vec<T>,
    name: impl Fn(&T) -> &String,
    filter: impl Fn(&str) -> K,
) -> Vec<Merged<T>> {
    // Who offers each original name (after the filters), for `prefix_on_collision`.
    let offered: Vec<(&ServerOutcome, Vec<&T>)> = servers
        .iter()
        .filter_map(|s| {
            let data = s.data.as_ref()?;
            let f = filter(&s.name);
            let kept = items(data).iter().filter(|t| f.keeps(t, name(t))).collect();
            Some((s, kept))
        })
        .collect();
    let mut holders: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    if naming == Naming::PrefixOnCollision {
        for (s, kept) in &offered {
            for t in kept {
                holders.entry(name(t).as_str()).or_default().insert(&s.name);
            }
        }
    }
    let mut merged: BTreeMap<String, Merged<T>> = BTreeMap::new();
    for (s, kept) in &offered {
        for t in kept {
            let original = name(t);
            let prefixed = match naming {
                Naming::Priority => false,
                Naming::Prefix => true,
                Naming::PrefixOnCollision => holders.get(original.as_str()).is_some_and(|h| h.len() > 1),
            };
            let merged_name = if prefixed { format!("{}{separator}{original}", s.name) } else { original.clone() };
            match merged.get_mut(&merged_name) {
                Some(m) => {
                    if m.server != s.name && !m.shadowed.contains(&s.name) {
                        m.shadowed.push(s.name.clone());
                    }
                }
                None => {
                    merged.insert(
                        merged_name.clone(),
                        Merged {
                            name: merged_name,
                            server: s.name.clone(),
                            original: original.clone(),
                            priority: s.priority,
                            item: (*t).clone(),
                            shadowed: Vec::new(),
                        },
                    );
                }
            }
        }
    }
    merged.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Orchestration, ServerConfig};

    fn tool(name: &str) -> Tool {
        Tool {
            name: name.into(),
            title: None,
            description: None,
            input_schema: serde_json::json!({"type": "object"}),
            output_schema: None,
            annotations: None,
            icons: None,
            execution: None,
            meta: None,
        }
    }

    fn outcome(name: &str, priority: u32, tools: &[&str]) -> ServerOutcome {
        let data = ServerResources { tools: tools.iter().map(|t| tool(t)).collect(), ..Default::default() };
        ServerOutcome {
            name: name.into(),
            priority,
            status: Status::Ok,
            error: None,
            elapsed: Duration::ZERO,
            from_cache: false,
            protocol: None,
            transport: "sse",
            recovered: false,
            data: Some(Arc::new(data)),
        }
    }

    fn config(naming: Naming, names: &[&str]) -> Config {
        let servers = names.iter().map(|n| ServerConfig::sse(*n, "http://127.0.0.1:1/sse")).collect();
        Config::new(servers, Orchestration { naming, ..Orchestration::default() }).unwrap()
    }

    fn names(g: &Gathered) -> Vec<(String, String, String, Vec<String>)> {
        g.tools.iter().map(|m| (m.name.clone(), m.server.clone(), m.original.clone(), m.shadowed.clone())).collect()
    }

    fn row(n: &str, s: &str, o: &str, sh: &[&str]) -> (String, String, String, Vec<String>) {
        (n.into(), s.into(), o.into(), sh.iter().map(|x| x.to_string()).collect())
    }

    fn resource(uri: &str) -> Arc<Resource> {
        Arc::new(serde_json::from_value(serde_json::json!({"uri": uri, "name": uri})).unwrap())
    }

    fn with_resources(name: &str, priority: u32, uris: &[&str]) -> ServerOutcome {
        let data = ServerResources { resources: uris.iter().map(|u| resource(u)).collect(), ..Default::default() };
        ServerOutcome { data: Some(Arc::new(data)), ..outcome(name, priority, &[]) }
    }

    #[test]
    fn resources_merge_by_uri_in_priority_order_and_are_shared_not_copied() {
        let servers = vec![
            with_resources("a", 1, &["z://1", "m://2", "z://1"]), // listed twice by its own server
            with_resources("b", 2, &["m://2", "a://3"]),
            with_resources("c", 3, &["m://2"]),
        ];
        let g = Gathered::merge(OpId::new(), servers, &config(Naming::Priority, &["a", "b", "c"]));
        let rows: Vec<(&str, &str, Vec<&str>)> = g
            .resources
            .iter()
            .map(|m| (m.resource.uri.as_str(), m.server.as_str(), m.shadowed.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(rows, [("a://3", "b", vec![]), ("m://2", "a", vec!["b", "c"]), ("z://1", "a", vec![])]);
        // The merged view holds the winner's own resource, not a copy of it.
        let a = g.servers[0].data.as_ref().unwrap();
        assert!(Arc::ptr_eq(&g.resource("m://2").unwrap().resource, &a.resources[1]));
        assert!(Arc::ptr_eq(&g.resource("z://1").unwrap().resource, &a.resources[0]));
    }

    #[test]
    fn each_naming_mode() {
        let servers = || vec![outcome("a", 1, &["q", "only_a"]), outcome("b", 1, &["q"]), outcome("c", 5, &["q"])];
        let g = Gathered::merge(OpId::new(), servers(), &config(Naming::Priority, &["a", "b", "c"]));
        assert_eq!(names(&g), [row("only_a", "a", "only_a", &[]), row("q", "a", "q", &["b", "c"])]);
        let g = Gathered::merge(OpId::new(), servers(), &config(Naming::Prefix, &["a", "b", "c"]));
        assert_eq!(
            names(&g),
            [
                row("a_only_a", "a", "only_a", &[]),
                row("a_q", "a", "q", &[]),
                row("b_q", "b", "q", &[]),
                row("c_q", "c", "q", &[])
            ]
        );
        let g = Gathered::merge(OpId::new(), servers(), &config(Naming::PrefixOnCollision, &["a", "b", "c"]));
        assert_eq!(
            names(&g),
            [
                row("a_q", "a", "q", &[]),
                row("b_q", "b", "q", &[]),
                row("c_q", "c", "q", &[]),
                row("only_a", "a", "only_a", &[])
            ]
        );
        assert_eq!(g.tool("b_q").unwrap().server, "b");
        assert!(g.tool("q").is_none());
    }

    #[test]
    fn a_prefixed_name_that_collides_again_goes_by_priority() {
        // `a` + `b_x` and `a_b` + `x` both give `a_b_x` under `prefix`.
        let servers = vec![outcome("a", 1, &["b_x"]), outcome("a_b", 2, &["x"])];
        let g = Gathered::merge(OpId::new(), servers, &config(Naming::Prefix, &["a", "a_b"]));
        assert_eq!(names(&g), [row("a_b_x", "a", "b_x", &["a_b"])]);
    }

    #[test]
    fn filters_apply_before_naming() {
        let mut c = config(Naming::PrefixOnCollision, &["a", "b"]);
        c.servers[1].tools = NameFilter { include: vec!["q*".into()], exclude: vec!["q_secret".into()] };
        let servers = vec![outcome("a", 1, &["q"]), outcome("b", 2, &["q_secret", "q2", "other"])];
        let g = Gathered::merge(OpId::new(), servers, &c);
        assert_eq!(names(&g), [row("q", "a", "q", &[]), row("q2", "b", "q2", &[])]);
    }

    #[test]
    fn app_only_tools_stay_out_of_the_merged_view_but_their_server_keeps_them() {
        let mut a = outcome("a", 1, &["q"]);
        let mut app_only = tool("refresh");
        app_only.meta = Some(serde_json::json!({"ui": {"resourceUri": "ui://a/view.html", "visibility": ["app"]}}));
        let mut both = tool("show");
        both.meta = Some(serde_json::json!({"ui/resourceUri": "ui://a/old.html"}));
        let data = ServerResources { tools: vec![tool("q"), app_only, both], ..Default::default() };
        a.data = Some(Arc::new(data));
        let b = outcome("b", 2, &["refresh"]);
        let g = Gathered::merge(OpId::new(), vec![a, b], &config(Naming::PrefixOnCollision, &["a", "b"]));
        // `refresh` is offered to the model by `b` alone: no collision, no prefix.
        assert_eq!(
            names(&g),
            [row("q", "a", "q", &[]), row("refresh", "b", "refresh", &[]), row("show", "a", "show", &[])]
        );
        assert_eq!(g.tool("show").unwrap().ui_resource_uri(), Some("ui://a/old.html"), "the older flat key");
        assert_eq!(g.app_tool("a", "refresh").unwrap().ui_resource_uri(), Some("ui://a/view.html"));
        assert!(g.app_tool("a", "nope").is_none());
        assert_eq!(g.app_only_owners("refresh"), ["a"]);
        assert!(g.app_only_owners("q").is_empty());
    }

    #[test]
    fn visibility_defaults_to_both() {
        let with = |v: serde_json::Value| {
            let mut t = tool("t");
            t.meta = Some(serde_json::json!({"ui": {"visibility": v}}));
            t.visibility()
        };
        assert_eq!(tool("t").visibility(), crate::protocol::Visibility::BOTH);
        assert_eq!(with(serde_json::json!([])), crate::protocol::Visibility::BOTH);
        assert_eq!(with(serde_json::json!("app")), crate::protocol::Visibility::BOTH, "not a list");
        assert!(with(serde_json::json!(["app"])).is_app_only());
        assert!(!with(serde_json::json!(["model"])).app);
        assert!(!with(serde_json::json!(["model", "app"])).is_app_only());
    }

    #[test]
    fn ui_uris_route_like_any_other() {
        let mut a = outcome("a", 1, &[]);
        let t = ResourceTemplate {
            uri_template: "ui://a/{view}.html".into(),
            name: "views".into(),
            title: None,
            description: None,
            mime_type: Some(crate::protocol::UI_MIME_TYPE.into()),
            annotations: None,
            icons: None,
            meta: None,
        };
        let data = ServerResources { templates: vec![t], ..Default::default() };
        a.data = Some(Arc::new(data));
        let g = Gathered::merge(OpId::new(), vec![a, outcome("b", 2, &[])], &config(Naming::Priority, &["a", "b"]));
        let route = g.route_uri("ui://a/chart.html").unwrap();
        assert_eq!((route.server, route.template), ("a", Some("ui://a/{view}.html")));
        assert!(g.route_uri("ui://b/chart.html").is_none());
    }

    #[test]
    fn templates_level_one() {
        let m = match_template("db://{table}/rows/{id}", "db://users/rows/42").unwrap();
        assert_eq!(m.get("table").map(String::as_str), Some("users"));
        assert_eq!(m.get("id").map(String::as_str), Some("42"));
        assert!(match_template("db://{table}/rows", "db://a/b/rows").is_none(), "a variable never spans a /");
        assert!(match_template("db://{table}", "db://").is_none(), "a variable is never empty");
        assert!(match_template("file:///{name}.txt", "file:///a%20b.txt").is_some());
        assert!(match_template("x://{+path}", "x://a").is_none(), "level 2 is not matched");
        assert!(match_template("x://{a", "x://a").is_none());
        assert!(match_template("x://plain", "x://plain").is_some());
        assert!(match_template("x://{a}{b}", "x://ab").is_some());
    }
}
