//! Paged listings: every page of resources, templates, tools and prompts, following
//! `nextCursor` within the listing budget (bytes, items, pages); the first pages of a gather in
//! flight together; which listed tools can be called, and how.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use serde::de::DeserializeOwned;
use serde_json::json;

use std::sync::Arc;

use super::{Client, KnownTool, OutputSchema};
use crate::error::{Error, Result};
use crate::op::OpId;
use crate::protocol::modern;
use crate::protocol::{
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, Prompt, Resource,
    ResourceTemplate, Tool,
};
use crate::schema::Schema;
use crate::session::Call;
use crate::session::detect::Wire;

/// Everything one server lists (what a gather needs besides the resources' contents).
#[derive(Debug, Default)]
pub(crate) struct Listings {
    /// Shared, each once, by the cache entry and the merged view.
    pub resources: Vec<Arc<Resource>>,
    pub templates: Vec<ResourceTemplate>,
    pub tools: Vec<Tool>,
    pub prompts: Vec<Prompt>,
}

impl Client {
    /// Every resource the server lists, following `nextCursor` to the last page.
    pub fn list_resources(&self) -> Result<Vec<Resource>> {
        self.list_resources_in(&OpId::new(), self.session.deadline())
    }

    /// Every resource template, following `nextCursor`.
    pub fn list_resource_templates(&self) -> Result<Vec<ResourceTemplate>> {
        self.list_resource_templates_in(&OpId::new(), self.session.deadline())
    }

    /// Every tool, following `nextCursor`.
    pub fn list_tools(&self) -> Result<Vec<Tool>> {
        self.list_tools_in(&OpId::new(), self.session.deadline())
    }

    /// Every prompt, following `nextCursor`.
    pub fn list_prompts(&self) -> Result<Vec<Prompt>> {
        self.list_prompts_in(&OpId::new(), self.session.deadline())
    }

    pub(crate) fn list_prompts_in(&self, op: &OpId, deadline: Instant) -> Result<Vec<Prompt>> {
        self.list_all(op, "prompts/list", deadline, |p: ListPromptsResult| (p.prompts, p.next_cursor))
    }

    pub(crate) fn list_resources_in(&self, op: &OpId, deadline: Instant) -> Result<Vec<Resource>> {
        self.list_all(op, "resources/list", deadline, |p: ListResourcesResult| (p.resources, p.next_cursor))
    }

    pub(crate) fn list_resource_templates_in(&self, op: &OpId, deadline: Instant) -> Result<Vec<ResourceTemplate>> {
        self.list_all(op, "resources/templates/list", deadline, |p: ListResourceTemplatesResult| {
            (p.resource_templates, p.next_cursor)
        })
    }

    pub(crate) fn list_tools_in(&self, op: &OpId, deadline: Instant) -> Result<Vec<Tool>> {
        let tools = self.list_all(op, "tools/list", deadline, |p: ListToolsResult| (p.tools, p.next_cursor))?;
        Ok(self.callable_tools(op, tools))
    }

    /// The listed tools that can be called: on the modern wire over HTTP, a tool whose
    /// `x-mcp-header` annotations are invalid cannot be called correctly and is left out, with
    /// a warning; the others' headers are remembered for their calls.
    /// Also remembers what a call needs of each tool kept ([`KnownTool`]).
    fn callable_tools(&self, op: &OpId, tools: Vec<Tool>) -> Vec<Tool> {
        let kept = if !self.is_modern() || self.wire == Wire::Stdio {
            tools
        } else {
            let mut headers = HashMap::new();
            let mut kept = Vec::with_capacity(tools.len());
            for tool in tools {
                match modern::param_headers(&tool.input_schema) {
                    Ok(h) => {
                        headers.insert(tool.name.clone(), h);
                        kept.push(tool);
                    }
                    Err(why) => log::warn!(
                        "op={op} server={}: leaving out tool `{}`: invalid x-mcp-header: {why}",
                        self.session.name,
                        tool.name
                    ),
                }
            }
            *self.tool_headers.lock().unwrap_or_else(|e| e.into_inner()) = Some(headers);
            kept
        };
        self.remember_tools(op, &kept);
        kept
    }

    /// Remembers each tool's resend hint and output schema, compiled (once: a schema the last
    /// listing had already is not compiled again). Compiling happens outside the lock.
    fn remember_tools(&self, op: &OpId, tools: &[Tool]) {
        let previous: HashMap<String, Arc<OutputSchema>> = {
            let known = self.known_tools.lock().unwrap_or_else(|e| e.into_inner());
            known.iter().filter_map(|(name, t)| Some((name.clone(), t.output.clone()?))).collect()
        };
        let known = tools
            .iter()
            .map(|tool| {
                let output = tool.output_schema.as_ref().map(|declared| match previous.get(&tool.name) {
                    Some(same) if same.declared == *declared => same.clone(),
                    _ => Arc::new(self.compile_output_schema(op, &tool.name, declared)),
                });
                let task_support = crate::protocol::tasks::TaskSupport::of(tool);
                (tool.name.clone(), KnownTool { idempotent: is_idempotent(tool), output, task_support })
            })
            .collect();
        *self.known_tools.lock().unwrap_or_else(|e| e.into_inner()) = known;
    }

