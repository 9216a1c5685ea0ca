//! Operation ids: one per public call, a child per server, carried in logs, errors and headers.

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The HTTP header that carries the operation id on every outbound request.
///
/// Servers (or proxies in front of them) can log it to tie their records to ours.
pub const OP_ID_HEADER: &str = "Mcp-Orchestrator-Op";

/// The id of one operation: every public call gets one, and every log record and error of that
/// call carries it.
///
/// It prints as `<process>-<sequence>` (for example `3fa9-17`); the per-server work of a call
/// gets a child id `<parent>.<index>` (for example `3fa9-17.2`). Cloning is a reference-count
/// increment.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId(Arc<str>);

static NEXT: AtomicU64 = AtomicU64::new(1);

fn process_tag() -> u16 {
    static TAG: OnceLock<u16> = OnceLock::new();
    // A randomly seeded hasher makes ids from two runs (or two processes) unlikely to collide.
    *TAG.get_or_init(|| RandomState::new().hash_one(std::process::id()) as u16)
}

impl OpId {
    /// A fresh id, unique within this process.
    pub fn new() -> OpId {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        OpId(format!("{:04x}-{n}", process_tag()).into())
    }

    /// The id of the `index`-th piece of work under this operation (one per server).
    pub fn child(&self, index: usize) -> OpId {
        OpId(format!("{}.{index}", self.0).into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for OpId {
    fn default() -> Self {
        OpId::new()
    }
}

impl fmt::Display for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_children_extend_the_parent() {
        let a = OpId::new();
        let b = OpId::new();
        assert_ne!(a, b);
        let c = a.child(3);
        assert_eq!(c.as_str(), format!("{a}.3"));
        assert!(a.as_str().split('-').count() == 2, "{a}");
    }
}
