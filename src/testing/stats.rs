//! What a server observed, for tests to assert on: [`Stats`] snapshots, and [`Gauge`]s of work
//! in flight that several servers may share.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

#[cfg(doc)]
use super::{Fault, TestServer, TestServerBuilder};
use crate::RequestId;

/// A `notifications/cancelled` the server received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cancellation {
    /// The `requestId` it named, if it was a number or a string.
    pub request_id: Option<RequestId>,
    /// The `reason` it gave.
    pub reason: Option<String>,
}

/// A client's answer to a request the server sent ([`Fault::PingClient`],
/// [`Fault::RequestClient`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ClientAnswer {
    /// The id of the answer (`None` for `"id": null`).
    pub id: Option<RequestId>,
    /// The method of the server's request it answers, if the id matched one.
    pub method: Option<String>,
    /// The result, or the error's code and message.
    pub result: Result<Value, (i64, String)>,
}

/// A snapshot of what a server has seen ([`TestServer::stats`]).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Stats {
    /// JSON-RPC requests and notifications received, per method.
    pub requests: BTreeMap<String, u64>,
    /// `POST`s received (whatever their fate).
    pub posts: u64,
    /// Event streams accepted (`GET /sse` answered with `200`).
    pub sse_connections: u64,
    /// Streamable HTTP sessions started (`initialize` posted to `/mcp`).
    pub mcp_sessions: u64,
    /// Sessions open now: event streams, and Streamable HTTP sessions not yet deleted.
    pub open_sessions: usize,
    /// Sessions that have ended (an event stream closed by the client, a fault, or shutdown;
    /// a Streamable HTTP session deleted).
    pub closed_sessions: u64,
    /// TCP connections accepted.
    pub http_connections: u64,
    /// TCP connections open now.
    pub open_connections: usize,
    /// The most TCP connections open at the same time.
    pub max_concurrent_connections: usize,
    /// The most JSON-RPC requests in flight at the same time (received, not yet answered).
    pub in_flight_max: usize,
    /// `notifications/cancelled` received, in order.
    pub cancelled: Vec<Cancellation>,
    /// Successful answers to the server's `ping` requests.
    pub client_pings_answered: u64,
    /// Every answer the client sent to a server request, in order.
    pub client_answers: Vec<ClientAnswer>,
    /// The headers (lowercase names) of the last `POST /mcp` carrying each method.
    pub last_headers: BTreeMap<String, BTreeMap<String, String>>,
    /// The params (with their `_meta`) of the last request of each method (HTTP transports).
    pub last_params: BTreeMap<String, Value>,
    /// The `capabilities` of the client's last `initialize` (HTTP transports).
    pub client_capabilities: Option<Value>,
    /// `subscriptions/listen` streams open now (the modern wire over HTTP).
    pub open_listens: usize,
    /// The acknowledged `notifications` filter of every `subscriptions/listen` stream opened
    /// (the modern wire over HTTP), in order.
    pub listen_filters: Vec<Value>,
    /// The `tasks/get` each task received, by task id (HTTP transports; over stdio the event
    /// log has an `in tasks/get` line per poll).
    pub task_polls: BTreeMap<String, u64>,
    /// `GET`s carrying `Last-Event-ID` (a client resuming an event stream), on any path.
    pub resumptions: u64,
}

impl Stats {
    /// How many messages with this method were received.
    pub fn count(&self, method: &str) -> u64 {
        self.requests.get(method).copied().unwrap_or(0)
    }
}

/// A gauge of work in flight, which several servers can share ([`TestServerBuilder::gauge`]).
///
/// A server increments it when it receives a JSON-RPC request (not a notification) and
/// decrements it when the response has been written to the event stream, or dropped (the session
/// ended, the client cancelled a request the server never answers). [`Gauge::max`] is then the
/// most requests that were ever in flight at once across those servers.
#[derive(Debug, Default)]
pub struct Gauge {
    current: AtomicUsize,
    max: AtomicUsize,
}

impl Gauge {
    /// A new gauge at zero.
    pub fn new() -> Arc<Gauge> {
        Arc::new(Gauge::default())
    }

    /// The value now.
    pub fn current(&self) -> usize {
        self.current.load(Ordering::SeqCst)
    }

    /// The highest value so far.
    pub fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }

    fn enter(&self) {
        let now = self.current.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
    }

    fn leave(&self) {
        // Saturating: enter and leave are paired by `InFlight`, but never wrap around.
        let _ = self.current.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    }
}

/// Holds a count on some gauges until dropped.
pub(super) struct InFlight(Vec<Arc<Gauge>>);

impl InFlight {
    pub(super) fn enter(gauges: Vec<Arc<Gauge>>) -> InFlight {
        for g in &gauges {
            g.enter();
        }
        InFlight(gauges)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        for g in &self.0 {
            g.leave();
        }
    }
}
