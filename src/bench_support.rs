//! Entry points for the criterion benches into crate-private layers. Not part of the API:
//! hidden from the docs, behind the `testing` feature, and free to change.

use crate::jsonrpc::{Message, decode};
use crate::protocol::ListResourcesResult;
use crate::sse::EventParser;

/// Parses an event stream fed in `chunk`-byte reads; returns the number of events.
pub fn parse_sse(bytes: &[u8], chunk: usize) -> usize {
    let mut parser = EventParser::new(crate::sse::DEFAULT_MAX_EVENT_BYTES);
    let mut events = Vec::new();
    let mut n = 0;
    for piece in bytes.chunks(chunk.max(1)) {
        if parser.feed(piece, &mut events).is_err() {
            return usize::MAX;
        }
        n += events.len();
        events.clear();
    }
    n
}

/// Decodes a JSON-RPC response carrying a `resources/list` result into typed resources, as the
/// client does; returns the number of resources.
pub fn decode_resources_list(text: &str) -> usize {
    let Ok(mut messages) = decode(text) else { return usize::MAX };
    match messages.pop() {
        Some(Ok(Message::Response { result: Ok(raw), .. })) => {
            serde_json::from_str::<ListResourcesResult>(raw.get()).map_or(usize::MAX, |r| r.resources.len())
        }
        _ => usize::MAX,
    }
}

/// Builds the tool search index of a catalogue afresh — the work of its first search — and
/// returns the number of indexed words.
pub fn build_tool_index(gathered: &crate::Gathered) -> usize {
    crate::catalog::search::ToolIndex::build(&gathered.tools).term_count()
}

/// The orchestrator's fan-out pool (`pool.rs`), for the side-by-side bench against rayon's
/// `ThreadPool` (`benches/pool.rs`).
pub struct FanOutPool(crate::pool::Pool);

impl FanOutPool {
    /// A pool of at most `size` threads named `<name>-<n>`, started on demand.
    pub fn new(size: usize, name: &str) -> FanOutPool {
        FanOutPool(crate::pool::Pool::new(size, name).expect("a pool"))
    }

    /// Runs `job(i)` for `i` in `0..n` on the pool, as a gather hands servers over, and
    /// returns the receiver of `(i, result)` pairs in completion order.
    pub fn fan_out<R, F>(&self, n: usize, job: F) -> crossbeam_channel::Receiver<(usize, R)>
    where
        R: Send + 'static,
        F: Fn(usize) -> R + Send + Sync + 'static,
    {
        self.0.fan_out((0..n).collect(), move |i, _: usize| job(i))
    }
}
