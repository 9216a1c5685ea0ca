//! The session: the `Mcp-Session-Id` expired (a 404) is renewed once, by one request at a time
//! (a new `initialize` and `notifications/initialized`, the others waiting), and the session is
//! ended with a bounded `DELETE` at close.

use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::request::{Answers, Posted, Sink};
use super::{Inner, SESSION_HEADER, VERSION_HEADER, lock};
use crate::deadline::{Deadline, Phase};
use crate::error::{Error, Result};
use crate::jsonrpc::{self, Message, RequestId};
use crate::op::OpId;
use crate::protocol::{self, InitializeResult};
use crate::transport::http;

/// The bound on the `DELETE` of the session at close.
const DELETE_BOUND: Duration = Duration::from_secs(2);

impl Inner {
    /// Session `expired` is gone: initialize a new one, unless another request already has.
    /// One request renews at a time: the others wait for it (never past their deadline), then
    /// retry with the new session, or renew themselves if it failed.
    pub(super) fn renew(&self, expired: &str, op: &OpId, deadline: Deadline) -> Result<()> {
        let mut renewing = lock(&self.renewing);
        loop {
            let current = lock(&self.session_id).clone();
            if current.is_some_and(|c| c != expired) {
                log::debug!("op={op} server={}: the session was already renewed; retrying", self.server);
                return Ok(());
            }
            if !*renewing {
                *renewing = true;
                break;
            }
            let wait = deadline.remaining();
            if wait.is_zero() {
                return Err(self.ctx("initialize", op).timeout(Phase::SessionRenewal, wait));
            }
            renewing = self.renewed.wait_timeout(renewing, wait).unwrap_or_else(|e| e.into_inner()).0;
        }
        drop(renewing);
        let result = self.reinitialize(op, deadline);
        *lock(&self.renewing) = false;
        self.renewed.notify_all();
        result
    }

    /// The session expired: initialize a new one (the same params and version check as the
    /// first handshake), then `notifications/initialized`.
    fn reinitialize(&self, op: &OpId, deadline: Deadline) -> Result<()> {
        let ctx = self.ctx("initialize", op);
        if lock(&self.protocol_version).is_none() {
            return Err(ctx.closed("the session expired before it was initialized".into()));
        }
        log::info!("op={op} server={}: the session expired (404); initializing a new one", self.server);
        let n = self.reinit_seq.fetch_add(1, Ordering::Relaxed);
        let id = RequestId::String(format!("mcp-orchestrator-reinitialize-{n}"));
        let body =
            jsonrpc::encode_request(&id, "initialize", Some(&protocol::initialize_params(self.router.capabilities())));
        let answer: Mutex<Option<std::result::Result<Box<serde_json::value::RawValue>, jsonrpc::RpcError>>> =
            Mutex::new(None);
        let answers = Answers::new(deadline);
        let deliver = |text: &str| {
            let Ok(messages) = jsonrpc::decode(text) else {
                self.route(text, op, &answers);
                return;
            };
            for message in messages {
                match message {
                    Ok(Message::Response { id: Some(got), result }) if got == id => *lock(&answer) = Some(result),
                    _ => self.route(text, op, &answers),
                }
            }
        };
        let wanted = || lock(&answer).is_none();
        match self.post(&body, "initialize", op, deadline, &Sink { deliver: &deliver, wanted: &wanted })? {
            Posted::Done => {}
            Posted::Expired(_) => return Err(ctx.closed("re-initializing answered 404".into())),
            Posted::Lost(why) => return Err(ctx.closed(why)),
        }
        let result = lock(&answer).take();
        let raw = match result {
            Some(Ok(raw)) => raw,
            Some(Err(e)) => {
                return Err(Error::Rpc {
                    server: self.server.to_string(),
                    method: "initialize".into(),
                    op: op.clone(),
                    code: e.code,
                    message: e.message,
                    data: e.data.map(|d| d.to_string()),
                });
            }
            None => return Err(ctx.protocol("no answer to the new initialize".into())),
        };
        let init: InitializeResult = serde_json::from_str(raw.get())
            .map_err(|e| ctx.protocol(format!("the result does not have the expected shape: {e}")))?;
        protocol::check_protocol_version(&init.protocol_version).map_err(|detail| ctx.protocol(detail))?;
        let previous = lock(&self.protocol_version).replace(init.protocol_version.clone());
        if previous.as_deref() != Some(init.protocol_version.as_str()) {
            log::warn!(
                "op={op} server={}: the new session speaks protocol {} (was {previous:?})",
                self.server,
                init.protocol_version
            );
        }
        let body = jsonrpc::encode_notification::<()>("notifications/initialized", None);
        let none = Sink { deliver: &|t| self.route(t, op, &answers), wanted: &|| false };
        match self.post(&body, "notifications/initialized", op, deadline, &none)? {
            Posted::Done => Ok(()),
            Posted::Expired(_) => {
                Err(self.closed("notifications/initialized", op, "the new session expired at once".into()))
            }
            Posted::Lost(why) => Err(self.closed("notifications/initialized", op, why)),
        }
    }

    /// `DELETE` of the session, bounded; 405 (the server does not allow it) is fine.
    pub(super) fn delete_session(&self, op: &OpId) {
        let Some(session) = lock(&self.session_id).clone() else { return };
        let deadline = Deadline::after(DELETE_BOUND.min(self.options.request_timeout));
        let mut request = self.agent.delete(self.url.request_target()).header(SESSION_HEADER, &session);
        if let Some(v) = lock(&self.protocol_version).clone() {
            request = request.header(VERSION_HEADER, v);
        }
        if let Some(a) = self.bearer(deadline, op) {
            request = request.header("Authorization", a.expose());
        }
        let request = http::bounded(http::with_headers(request, &self.url, &self.headers, op), deadline);
        match request.call() {
            Ok(mut r) => {
                let _ = http::error_body(&mut r, deadline, None, &self.server);
                log::debug!("op={op} server={}: DELETE session: status {}", self.server, r.status().as_u16());
            }
            Err(e) => log::debug!("op={op} server={}: DELETE session failed: {}", self.server, http::describe(&e)),
        }
    }
}
