//! One request at a time: read a resource, get a prompt, call a tool (with its `Mcp-Param-*`
//! headers on the 2026-07-28 wire, and one retry after a header mismatch).

use std::time::Instant;

use serde_json::json;

use super::Client;
use super::tasks::{Started, Waiting};
use crate::error::{Error, Result};
use crate::op::OpId;
use crate::protocol::modern;
use crate::protocol::tasks::TaskSupport;
use crate::protocol::{CallToolResult, GetPromptResult, ReadResourceResult, ResourceContents};
use crate::session::RequestOptions;
use crate::session::detect::Wire;
use crate::transport::deadline_in;

/// What a tool call carries besides its arguments: `serve` passes its downstream client's
/// progress and cancellation through.
#[derive(Clone, Debug, Default)]
pub(crate) struct CallControl {
    /// Sent as `_meta.progressToken`: the server's `notifications/progress` carry it.
    pub progress_token: Option<serde_json::Value>,
    /// Cancels the call when it disconnects (see `RequestOptions::cancel`).
    pub cancel: Option<crossbeam_channel::Receiver<()>>,
}

impl Client {
    /// A prompt, filled in with string arguments (`prompts/get`).
    pub fn get_prompt(
        &self,
        name: &str,
        arguments: &std::collections::BTreeMap<String, String>,
    ) -> Result<GetPromptResult> {
        self.get_prompt_in(&OpId::new(), name, arguments, self.session.deadline())
    }

    /// The contents of one resource.
    pub fn read_resource(&self, uri: &str) -> Result<Vec<ResourceContents>> {
        self.read_resource_in(&OpId::new(), uri, self.session.deadline())
    }

    pub(crate) fn read_resource_in(&self, op: &OpId, uri: &str, deadline: Instant) -> Result<Vec<ResourceContents>> {
        let params = json!({ "uri": uri });
        let raw = self.session.request_with_input(op, "resources/read", params, deadline, &Default::default())?;
        self.session.decode::<ReadResourceResult>(op, "resources/read", &raw).map(|r| r.contents)
    }

    pub(crate) fn get_prompt_in(
        &self,
        op: &OpId,
        name: &str,
        arguments: &std::collections::BTreeMap<String, String>,
        deadline: Instant,
    ) -> Result<GetPromptResult> {
        let params = json!({ "name": name, "arguments": arguments });
        let call = self.session.start(op, "prompts/get", Some(&params), deadline)?;
        self.session.finish(call, deadline)
    }

    /// Calls a tool with JSON arguments (an object). The result is never cached.
    ///
    /// When the reply is lost (over Streamable HTTP, a reply stream that broke and could not be
    /// resumed), the call is sent again, once, with a new id, only if the tool is annotated
    /// `readOnlyHint` or `idempotentHint` in this client's last [`list_tools`](Client::list_tools)
    /// (and the server has not said since that its tools changed); otherwise the error is [`Error::ConnectionClosed`] saying the call may have run.
    /// (Listings and reads whose reply is lost are always sent again once.)
    ///
    /// When the tool declared an `outputSchema` in this client's last `list_tools` (or the
    /// orchestrator's gather through it), the result's `structuredContent` is checked against
    /// it ([`Schema`](crate::Schema)); a result that does not match, or has no
    /// `structuredContent`, is [`Error::InvalidOutput`] (kind [`ErrorKind::Schema`](crate::ErrorKind::Schema)),
    /// naming the place in the result. A result with `isError: true` is not checked, nor one of a
    /// tool never listed, nor one whose schema this crate cannot read (a warning says so when the
    /// tool is listed).
    pub fn call_tool(&self, name: &str, arguments: serde_json::Value) -> Result<CallToolResult> {
        self.call_tool_in(&OpId::new(), name, arguments, deadline_in(self.tool_timeout()), &CallControl::default())
    }

    /// The `Mcp-Param-*` headers of a call (the modern wire over HTTP); lists the tools first
    /// when they were never listed.
    fn param_headers(
        &self,
        op: &OpId,
        name: &str,
        arguments: &serde_json::Value,
        deadline: Instant,
    ) -> Vec<(String, String)> {
        if !self.is_modern() || self.wire == Wire::Stdio {
            return Vec::new();
        }
        let listed = self.tool_headers.lock().unwrap_or_else(|e| e.into_inner()).is_some();
        if !listed && let Err(e) = self.list_tools_in(op, deadline) {
            log::debug!("op={op} server={}: listing tools for their headers failed: {e}", self.session.name);
        }
        let map = self.tool_headers.lock().unwrap_or_else(|e| e.into_inner());
        map.as_ref().and_then(|m| m.get(name)).map(|h| modern::param_header_values(h, arguments)).unwrap_or_default()
    }

