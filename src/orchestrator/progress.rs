//! Live progress: what [`Orchestrator::on_progress`](crate::Orchestrator::on_progress) callbacks
//! are told, per server, as `initialize` connects and `gather_all_resources` gathers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{Error, ErrorKind};
use crate::op::OpId;

/// What one server is doing, reported as it happens (see
/// [`Orchestrator::on_progress`](crate::Orchestrator::on_progress)).
///
/// For one server, in one call, the events come in this order: `Connecting` then `Connected`
/// or `Failed` (from `initialize`); `Gathering` then `Gathered` or `Failed` (from a gather that
/// asks the server). Events of different servers interleave.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ProgressEvent {
    /// `initialize` starts connecting to the server.
    Connecting {
        /// The server's name in the config.
        server: String,
        /// The operation id of this server's part of the call.
        op: OpId,
    },
    /// The server is connected.
    Connected {
        /// The server's name in the config.
        server: String,
        /// The operation id of this server's part of the call.
        op: OpId,
        /// The protocol version agreed.
        protocol: String,
        /// The transport in use: `sse`, `streamable_http` or `stdio` (what `http` detected).
        transport: &'static str,
        /// How long connecting took (detection and handshake included).
        elapsed: Duration,
    },
    /// A gather asks the server for its listings (and contents).
    Gathering {
        /// The server's name in the config.
        server: String,
        /// The operation id of this server's part of the call.
        op: OpId,
    },
    /// The server's part of a gather is in.
    Gathered {
        /// The server's name in the config.
        server: String,
        /// The operation id of this server's part of the call.
        op: OpId,
        /// How many resources it lists.
        resources: usize,
        /// How many resource templates.
        templates: usize,
        /// How many tools.
        tools: usize,
        /// How many prompts.
        prompts: usize,
        /// How many resource contents were read.
        contents: usize,
        /// How long its part took.
        elapsed: Duration,
    },
    /// Connecting or gathering failed (a gather may still serve the server's last good data:
    /// see [`Status::Stale`](crate::Status::Stale)).
    Failed {
        /// The server's name in the config.
        server: String,
        /// The operation id of this server's part of the call.
        op: OpId,
        /// What failed: [`ProgressStage::Connect`] or [`ProgressStage::Gather`].
        stage: ProgressStage,
        /// What kind of failure ([`Error::kind`]).
        kind: ErrorKind,
        /// The error (server, method and op id in its message; no secret).
        error: Error,
    },
}

/// What a [`ProgressEvent::Failed`] server was doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProgressStage {
    /// Connecting (`initialize`).
    Connect,
    /// Gathering (`gather_all_resources`, a reconnect inside it included).
    Gather,
}

impl ProgressEvent {
    /// The server the event is about.
    pub fn server(&self) -> &str {
        match self {
            ProgressEvent::Connecting { server, .. }
            | ProgressEvent::Connected { server, .. }
            | ProgressEvent::Gathering { server, .. }
            | ProgressEvent::Gathered { server, .. }
            | ProgressEvent::Failed { server, .. } => server,
        }
    }

    /// The operation id of the server's part of the call.
    pub fn op(&self) -> &OpId {
        match self {
            ProgressEvent::Connecting { op, .. }
            | ProgressEvent::Connected { op, .. }
            | ProgressEvent::Gathering { op, .. }
            | ProgressEvent::Gathered { op, .. }
            | ProgressEvent::Failed { op, .. } => op,
        }
    }

    /// A `Failed` event for `error`.
    pub(crate) fn failed(server: &str, op: &OpId, stage: ProgressStage, error: &Error) -> ProgressEvent {
        ProgressEvent::Failed {
            server: server.to_string(),
            op: op.clone(),
            stage,
            kind: error.kind(),
            error: error.clone(),
        }
    }
}

/// A progress callback.
type Listener = Arc<dyn Fn(&ProgressEvent) + Send + Sync>;

/// The registered callbacks, shared with the fan-out jobs. Called on no lock: the list is
/// copied out of its lock first.
#[derive(Clone, Default)]
pub(crate) struct Progress(Arc<Mutex<Vec<Listener>>>);

impl Progress {
    pub(crate) fn add(&self, f: Listener) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(f);
    }

    /// Calls every callback with the event `make` builds (built only when someone listens).
    pub(crate) fn emit(&self, make: impl FnOnce() -> ProgressEvent) {
        let listeners: Vec<Listener> = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if listeners.is_empty() {
            return;
        }
        let event = make();
        for listener in listeners {
            // A callback is user code: a panic in it must not take down the pool thread's job
            // (the connect or gather it reports on would be lost).
            let call = std::panic::AssertUnwindSafe(|| listener(&event));
            if std::panic::catch_unwind(call).is_err() {
                log::warn!("op={} server={}: a progress callback panicked", event.op(), event.server());
            }
        }
    }
}
