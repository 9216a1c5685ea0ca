//! Back-off between attempts (reconnects, re-subscriptions, task polls): exponential, capped,
//! jittered. Pure but for its random draw; the bottom layer, used by `session/` and
//! `orchestrator/`.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The back-off before attempt `failures + 1`, after `failures` (≥ 1) failed attempts in a row:
/// `min · 2^(failures-1)`, capped at `max`, then jittered to a uniform point in its upper half
/// (so that servers failing together do not retry together). Always within `[min / 2, max]`
/// (when `min <= max`).
pub(crate) fn backoff(min: Duration, max: Duration, failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(31);
    let base = min.saturating_mul(1u32 << exp).min(max);
    jitter_upper_half(base)
}

/// A uniform point in `[d / 2, d]`.
pub(crate) fn jitter_upper_half(d: Duration) -> Duration {
    let half = d / 2;
    let span = d - half;
    let nanos = span.as_nanos().min(u64::MAX as u128) as u64;
    half + Duration::from_nanos(if nanos == 0 { 0 } else { random() % nanos.saturating_add(1) })
}

/// A random number from the standard library's per-process hash keys and a counter (no crate
/// for a jitter).
pub(crate) fn random() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static KEYS: std::sync::OnceLock<RandomState> = std::sync::OnceLock::new();
    KEYS.get_or_init(RandomState::new).hash_one(COUNTER.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_within_its_bounds() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(5));
        for failures in 1..40 {
            let b = backoff(min, max, failures);
            let base = min.saturating_mul(1 << (failures - 1).min(31)).min(max);
            assert!(b >= base / 2 && b <= base, "{failures}: {b:?} outside [{:?}, {base:?}]", base / 2);
        }
        assert_eq!(backoff(Duration::ZERO, max, 3), Duration::ZERO);
    }
}
