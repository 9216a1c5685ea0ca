//! What the test authorization server remembers: every request a client made ([`Recorded`]),
//! and what it has issued (codes, access and refresh tokens, registered clients, legacy SSE
//! sessions).

use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// One recorded request of a client.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Recorded {
    /// `GET` or `POST`.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query's or form body's decoded pairs.
    pub params: Vec<(String, String)>,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// A JSON body (registration).
    pub json: Option<serde_json::Value>,
}

impl Recorded {
    /// The first value of `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

pub(super) struct Code {
    pub(super) client_id: String,
    pub(super) challenge: String,
    pub(super) resource: Option<String>,
    pub(super) redirect_uri: String,
    pub(super) scope: String,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) requests: Vec<Recorded>,
    pub(super) counter: u64,
    pub(super) codes: HashMap<String, Code>,
    pub(super) access: HashMap<String, (Instant, String)>,
    pub(super) refresh: HashMap<String, String>,
    pub(super) clients: HashMap<String, Option<String>>,
    pub(super) served: u64,
    /// Legacy SSE sessions: where each session's replies go, and the streams not yet taken by
    /// their connection.
    pub(super) sse: HashMap<u64, crossbeam_channel::Sender<String>>,
    pub(super) sse_streams: HashMap<u64, crossbeam_channel::Receiver<String>>,
    /// Refresh tokens already used once (rotated out), and how often one was presented again.
    pub(super) spent: HashSet<String>,
    pub(super) refresh_reuses: u64,
    /// The lifetime of the tokens issued from now on, when set at run time.
    pub(super) lifetime: Option<u64>,
}