    /// A tool's output schema, compiled; one the validator cannot read is logged (a warning, once
    /// per schema) and its tool's results are then not checked: checking is a SHOULD of MCP, and
    /// failing every call of a tool that works (after it ran) for a schema this crate cannot
    /// read would make the tool unusable through us.
    fn compile_output_schema(&self, op: &OpId, tool: &str, declared: &serde_json::Value) -> OutputSchema {
        let compiled = match Schema::compile(declared) {
            Ok(schema) => Some(schema),
            Err(e) => {
                log::warn!(
                    "op={op} server={}: tool `{tool}`: its outputSchema cannot be used, so its results are not checked: {e}",
                    self.session.name
                );
                None
            }
        };
        OutputSchema { declared: declared.clone(), compiled }
    }

    /// Every listing the server has the capability for (resources and templates, tools,
    /// prompts), each to its last page. Their first pages are in flight together, in one round
    /// trip, or over Streamable HTTP one by one while the server answers fast
    /// ([`start_first_pages`](Self::start_first_pages)); later pages, rare, follow one listing
    /// at a time.
    pub(crate) fn list_catalogue_in(&self, op: &OpId, deadline: Instant) -> Result<Listings> {
        let caps = &self.init.capabilities;
        let (resources, tools, prompts) = (caps.resources.is_some(), caps.tools.is_some(), caps.prompts.is_some());
        let mut methods: Vec<(&'static str, Option<serde_json::Value>)> = Vec::with_capacity(4);
        if resources {
            methods.push(("resources/list", None));
            methods.push(("resources/templates/list", None));
        }
        if tools {
            methods.push(("tools/list", None));
        }
        if prompts {
            methods.push(("prompts/list", None));
        }
        let mut firsts = self.start_first_pages(op, &methods, deadline).into_iter();
        let mut out = Listings::default();
        if resources {
            out.resources =
                self.list_from(op, "resources/list", deadline, firsts.next(), |p: ListResourcesResult| {
                    (p.resources.into_iter().map(Arc::new).collect(), p.next_cursor)
                })?;
            out.templates = self.list_from(
                op,
                "resources/templates/list",
                deadline,
                firsts.next(),
                |p: ListResourceTemplatesResult| (p.resource_templates, p.next_cursor),
            )?;
        }
        if tools {
            let listed = self
                .list_from(op, "tools/list", deadline, firsts.next(), |p: ListToolsResult| (p.tools, p.next_cursor))?;
            out.tools = self.callable_tools(op, listed);
        }
        if prompts {
            out.prompts = self.list_from(op, "prompts/list", deadline, firsts.next(), |p: ListPromptsResult| {
                (p.prompts, p.next_cursor)
            })?;
        }
        Ok(out)
    }

    fn list_all<P: DeserializeOwned, T>(
        &self,
        op: &OpId,
        method: &'static str,
        deadline: Instant,
        split: impl Fn(P) -> (Vec<T>, Option<String>),
    ) -> Result<Vec<T>> {
        self.list_from(op, method, deadline, None, split)
    }

    /// [`list_all`](Self::list_all) whose first page may have been requested already (`first`).
    fn list_from<P: DeserializeOwned, T>(
        &self,
        op: &OpId,
        method: &'static str,
        deadline: Instant,
        mut first: Option<Result<Call>>,
        split: impl Fn(P) -> (Vec<T>, Option<String>),
    ) -> Result<Vec<T>> {
        let mut items = Vec::new();
        let mut bytes = 0usize;
        let mut cursor: Option<String> = None;
        let mut seen = HashSet::new();
        for _ in 0..self.max_pages {
            let call = match first.take() {
                Some(call) => call?,
                None => {
                    let params = cursor.as_ref().map(|c| json!({ "cursor": c }));
                    self.session.start(op, method, params.as_ref(), deadline)?
                }
            };
            let raw = self.session.finish_raw(call, deadline)?;
            bytes = bytes.saturating_add(raw.get().len());
            if bytes > self.budget.bytes {
                return Err(self.limit(op, method, "listing bytes", self.budget.bytes));
            }
            let (mut page, next) = split(self.session.decode::<P>(op, method, &raw)?);
            drop(raw);
            items.append(&mut page);
            if items.len() > self.budget.items {
                return Err(self.limit(op, method, "listing items", self.budget.items));
            }
            match next {
                None => return Ok(items),
                Some(next) => {
                    if !seen.insert(next.clone()) {
                        return Err(self.session.protocol(op, method, format!("the server repeated cursor {next:?}")));
                    }
                    cursor = Some(next);
                }
            }
        }
        Err(self.limit(op, method, "page count", self.max_pages))
    }

    fn limit(&self, op: &OpId, method: &str, what: &'static str, limit: usize) -> Error {
        log::debug!("op={op} server={}: {method}: {what} over {limit}; giving up the listing", self.session.name);
        Error::Limit { server: self.session.name.to_string(), method: method.into(), op: op.clone(), what, limit }
    }
}

/// Whether a tool is annotated `readOnlyHint: true` or `idempotentHint: true`: calling it again
/// has no further effect, so a call whose reply was lost may be sent again.
fn is_idempotent(tool: &Tool) -> bool {
    let hint = |key: &str| tool.annotations.as_ref().and_then(|a| a.get(key)).and_then(|v| v.as_bool());
    hint("readOnlyHint") == Some(true) || hint("idempotentHint") == Some(true)
}
