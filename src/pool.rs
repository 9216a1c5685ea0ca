//! Bounded fan-out: jobs on a sized pool of named threads, results over a channel.
//!
//! The caller never runs inside the pool: it collects results from the channel with a deadline,
//! so a fail-fast caller can return at the first failure while the other jobs finish (and clean
//! up after themselves) on their own. No job waits for another job of the same pool.

use std::sync::Arc;

use crossbeam_channel::{Receiver, unbounded};

/// A pool of `size` named threads.
pub(crate) struct Pool {
    pool: rayon::ThreadPool,
    size: usize,
}

impl Pool {
    /// A pool of `size` threads (at least one) named `<name>-<n>`.
    pub(crate) fn new(size: usize, name: &str) -> std::io::Result<Pool> {
        let size = size.max(1);
        let prefix = name.to_string();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(size)
            .thread_name(move |i| format!("{prefix}-{i}"))
            // A job's panic must not take the process down; its result sender is dropped, so
            // the caller sees the job's result missing and reports it.
            .panic_handler(|_| log::error!("a pool job panicked"))
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Pool { pool, size })
    }

    /// The number of threads.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Runs `job(i, item)` for every item, at most `size` at a time, and returns a receiver of
    /// `(i, result)` pairs in completion order. The channel disconnects once every job is done
    /// (or has panicked), so a caller waiting on it never waits for a job that cannot answer.
    pub(crate) fn fan_out<T, R, F>(&self, items: Vec<T>, job: F) -> Receiver<(usize, R)>
    where
        T: Send + 'static,
        R: Send + 'static,
        F: Fn(usize, T) -> R + Send + Sync + 'static,
    {
        let (tx, rx) = unbounded();
        let job = Arc::new(job);
        for (i, item) in items.into_iter().enumerate() {
            let tx = tx.clone();
            let job = job.clone();
            self.pool.spawn_fifo(move || {
                let result = job(i, item);
                // The caller may have gone (fail-fast): the job's own cleanup already ran.
                let _ = tx.send((i, result));
            });
        }
        rx
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("size", &self.size).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    #[test]
    fn runs_every_job_and_never_more_than_size_at_once() {
        let pool = Pool::new(3, "test-pool").unwrap();
        let now = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let (n2, m2) = (now.clone(), max.clone());
        let rx = pool.fan_out((0..20).collect(), move |i, x: usize| {
            let c = n2.fetch_add(1, Ordering::SeqCst) + 1;
            m2.fetch_max(c, Ordering::SeqCst);
            assert!(std::thread::current().name().unwrap().starts_with("test-pool-"));
            std::thread::sleep(Duration::from_millis(5)); // hold the slot so jobs overlap
            n2.fetch_sub(1, Ordering::SeqCst);
            (i, x * 2)
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut got: Vec<(usize, (usize, usize))> = (0..20).map(|_| rx.recv_deadline(deadline).unwrap()).collect();
        got.sort();
        assert_eq!(
            got.iter().map(|(i, (j, v))| (*i, *j, *v)).collect::<Vec<_>>(),
            (0..20).map(|i| (i, i, i * 2)).collect::<Vec<_>>()
        );
        assert!(max.load(Ordering::SeqCst) <= 3, "{}", max.load(Ordering::SeqCst));
        assert!(rx.recv_deadline(deadline).is_err(), "the channel disconnects after the last job");
    }

    #[test]
    fn a_panicking_job_loses_only_its_own_result() {
        let pool = Pool::new(2, "test-panic").unwrap();
        let rx = pool.fan_out(vec![1, 2, 3], |_, x: i32| {
            if x == 2 {
                panic!("job 2 fails");
            }
            x
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut got = Vec::new();
        while let Ok((_, v)) = rx.recv_deadline(deadline) {
            got.push(v);
        }
        got.sort();
        assert_eq!(got, vec![1, 3]);
    }
}
