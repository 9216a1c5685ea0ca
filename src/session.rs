//! [`Session`]: the protocol on one connection, whatever the transport — request ids, the
//! pending table (through the [`Router`]), the handshake, deadlines, cancellation, close.
//!
//! A request is made in two steps: [`Session::start`] registers it and sends it from the
//! caller's thread; [`Session::finish`] waits for its answer until the deadline. A request that
//! passes its deadline is forgotten at once and the caller gets its `Timeout`; telling the server
//! (`notifications/cancelled`) is clean-up, done off the caller's path by the session's
//! [`Cleanup`] thread.

mod cleanup;
// Multi round-trip requests (2026-07-28); the modern wire's call path uses it (owner: conformance).
#[allow(dead_code)] // reason: called once the 2026-07-28 call path lands (branch proto); unit-tested here
pub(crate) mod input_required;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::error::{Error, Result};
use crate::jsonrpc::{self, RequestId};
use crate::op::OpId;
use crate::protocol::{self, InitializeResult};
use crate::transport::{Reply, Router, Transport, deadline_in};

pub(crate) use cleanup::Cleanup;

/// How long the clean-up thread spends telling a server about one request we gave up on.
pub(crate) const CANCEL_DEADLINE: Duration = Duration::from_secs(2);

/// A request sent and awaiting its answer.
pub(crate) struct Call {
    id: RequestId,
    rx: Receiver<Reply>,
    method: &'static str,
    op: OpId,
    sent: Instant,
}

/// The transport-independent half of a client: ids, the pending table, deadlines, cancellation.
pub(crate) struct Session {
    pub(crate) name: Arc<str>,
    pub(crate) router: Arc<Router>,
    pub(crate) transport: Arc<dyn Transport>,
    next_id: AtomicI64,
    pub(crate) timeout: Duration,
    closed: AtomicBool,
    cleanup: Cleanup,
}

impl Session {
    /// A session over a connected transport; nothing is sent yet.
    pub(crate) fn new(name: Arc<str>, router: Arc<Router>, transport: Arc<dyn Transport>, timeout: Duration) -> Self {
        let cleanup = Cleanup::new(name.clone(), transport.clone());
        Session {
            name,
            router,
            transport,
            next_id: AtomicI64::new(1),
            timeout,
            closed: AtomicBool::new(false),
            cleanup,
        }
    }

    /// The deadline of a request made now.
    pub(crate) fn deadline(&self) -> Instant {
        deadline_in(self.timeout)
    }

