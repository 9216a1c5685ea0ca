//! The cache hints (`ttlMs`, `cacheScope`) of the 2026-07-28 wire's results, collected per
//! operation: a gather asks for its op's hints before it lists and reads, and takes them after
//! (`orchestrator/gather.rs` `fetch`). Only ops that asked are recorded, so nothing accumulates for
//! calls nobody collects.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::value::RawValue;

use super::Session;
use crate::op::OpId;
use crate::protocol::modern::{self, CacheHints};

/// The hints of the ops being collected.
#[derive(Default)]
pub(crate) struct Collected(Mutex<HashMap<OpId, CacheHints>>);

impl Collected {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<OpId, CacheHints>> {
        // Plain values: a panic cannot leave them inconsistent.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Merges the hints of a complete result of `method` into `op`'s, if `op` is collected and
    /// the method's results are cacheable. Parses the result only then.
    pub(crate) fn note(&self, op: &OpId, method: &str, raw: &RawValue) {
        if !modern::is_cacheable(method) || !self.lock().contains_key(op) {
            return;
        }
        let hints = CacheHints::of(raw.get()); // parsed without the lock
        if let Some(h) = self.lock().get_mut(op) {
            *h = h.merge(hints);
        }
    }
}

impl Session {
    /// Starts collecting the cache hints of `op`'s results.
    pub(crate) fn collect_hints(&self, op: &OpId) {
        self.hints.lock().insert(op.clone(), CacheHints::default());
    }

    /// Stops collecting `op`'s hints and returns them (none on the handshake era).
    pub(crate) fn take_hints(&self, op: &OpId) -> CacheHints {
        self.hints.lock().remove(op).unwrap_or_default()
    }
}
