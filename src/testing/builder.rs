//! Describing a test server: the [`TestServerBuilder`] (what it offers — resources, templates,
//! tools, prompts —, its protocol mode, faults, gauges), and starting it on a port or over stdio.

use std::fs::File;
use std::io::{self, BufRead, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::Value;

use super::{Fault, Gauge, Spec, StdioEnd, TestServer, base64, server, stdio};
use crate::{
    CallToolResult, Content, ContentsBody, Prompt, PromptArgument, Resource, ResourceContents, ResourceTemplate, Tool,
};

/// Which protocols and transports the server speaks ([`TestServerBuilder::protocol_mode`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolMode {
    /// The `initialize` handshake only (the default): legacy HTTP+SSE on `/sse`, Streamable
    /// HTTP with sessions on `/mcp`; over stdio, `server/discover` is an unknown method.
    #[default]
    HandshakeOnly,
    /// The 2026-07-28 wire only, stateless, on `/mcp`: every request must carry the `_meta`
    /// envelope and matching routing headers (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`,
    /// `Mcp-Param-*`), checked in the spec's order (`-32602`, `-32020`, `-32022`, all `400`);
    /// `server/discover` answers; an unknown method is `404` `-32601`; an unknown resource is
    /// `400` `-32602`. A request without the envelope gets `400` `-32022`; `GET /sse` is `404`.
    /// Over stdio, `initialize` gets `-32022`. Every list may change (`listChanged: true`):
    /// `subscriptions/listen` is served — over HTTP an event stream with the acknowledgement,
    /// then what [`TestServer::notify`] sends; over stdio the acknowledgement and, with
    /// [`Fault::NotifyAfterInitialized`], a `notifications/resources/list_changed`. Cache hints:
    /// [`TestServerBuilder::cache_hints`].
    ModernOnly,
    /// Legacy HTTP+SSE only: `/mcp` answers `404`.
    LegacySseOnly,
    /// Both eras, told apart by the request (as the Python SDK 2.x does): over HTTP a POST to
    /// `/mcp` whose `MCP-Protocol-Version` is 2026-07-28 is the modern wire, anything else the
    /// handshake; over stdio the first request fixes the era for the process.
    Both,
}

/// Describes a [`TestServer`]; [`start`](TestServerBuilder::start) runs it.
#[derive(Debug)]
#[must_use = "a builder does nothing until `start` is called"]
pub struct TestServerBuilder {
    pub(super) spec: Spec,
    pub(super) gauges: Vec<Arc<Gauge>>,
    pub(super) events: Vec<File>,
}

impl TestServerBuilder {
    /// Which protocols and transports the server speaks (default
    /// [`ProtocolMode::HandshakeOnly`]).
    pub fn protocol_mode(mut self, mode: ProtocolMode) -> Self {
        self.spec.mode = mode;
        self
    }

