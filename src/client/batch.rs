//! Many requests at once: a batch is started before its first answer is awaited (pipelined
//! reads), from as many threads as the transport needs to keep them in flight.

use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::json;

use super::Client;
use crate::error::{Error, Result};
use crate::op::OpId;
use crate::protocol::{ReadResourceResult, ResourceContents};
use crate::session::{Call, RequestOptions};

/// How many requests are in flight at once over a transport that cannot pipeline (Streamable
/// HTTP: one connection, and one thread, per request in flight). 100 reads of 5 ms each take
/// 4 rounds, about 20 ms (`benches/reads.rs`); 8 took 13 rounds, about 65 ms.
const OVERLAPPED_READS: usize = 32;
/// How many POSTs are sent at once over a transport whose send waits for the server's
/// acknowledgement (legacy SSE: a `202` per message), each over its own kept-alive connection.
/// The answers come on the event stream, so a batch of requests costs about
/// `len / POST_CONNECTIONS` POST round trips, not `len`.
const POST_CONNECTIONS: usize = 4;
/// Over legacy SSE a batch this small is sent from the caller's thread alone: its requests
/// are still all in flight before the first answer is awaited (only the 202s are waited for
/// one after the other), and starting threads and connections for it cost more CPU than the
/// few acknowledgements take (a quarter of a 50-server gather's CPU; see BENCHMARKS.md).
const SMALL_BATCH: usize = 8;
/// Over Streamable HTTP the first pages of a server's listings go one after the other over the
/// connection the gathering thread holds while each comes back within this; after a slower
/// round trip the rest are sent at once, each on its own connection and thread. On loopback a
/// listing answers in well under a millisecond, and three threads and three TCP connections
/// per server cost more than the round trips they would overlap (BENCHMARKS.md, "Issue 22").
const FAST_LISTING: Duration = Duration::from_millis(2);

impl Client {
    /// The contents of many resources, pipelined: every request is sent before the first answer
    /// is awaited, so the whole costs about one round trip (over legacy SSE the POSTs go out
    /// several at once, over kept-alive connections; over Streamable HTTP up to 32 requests are
    /// in flight, each on its own connection). Results are in the order of `uris`.
    pub fn read_resources(&self, uris: &[&str]) -> Vec<Result<Vec<ResourceContents>>> {
        self.read_resources_in(&OpId::new(), uris, self.session.deadline())
    }

    pub(crate) fn read_resources_in(
        &self,
        op: &OpId,
        uris: &[&str],
        deadline: Instant,
    ) -> Vec<Result<Vec<ResourceContents>>> {
        let requests: Vec<_> = uris.iter().map(|uri| ("resources/read", Some(json!({ "uri": uri })))).collect();
        let calls = self.start_many(op, &requests, deadline);
        calls
            .into_iter()
            .map(|call| self.session.finish::<ReadResourceResult>(call?, deadline).map(|r| r.contents))
            .collect()
    }

    /// How many requests of a batch of `batch` are sent at once: one (from the caller's thread)
    /// over a transport whose send returns at once (stdio), [`POST_CONNECTIONS`] over one whose
    /// send waits for the server's acknowledgement (legacy SSE) when the batch is larger than
    /// [`SMALL_BATCH`], [`OVERLAPPED_READS`] over one that reads each reply inside its send
    /// (Streamable HTTP).
    fn concurrent_sends(&self, batch: usize) -> usize {
        let transport = &self.session.transport;
        if !transport.pipelines() {
            OVERLAPPED_READS
        } else if transport.send_waits() && batch > SMALL_BATCH {
            POST_CONNECTIONS
        } else {
            1
        }
    }

    /// Starts the first pages of the listings (`requests`), in their order. Over a transport
    /// that pipelines (stdio, legacy SSE) they are all in flight at once
    /// ([`start_many`](Self::start_many)). Over Streamable HTTP a request holds a connection and
    /// a thread until its reply is read, so they go one by one from this thread, over its
    /// kept-alive connection, while each answers within [`FAST_LISTING`]; after a slower one
    /// (or when the last gather's first page was slow) the rest are started together.
    pub(super) fn start_first_pages(
        &self,
        op: &OpId,
        requests: &[(&'static str, Option<serde_json::Value>)],
        deadline: Instant,
    ) -> Vec<Result<Call>> {
        let last = self.listing_round_trip.load(Ordering::Relaxed);
        if self.session.transport.pipelines() || last >= FAST_LISTING.as_nanos() as u64 {
            let started = Instant::now();
            let calls = self.start_many(op, requests, deadline);
            if !self.session.transport.pipelines() {
                // The slowest of them: fast again, and the next gather goes one by one.
                self.remember_round_trip(started.elapsed());
            }
            return calls;
        }
        let mut calls = Vec::with_capacity(requests.len());
        for (i, (method, params)) in requests.iter().enumerate() {
            let started = Instant::now();
            calls.push(self.session.start_with(op, method, params.clone(), deadline, &RequestOptions::default()));
            let took = started.elapsed();
            self.remember_round_trip(took);
            if took >= FAST_LISTING && i + 1 < requests.len() {
                log::debug!(
                    "op={op} server={}: {method} took {took:?}; the other first pages go at once",
                    self.session.name
                );
                calls.extend(self.start_many(op, &requests[i + 1..], deadline));
                break;
            }
        }
        calls
    }

    fn remember_round_trip(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.listing_round_trip.store(nanos, Ordering::Relaxed);
    }

    /// Starts every request of a batch, all before the first answer is awaited; returns the
    /// calls in the order of `requests`. When the transport's sends wait (see
    /// [`concurrent_sends`](Self::concurrent_sends)), they are made from up to that many
    /// threads at once: the caller's and scoped threads (`mcp-send:<server>`), joined before
    /// this returns.
    pub(super) fn start_many(
        &self,
        op: &OpId,
        requests: &[(&'static str, Option<serde_json::Value>)],
        deadline: Instant,
    ) -> Vec<Result<Call>> {
        let start = |(method, params): &(&'static str, Option<serde_json::Value>)| {
            self.session.start_with(op, method, params.clone(), deadline, &RequestOptions::default())
        };
        let threads = self.concurrent_sends(requests.len()).min(requests.len());
        if threads <= 1 {
            return requests.iter().map(start).collect();
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let slots: Vec<Mutex<Option<Result<Call>>>> = requests.iter().map(|_| Mutex::new(None)).collect();
        let work = || {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(request) = requests.get(i) else { break };
                let call = start(request);
                *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(call);
            }
        };
        std::thread::scope(|scope| {
            for _ in 1..threads {
                let spawned = std::thread::Builder::new()
                    .name(format!("mcp-send:{}", self.session.name))
                    .stack_size(crate::transport::SMALL_STACK)
                    .spawn_scoped(scope, work);
                if spawned.is_err() {
                    break; // fewer threads: the caller's thread below still does the work
                }
            }
            work();
        });
        slots
            .into_iter()
            .zip(requests)
            .map(|(slot, (method, _))| {
                slot.into_inner().unwrap_or_else(|e| e.into_inner()).unwrap_or_else(|| {
                    Err(Error::ConnectionClosed {
                        server: self.session.name.to_string(),
                        method: (*method).into(),
                        op: op.clone(),
                        detail: "the request was not sent".into(),
                    })
                })
            })
            .collect()
    }
}