    /// A tool call within `deadline`. A server that answers with a task (MCP Tasks) is polled
    /// to the result, within the same deadline (see `client/tasks.rs`).
    pub(crate) fn call_tool_in(
        &self,
        op: &OpId,
        name: &str,
        arguments: serde_json::Value,
        deadline: Instant,
        control: &CallControl,
    ) -> Result<CallToolResult> {
        // A 2025-11-25 tool that requires a task is called as one (and waited for).
        let ask = self.asks_for_task(op, name, deadline, TaskSupport::Required);
        let raw = self.call_tool_raw(op, name, arguments, deadline, control, ask)?;
        let result = match self.started(op, &raw)? {
            Started::Plain(result) => result,
            Started::Task(mut state) => {
                let cancel = control.cancel.as_ref();
                self.wait_task(op, &mut state, deadline, &mut Waiting::default(), &mut |_| {}, cancel)?
            }
        };
        self.check_output(op, name, &result)?;
        Ok(result)
    }

    /// The raw answer of a `tools/call` (with `task: {}` in its params when `ask_task`, the
    /// 2025-11-25 way of asking for a task), after its `input_required` rounds and one retry
    /// after a header mismatch.
    pub(crate) fn call_tool_raw(
        &self,
        op: &OpId,
        name: &str,
        arguments: serde_json::Value,
        deadline: Instant,
        control: &CallControl,
        ask_task: bool,
    ) -> Result<Box<serde_json::value::RawValue>> {
        let mut params = json!({ "name": name, "arguments": arguments });
        if ask_task {
            params["task"] = json!({});
        }
        let mut meta = serde_json::Map::new();
        if let Some(token) = &control.progress_token {
            if self.is_modern() {
                meta.insert("progressToken".into(), token.clone());
            } else {
                params["_meta"] = json!({ "progressToken": token });
            }
        }
        // (On the modern wire over HTTP this lists the tools when they never were.)
        let headers = self.param_headers(op, name, &arguments, deadline);
        let idempotent = self.idempotent(name);
        let cancel = control.cancel.clone();
        let options =
            RequestOptions { headers, idempotent, meta: meta.clone(), cancel: cancel.clone(), ..Default::default() };
        match self.session.request_with_input(op, "tools/call", params.clone(), deadline, &options) {
            // The tool's schema (its headers) may have changed: list the tools again, retry once.
            Err(Error::Rpc { code: modern::HEADER_MISMATCH, .. }) if self.is_modern() && self.wire != Wire::Stdio => {
                log::debug!("op={op} server={}: `{name}`: header mismatch; listing tools again", self.session.name);
                self.list_tools_in(op, deadline)?;
                let options = RequestOptions {
                    headers: self.param_headers(op, name, &arguments, deadline),
                    idempotent: self.idempotent(name),
                    meta,
                    cancel,
                    ..Default::default()
                };
                self.session.request_with_input(op, "tools/call", params, deadline, &options)
            }
            other => other,
        }
    }

    /// Whether the last listing annotated the tool read-only or idempotent (`None`: unknown).
    fn idempotent(&self, tool: &str) -> Option<bool> {
        self.known_tools.lock().unwrap_or_else(|e| e.into_inner()).get(tool).map(|t| t.idempotent)
    }

    /// Checks a result against the output schema its tool declared in the last listing (when the
    /// tool is known, declares one this crate can read, and the result is not `isError`).
    pub(crate) fn check_output(&self, op: &OpId, tool: &str, result: &CallToolResult) -> Result<()> {
        if result.is_error {
            return Ok(());
        }
        let known = self.known_tools.lock().unwrap_or_else(|e| e.into_inner()).get(tool).and_then(|t| t.output.clone());
        let Some(schema) = known.as_ref().and_then(|o| o.compiled.as_ref()) else { return Ok(()) };
        let invalid = |path: &str, detail: String| {
            log::debug!(
                "op={op} server={}: tools/call `{tool}`: structuredContent fails outputSchema at {path:?}: {detail}",
                self.session.name
            );
            Error::InvalidOutput {
                server: self.session.name.to_string(),
                tool: tool.to_string(),
                op: op.clone(),
                path: path.to_string(),
                detail,
            }
        };
        match &result.structured_content {
            None => Err(invalid("", "the result has no structuredContent (the tool declares an outputSchema)".into())),
            Some(value) => schema
                .validate(value)
                .map_err(|v| invalid(v.instance_path(), format!("{}; keyword {}", v.message(), v.schema_path()))),
        }
    }
}