    /// The `serverInfo.name` (default `test-server`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.spec.name = name.into();
        self
    }

    /// The `serverInfo.version` (default: this crate's version).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.spec.version = version.into();
        self
    }

    /// The `instructions` of the `initialize` result.
    pub fn instructions(mut self, instructions: impl Into<String>) -> Self {
        self.spec.instructions = Some(instructions.into());
        self
    }

    /// The `serverInfo.icons` of `initialize` (and of `server/discover`'s `_meta`), sent as
    /// given: unsafe ones too, for a client to drop.
    pub fn icons(mut self, icons: Vec<crate::Icon>) -> Self {
        self.spec.icons = Some(icons);
        self
    }

    /// Advertises the `logging` capability and answers `logging/setLevel` with `{}` (its
    /// params are in [`Stats::last_params`](super::Stats::last_params)); send log messages
    /// with [`TestServer::notify`] (`notifications/message`).
    pub fn logging(mut self) -> Self {
        self.spec.logging = true;
        self
    }

    /// A resource with text contents.
    pub fn text_resource(self, uri: &str, name: &str, mime_type: &str, text: &str) -> Self {
        let contents = ResourceContents {
            uri: uri.to_string(),
            mime_type: Some(mime_type.to_string()),
            body: ContentsBody::Text(text.to_string()),
            meta: None,
        };
        self.resource(plain_resource(uri, name, mime_type), Some(vec![contents]))
    }

    /// A resource with binary contents (sent base64-encoded, as MCP wants).
    pub fn blob_resource(self, uri: &str, name: &str, mime_type: &str, bytes: &[u8]) -> Self {
        let contents = ResourceContents {
            uri: uri.to_string(),
            mime_type: Some(mime_type.to_string()),
            body: ContentsBody::Blob(base64::encode(bytes)),
            meta: None,
        };
        self.resource(plain_resource(uri, name, mime_type), Some(vec![contents]))
    }

    /// A resource with every field under your control, and the contents `resources/read`
    /// returns for its URI (`None`: listed, but reading it answers "Resource not found").
    /// A later resource with the same URI replaces the contents, not the listing.
    pub fn resource(mut self, resource: Resource, contents: Option<Vec<ResourceContents>>) -> Self {
        match contents {
            Some(c) => {
                self.spec.contents.insert(resource.uri.clone(), c);
            }
            None => {
                self.spec.contents.remove(&resource.uri);
            }
        }
        self.spec.resources.push(resource);
        self
    }

    /// `n` text resources `test://resource/{i}` for `i` in `0..n`: name `resource-{i}`,
    /// MIME type `text/plain`, text `content of resource {i}`.
    pub fn with_sample_resources(mut self, n: usize) -> Self {
        for i in 0..n {
            self = self.text_resource(
                &format!("test://resource/{i}"),
                &format!("resource-{i}"),
                "text/plain",
                &format!("content of resource {i}"),
            );
        }
        self
    }

    /// A resource template.
    pub fn template(mut self, template: ResourceTemplate) -> Self {
        self.spec.templates.push(template);
        self
    }

    /// A tool and the handler `tools/call` runs with its `arguments` (`{}` when absent).
    /// `Err(message)` becomes a result with `isError: true` and the message as text; a panic
    /// becomes the same, with the panic's message.
    pub fn tool<F>(mut self, tool: Tool, handler: F) -> Self
    where
        F: Fn(&Value) -> Result<CallToolResult, String> + Send + Sync + 'static,
    {
        self.spec.handlers.insert(tool.name.clone(), Arc::new(handler));
        self.spec.tools.retain(|t| t.name != tool.name);
        self.spec.tools.push(tool);
        self
    }

    /// Runs the tool `name` (added with [`tool`](Self::tool) or [`simple_tool`](Self::simple_tool))
    /// as a task, as `behaviour` says: the server then declares tasks (2026-07-28: the
    /// `io.modelcontextprotocol/tasks` extension; 2025-11-25: `tasks.requests.tools.call`),
    /// and a call of the tool answers with a task (2026-07-28: when the request declares the
    /// extension; 2025-11-25: when its params carry `task`). Its `tasks/get` are counted in
    /// [`Stats::task_polls`](super::Stats::task_polls).
    pub fn task_tool(mut self, name: &str, behaviour: super::TaskBehaviour) -> Self {
        self.spec.task_tools.insert(name.to_string(), behaviour);
        self
    }

    /// The `pollIntervalMs` the tasks suggest (default 20 ms).
    pub fn task_poll_interval(mut self, interval: std::time::Duration) -> Self {
        self.spec.task_poll_interval = interval;
        self
    }

    /// A tool with only a name, a description and an input schema of `{"type": "object"}`.
    pub fn simple_tool<F>(self, name: &str, description: &str, handler: F) -> Self
    where
        F: Fn(&Value) -> Result<CallToolResult, String> + Send + Sync + 'static,
    {
        let tool = Tool {
            name: name.to_string(),
            title: None,
            description: Some(description.to_string()),
            input_schema: serde_json::json!({"type": "object"}),
            output_schema: None,
            annotations: None,
            icons: None,
            execution: None,
            meta: None,
        };
        self.tool(tool, handler)
    }

    /// A prompt whose one user message is `text`, each `{arg}` in it replaced by the argument
    /// of that name (each placeholder is a required argument).
    pub fn prompt(mut self, name: &str, text: &str) -> Self {
        let arguments = text
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(arg, _)| arg))
            .map(|arg| PromptArgument { name: arg.to_string(), title: None, description: None, required: Some(true) })
            .collect();
        let prompt = Prompt {
            name: name.to_string(),
            title: None,
            description: Some(format!("the prompt {name}")),
            arguments,
            icons: None,
            meta: None,
        };
        self.spec.prompts.retain(|(p, _)| p.name != name);
        self.spec.prompts.push((prompt, text.to_string()));
        self
    }

    /// A resource template with only a URI template and a name. `resources/read` of a URI that
    /// no resource lists but this template matches answers one text item `<server name>:<uri>`.
    pub fn simple_template(self, uri_template: &str, name: &str) -> Self {
        self.template(ResourceTemplate {
            uri_template: uri_template.to_string(),
            name: name.to_string(),
            title: None,
            description: None,
            mime_type: Some("text/plain".into()),
            annotations: None,
            icons: None,
            meta: None,
        })
    }

    /// Listens on this address instead of `127.0.0.1:0`, e.g. the address of a server that was
    /// shut down, to bring it back where clients knew it.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.spec.bind = Some(addr);
        self
    }

    /// On the 2026-07-28 wire, every cacheable result (`server/discover`, the four lists,
    /// `resources/read`) carries the cache hints `ttlMs` and `cacheScope` (`"public"` or
    /// `"private"`). Without this, list and read results carry none and `server/discover`
    /// says `ttlMs: 0, cacheScope: "private"`.
    pub fn cache_hints(mut self, ttl_ms: u64, scope: &str) -> Self {
        self.spec.cache_hints = Some((ttl_ms, scope.to_string()));
        self
    }

    /// Pages `resources/list`, `resources/templates/list` and `tools/list` with at most `n`
    /// items each (at least 1), linked by `nextCursor`. Default: everything in one page.
    pub fn page_size(mut self, n: usize) -> Self {
        self.spec.page_size = Some(n.max(1));
        self
    }

    /// Adds a fault. May be called several times.
    pub fn fault(mut self, fault: Fault) -> Self {
        self.spec.faults.push(fault);
        self
    }

    /// Also counts requests in flight on this gauge, which other servers may share.
    pub fn gauge(mut self, gauge: Arc<Gauge>) -> Self {
        self.gauges.push(gauge);
        self
    }

    /// Binds `127.0.0.1:0` and starts serving (with [`Fault::RefuseConnections`], binds and
    /// closes the port instead).
    ///
    /// # Errors
    ///
    /// When the port cannot be bound or the accept thread cannot be started.
    pub fn start(self) -> io::Result<TestServer> {
        server::start(self.spec, self.gauges)
    }

    /// Over stdio: appends a line to `file` for each thing the server sees or does, as
    /// `<name> <event>`: `start <pid>`, `in <method>` (a request or notification received),
    /// `out <method>` (its answer written), `answer <method>` (the client's answer to a server
    /// request), `eof`, `closed`, `exit <status>`. Each line is one `write`, so servers of one
    /// test may share a file (opened for appending) and a test can read the order of events
    /// across processes. May be given several files. (Over HTTP, use [`TestServer::stats`] and [`gauge`](Self::gauge).)
    pub fn event_log(mut self, file: File) -> Self {
        self.events.push(file);
        self
    }

    /// Serves over stdio instead of a port: newline-delimited JSON-RPC read from `input`,
    /// answers and server messages written to `output` (one line each, flushed). Returns when
    /// the input ends (with [`Fault::IgnoreEndOfInput`]: never), when [`Fault::CloseStreamOn`]
    /// fires, or at once with [`Fault::ExitAtStart`]; the caller (a process's `main`) decides
    /// what the end means, e.g. exiting with a status. The `mcp-test-server` binary of this
    /// package is this over its stdin and stdout, configured by flags.
    ///
    /// # Errors
    ///
    /// When the writer thread cannot be started.
    pub fn serve_stdio(self, input: impl BufRead, output: impl Write + Send + 'static) -> io::Result<StdioEnd> {
        stdio::serve(&self.spec, self.events, input, output)
    }
}

pub(super) fn plain_resource(uri: &str, name: &str, mime_type: &str) -> Resource {
    Resource {
        uri: uri.to_string(),
        name: name.to_string(),
        title: None,
        description: None,
        mime_type: Some(mime_type.to_string()),
        size: None,
        annotations: None,
        icons: None,
        meta: None,
    }
}

/// A tool result with one text item.
pub fn text_result(text: impl Into<String>) -> CallToolResult {
    CallToolResult {
        content: vec![Content::Text { text: text.into(), annotations: None }],
        structured_content: None,
        is_error: false,
        meta: None,
    }
}
