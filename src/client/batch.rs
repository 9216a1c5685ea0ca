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
/// 4 rounds, about 20 ms (`benches/orchestrator.rs`, `read_100_at_5ms`); 8 took 13 rounds,
/// about 65 ms.
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
/// round trip the rest are sent at once, each on its own connection and thread, when that can
/// help (see [`RoundTrip`]). On loopback a listing answers in well under a millisecond, and
/// three threads and three TCP connections per server cost more than the round trips they
/// would overlap (BENCHMARKS.md, "Issue 22").
const FAST_LISTING: Duration = Duration::from_millis(2);
/// A first page this slow is the network's or the server's doing whatever this process's load:
/// the rest are sent at once even while it keeps the cores busy. Under our own contention (200
/// test servers gathered at once on 2 cores) loopback first pages took up to ~120 ms.
const CLEARLY_SLOW: Duration = Duration::from_millis(200);

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
    /// kept-alive connection, until one shows that overlapping them pays ([`RoundTrip`]); then
    /// the rest are started together, and the next gather of this server starts them all
    /// together for as long as that still pays.
    pub(super) fn start_first_pages(
        &self,
        op: &OpId,
        requests: &[(&'static str, Option<serde_json::Value>)],
        deadline: Instant,
    ) -> Vec<Result<Call>> {
        if self.session.transport.pipelines() {
            return self.start_many(op, requests, deadline);
        }
        if self.overlap_first_pages.load(Ordering::Relaxed) {
            let round_trip = RoundTrip::start();
            let calls = self.start_many(op, requests, deadline);
            // Judged on the slowest of them: fast again, and the next gather goes one by one.
            self.overlap_first_pages.store(round_trip.overlap_pays(), Ordering::Relaxed);
            return calls;
        }
        let mut calls = Vec::with_capacity(requests.len());
        for (i, (method, params)) in requests.iter().enumerate() {
            let round_trip = RoundTrip::start();
            calls.push(self.session.start_with(op, method, params.clone(), deadline, &RequestOptions::default()));
            if i + 1 < requests.len() && round_trip.overlap_pays() {
                self.overlap_first_pages.store(true, Ordering::Relaxed);
                log::debug!(
                    "op={op} server={}: {method} took {:?}; the other first pages go at once",
                    self.session.name,
                    round_trip.started.elapsed()
                );
                calls.extend(self.start_many(op, &requests[i + 1..], deadline));
                break;
            }
        }
        calls
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

/// One round trip of a first page, judged: should the other first pages of its server go at
/// once, on threads and connections of their own? That saves two round trips of waiting, which
/// pays when the wait was the network's or the server's. When this process was keeping the
/// cores busy instead (a gather of many servers at once, each first page slow because every
/// thread queued for a core), more threads and connections only add work to the bottleneck:
/// at 200 test servers on 2 cores, first pages one by one took a fifth less CPU and wall time than
/// overlapping them after 2 ms (BENCHMARKS.md, "Issue 22").
struct RoundTrip {
    started: Instant,
    /// This process's CPU time (all its threads) when it started.
    cpu_before: Duration,
}

impl RoundTrip {
    fn start() -> RoundTrip {
        RoundTrip { cpu_before: process_cpu_time(), started: Instant::now() }
    }

    /// Slower than [`FAST_LISTING`] while this process used less than a [`BUSY`] share of
    /// the machine's cores, or slower than [`CLEARLY_SLOW`] whatever it used.
    fn overlap_pays(&self) -> bool {
        let took = self.started.elapsed();
        if took < FAST_LISTING {
            return false;
        }
        took >= CLEARLY_SLOW || !busy(process_cpu_time().saturating_sub(self.cpu_before), took, cores())
    }
}

/// The share of the cores this process keeps busy above which a slow round trip counts as
/// its own doing (its threads waited for a core), not the network's or the server's.
const BUSY: f64 = 0.25;

fn busy(cpu: Duration, took: Duration, cores: usize) -> bool {
    cpu.as_secs_f64() >= BUSY * took.as_secs_f64() * cores as f64
}

fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// The CPU time of this process, all its threads (`CLOCK_PROCESS_CPUTIME_ID`).
#[cfg(unix)]
fn process_cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(u64::try_from(t.tv_sec).unwrap_or(0), u32::try_from(t.tv_nsec).unwrap_or(0))
}

/// Elsewhere none is read: a slow round trip is never counted as this process's doing.
#[cfg(not(unix))]
fn process_cpu_time() -> Duration {
    Duration::ZERO
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_trip_is_this_processs_doing_when_it_kept_a_quarter_of_the_cores_busy() {
        let ms = Duration::from_millis;
        assert!(busy(ms(10), ms(20), 2), "10 ms of CPU in 20 ms on 2 cores: a quarter");
        assert!(!busy(ms(9), ms(20), 2));
        assert!(!busy(Duration::ZERO, ms(3), 1));
        assert!(busy(ms(3), ms(3), 4));
    }

    #[test]
    fn a_fast_round_trip_never_pays_overlapping_and_a_clearly_slow_one_always_does() {
        let fast = RoundTrip { started: Instant::now(), cpu_before: Duration::ZERO };
        assert!(!fast.overlap_pays(), "even with all this process's CPU time in its window");
        let slow = RoundTrip { started: Instant::now() - CLEARLY_SLOW, cpu_before: Duration::ZERO };
        assert!(slow.overlap_pays(), "whatever the CPU used since");
    }

    #[cfg(unix)]
    #[test]
    fn the_process_cpu_time_grows_with_work() {
        let before = process_cpu_time();
        let started = Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(20) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        // 20 ms of spinning is at least some CPU time, however the machine shares its cores.
        assert!(process_cpu_time() > before, "{x}");
    }
}