    /// Whether the session is gone (closed, or the connection ended).
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst) || self.router.is_dead()
    }

    /// `initialize`, the version check, `notifications/initialized`.
    pub(crate) fn handshake(&self, op: &OpId, deadline: Instant) -> Result<InitializeResult> {
        let call =
            self.start(op, "initialize", Some(&protocol::initialize_params(self.router.capabilities())), deadline)?;
        let init: InitializeResult = self.finish(call, deadline)?;
        protocol::check_protocol_version(&init.protocol_version).map_err(|d| self.protocol(op, "initialize", d))?;
        self.transport.set_protocol_version(&init.protocol_version);
        let body = jsonrpc::encode_notification::<()>("notifications/initialized", None);
        self.transport.send(body, "notifications/initialized", op, deadline)?;
        Ok(init)
    }

    /// Registers and sends a request. A send that times out may have reached the server: it is
    /// cancelled (off the caller's path) like a request whose answer never came.
    pub(crate) fn start<P: Serialize>(
        &self,
        op: &OpId,
        method: &'static str,
        params: Option<&P>,
        deadline: Instant,
    ) -> Result<Call> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::Closed { what: format!("client `{}`", self.name), op: op.clone() });
        }
        let id = RequestId::Number(self.next_id.fetch_add(1, Ordering::Relaxed));
        let rx = self.router.register(id.clone(), op).map_err(|why| self.reply_error(why, op, method))?;
        let body = jsonrpc::encode_request(&id, method, params);
        log::debug!("op={op} server={}: -> {method} (id {id})", self.name);
        log::trace!("op={op} server={}: -> {}", self.name, String::from_utf8_lossy(&body));
        let sent = Instant::now();
        let call = Call { id, rx, method, op: op.clone(), sent };
        if let Err(e) = self.transport.send(body, method, op, deadline) {
            if self.router.forget(&call.id) && matches!(e, Error::Timeout { .. }) {
                self.cancel(&call);
            }
            return Err(e);
        }
        Ok(call)
    }

    /// Waits for a request's answer until `deadline` and decodes its result.
    pub(crate) fn finish<R: DeserializeOwned>(&self, call: Call, deadline: Instant) -> Result<R> {
        let (op, method) = (call.op.clone(), call.method);
        let raw = self.finish_raw(call, deadline)?;
        self.decode(&op, method, &raw)
    }

    /// Decodes a raw result into its type.
    pub(crate) fn decode<R: DeserializeOwned>(&self, op: &OpId, method: &str, raw: &RawValue) -> Result<R> {
        serde_json::from_str(raw.get())
            .map_err(|e| self.protocol(op, method, format!("the result does not have the expected shape: {e}")))
    }

    /// Waits for a request's answer until `deadline`; the result stays raw. A request that
    /// passes its deadline fails at once with `Timeout`; its cancellation is queued for the
    /// clean-up thread (never for `initialize`, which the spec forbids cancelling).
    pub(crate) fn finish_raw(&self, call: Call, deadline: Instant) -> Result<Box<RawValue>> {
        let reply = match call.rx.recv_deadline(deadline) {
            Ok(reply) => reply,
            Err(RecvTimeoutError::Timeout) => {
                if self.router.forget(&call.id) {
                    self.cancel(&call);
                    return Err(Error::Timeout {
                        server: self.name.to_string(),
                        method: call.method.into(),
                        op: call.op,
                        phase: crate::deadline::Phase::NoResponse,
                        after: call.sent.elapsed(),
                    });
                }
                // The answer arrived as the deadline passed: it is in the channel. Keep it.
                match call.rx.try_recv() {
                    Ok(reply) => reply,
                    Err(_) => Reply::Closed("the request was abandoned".into()),
                }
            }
            Err(RecvTimeoutError::Disconnected) => Reply::Closed("the session ended".into()),
        };
        match reply {
            Reply::Result(raw) => {
                log::debug!(
                    "op={} server={}: <- {} (id {}, {:?})",
                    call.op,
                    self.name,
                    call.method,
                    call.id,
                    call.sent.elapsed()
                );
                log::trace!("op={} server={}: <- {}", call.op, self.name, raw.get());
                Ok(raw)
            }
            other => Err(self.reply_error(other, &call.op, call.method)),
        }
    }

    fn reply_error(&self, reply: Reply, op: &OpId, method: &str) -> Error {
        let server = self.name.to_string();
        let (op, method) = (op.clone(), method.to_string());
        match reply {
            Reply::Rpc(e) => {
                Error::Rpc { server, method, op, code: e.code, message: e.message, data: e.data.map(|d| d.to_string()) }
            }
            Reply::Closed(detail) => Error::ConnectionClosed { server, method, op, detail },
            Reply::Limit { what, limit } => Error::Limit { server, method, op, what, limit },
            Reply::Result(_) => Error::Protocol { server, method, op, detail: "unexpected result".into() },
        }
    }

    /// A protocol error naming this server, `method` and `op`.
    pub(crate) fn protocol(&self, op: &OpId, method: &str, detail: String) -> Error {
        Error::Protocol { server: self.name.to_string(), method: method.into(), op: op.clone(), detail }
    }

    /// Queues `notifications/cancelled` for a request we gave up on; returns at once.
    fn cancel(&self, call: &Call) {
        if call.method == "initialize" {
            // "The initialize request MUST NOT be cancelled by clients" (MCP, cancellation).
            log::debug!("op={} server={}: not cancelling initialize (id {})", call.op, self.name, call.id);
            return;
        }
        let reason = format!("timeout after {:?}", call.sent.elapsed());
        let until = deadline_in(CANCEL_DEADLINE.min(self.timeout));
        self.cleanup.cancel(&call.id, call.method, &call.op, reason, until);
    }

    /// Ends the session: pending requests fail at once, the transport closes, the clean-up
    /// thread is joined (bounded). Idempotent.
    pub(crate) fn close(&self) {
        if !self.closed.swap(true, Ordering::SeqCst) {
            log::debug!("server={}: closing", self.name);
            self.cleanup.stop();
            self.transport.close();
            self.cleanup.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    /// A server that answers each of our answers with another `ping` (as a Streamable HTTP
    /// server can, in the reply to the POST of our answer): the router answers them one after
    /// the other, never nested more than one level, and stops a chain that does not end.
    #[test]
    fn server_requests_are_answered_iteratively() {
        let router = Router::new("s".into(), OpId::new(), None);
        let (depth, max_depth, answered) = (Cell::new(0usize), Cell::new(0usize), Cell::new(0usize));
        let ping = |k: usize| format!(r#"{{"jsonrpc":"2.0","id":"p{k}","method":"ping"}}"#);
        let reply = |body: Vec<u8>, method: &str| {
            assert_eq!(method, "ping");
            assert!(String::from_utf8(body).unwrap().contains(r#""result":{}"#));
            answered.set(answered.get() + 1);
            depth.set(depth.get() + 1);
            max_depth.set(max_depth.get().max(depth.get()));
            if answered.get() < 200 {
                // The reply to our answer carries the next request.
                router.handle(&ping(answered.get()), &|_, _| unreachable!("queued for the outermost call"));
            }
            depth.set(depth.get() - 1);
        };
        router.handle(&ping(0), &reply);
        assert_eq!(answered.get(), 200);
        assert_eq!(max_depth.get(), 1, "answers were sent from inside other answers");

        // A chain that never ends is cut after MAX_CHAINED_ANSWERS answers.
        let count = Cell::new(0usize);
        let endless = |_: Vec<u8>, _: &str| {
            count.set(count.get() + 1);
            router.handle(&ping(count.get()), &|_, _| unreachable!("queued for the outermost call"));
        };
        router.handle(&ping(0), &endless);
        assert_eq!(count.get(), crate::transport::MAX_CHAINED_ANSWERS);
    }
}
