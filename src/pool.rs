//! Bounded fan-out: jobs on a sized pool of named threads, results over a channel.
//!
//! The caller never runs inside the pool: it collects results from the channel with a deadline,
//! so a fail-fast caller can return at the first failure while the other jobs finish (and clean
//! up after themselves) on their own. No job waits for another job of the same pool.
//!
//! The jobs are I/O: connecting to a server, a handshake, a gather. A worker waits for its
//! next job blocked on a channel, never spinning (rayon's workers spin and yield before they
//! sleep, which cost CPU each time a fan-out woke them: see BENCHMARKS.md). Threads are started
//! when there is work for them (the jobs handed over plus those still running), never more
//! than `size`; a thread idle for [`IDLE_KEEP_ALIVE`] ends (so an orchestrator at rest holds
//! none), and every thread ends when the pool is dropped and its job has returned.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, unbounded};

/// How long a pool thread waits for its next job before it ends: long enough to serve the next
/// gather of a program that gathers in a loop, short enough that one at rest holds no thread.
pub(crate) const IDLE_KEEP_ALIVE: Duration = Duration::from_secs(5);

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A pool of at most `size` named threads.
pub(crate) struct Pool {
    size: usize,
    name: String,
    jobs: Sender<Job>,
    queue: Receiver<Job>,
    /// How many threads are alive (started and not yet ended). A thread ends only while holding
    /// this lock, after seeing the queue empty, so a job queued before [`Pool::grow`] takes the
    /// lock is always taken by a thread that lives on or by one `grow` starts.
    started: Arc<Mutex<usize>>,
    /// How long an idle thread waits for a job before it ends.
    keep_alive: Duration,
    /// How many jobs are running now (a job of an earlier fan-out may still be running when the
    /// next one comes: a fail-fast caller does not wait for the rest).
    busy: Arc<AtomicUsize>,
}

impl Pool {
    /// A pool of up to `size` threads (at least one) named `<name>-<n>`, started on demand.
    pub(crate) fn new(size: usize, name: &str) -> std::io::Result<Pool> {
        Ok(Pool::with_keep_alive(size, name, IDLE_KEEP_ALIVE))
    }

    /// A pool whose idle threads end after `keep_alive`.
    pub(crate) fn with_keep_alive(size: usize, name: &str, keep_alive: Duration) -> Pool {
        let (jobs, queue) = unbounded();
        Pool {
            size: size.max(1),
            name: name.to_string(),
            jobs,
            queue,
            started: Arc::default(),
            keep_alive,
            busy: Arc::default(),
        }
    }

    /// How many threads are alive now.
    #[cfg(test)]
    pub(crate) fn threads(&self) -> usize {
        *self.started.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The most threads it runs.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Starts threads until there are `min(size, wanted)` (as many as can be had).
    fn grow(&self, wanted: usize) {
        let wanted = wanted.min(self.size);
        let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
        while *started < wanted {
            let worker = Worker {
                queue: self.queue.clone(),
                busy: self.busy.clone(),
                alive: self.started.clone(),
                keep_alive: self.keep_alive,
            };
            let spawned =
                std::thread::Builder::new().name(format!("{}-{}", self.name, *started)).spawn(move || worker.run());
            match spawned {
                Ok(_) => *started += 1, // detached: it ends when the pool is dropped (see `work`)
                Err(e) => {
                    log::warn!("cannot start a pool thread: {e}");
                    break;
                }
            }
        }
        if *started == 0 {
            log::error!("no pool thread could be started; the jobs wait until one can");
        }
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
        let n = items.len();
        for (i, item) in items.into_iter().enumerate() {
            let tx = tx.clone();
            let job = job.clone();
            let boxed: Job = Box::new(move || {
                let result = job(i, item);
                // The caller may have gone (fail-fast): the job's own cleanup already ran.
                let _ = tx.send((i, result));
            });
            // The pool holds the receiving end: the send cannot fail.
            let _ = self.jobs.send(boxed);
        }
        // Threads for this fan-out's jobs besides those still busy with earlier ones.
        self.grow(n + self.busy.load(Ordering::SeqCst));
        rx
    }
}

/// A pool thread's share of the pool.
struct Worker {
    queue: Receiver<Job>,
    busy: Arc<AtomicUsize>,
    alive: Arc<Mutex<usize>>,
    keep_alive: Duration,
}

impl Worker {
    /// Runs jobs until the pool is dropped (taking the only sender with it) and the queue is
    /// empty, or until no job came for `keep_alive`.
    fn run(self) {
        loop {
            match self.queue.recv_timeout(self.keep_alive) {
                Ok(job) => self.run_one(job),
                Err(RecvTimeoutError::Timeout) => {
                    let mut alive = self.alive.lock().unwrap_or_else(|e| e.into_inner());
                    // A job queued while the wait timed out: `grow` counted this thread for it.
                    if !self.queue.is_empty() {
                        continue;
                    }
                    *alive -= 1;
                    return;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    *self.alive.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
                    return;
                }
            }
        }
    }

    fn run_one(&self, job: Job) {
        self.busy.fetch_add(1, Ordering::SeqCst);
        // A job's panic must not take the process (or this worker) down; its result sender is
        // dropped, so the caller sees the job's result missing and reports it.
        if std::panic::catch_unwind(AssertUnwindSafe(job)).is_err() {
            log::error!("a pool job panicked");
        }
        self.busy.fetch_sub(1, Ordering::SeqCst);
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
    fn threads_start_only_for_work_and_end_with_the_pool() {
        let pool = Pool::new(8, "test-lazy").unwrap();
        assert_eq!(pool.threads(), 0, "no thread before the first job");
        let deadline = Instant::now() + Duration::from_secs(10);
        let rx = pool.fan_out(vec![1, 2], |_, x: i32| x);
        assert_eq!((0..2).map(|_| rx.recv_deadline(deadline).unwrap().1).sum::<i32>(), 3);
        assert_eq!(pool.threads(), 2, "two jobs, two threads");
        let rx = pool.fan_out((0..20).collect(), |_, x: i32| x);
        assert_eq!((0..20).map(|_| rx.recv_deadline(deadline).unwrap().1).sum::<i32>(), 190);
        assert_eq!(pool.threads(), 8, "never more than the size");
        // Dropping the pool disconnects its queue: each worker's `recv` fails and it returns.
        let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(0);
        let rx = pool.fan_out(vec![done_tx], |_, tx| drop(tx));
        drop(pool);
        assert!(rx.recv_deadline(deadline).is_ok());
        assert!(done_rx.recv_deadline(deadline).is_err(), "the last job ran and dropped its sender");
    }

    #[test]
    fn idle_threads_end_after_the_keep_alive_and_come_back_for_work() {
        let pool = Pool::with_keep_alive(4, "test-idle", Duration::from_millis(50));
        let deadline = Instant::now() + Duration::from_secs(10);
        let rx = pool.fan_out((0..4).collect(), |_, x: i32| {
            std::thread::sleep(Duration::from_millis(5)); // hold the slot so four threads start
            x
        });
        assert_eq!((0..4).map(|_| rx.recv_deadline(deadline).unwrap().1).sum::<i32>(), 6);
        assert_eq!(pool.threads(), 4);
        let live = |name: &str| {
            std::fs::read_dir("/proc/self/task")
                .map(|d| {
                    d.filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                        .filter(|comm| comm.starts_with(name))
                        .count()
                })
                .unwrap_or(0)
        };
        // Nothing to do: each thread ends after 50 ms (polled, bounded by the deadline).
        while (pool.threads(), live("test-idle-")) != (0, 0) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!((pool.threads(), live("test-idle-")), (0, 0), "no thread at rest");
        // Work again: threads are started for it.
        let rx = pool.fan_out(vec![5, 6], |_, x: i32| x);
        assert_eq!((0..2).map(|_| rx.recv_deadline(deadline).unwrap().1).sum::<i32>(), 11);
        assert!((1..=2).contains(&pool.threads()), "{}", pool.threads());
    }

    #[test]
    fn a_job_queued_as_the_last_idle_thread_ends_is_still_run() {
        // A keep-alive of zero: every thread ends as soon as the queue is empty, so each fan-out
        // races the exits of the threads of the one before.
        let pool = Pool::with_keep_alive(2, "test-race", Duration::ZERO);
        let deadline = Instant::now() + Duration::from_secs(20);
        for round in 0..500 {
            let rx = pool.fan_out(vec![round], |_, x: i32| x);
            assert_eq!(rx.recv_deadline(deadline).unwrap().1, round, "round {round}");
        }
    }

    #[test]
    fn a_job_still_running_from_an_earlier_fan_out_does_not_hold_up_the_next() {
        let pool = Pool::new(4, "test-busy").unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let (release, held) = crossbeam_channel::bounded::<()>(0);
        let (started_tx, started_rx) = crossbeam_channel::bounded::<()>(1);
        let first = pool.fan_out(vec![(held, started_tx)], |_, (held, started): (Receiver<()>, Sender<()>)| {
            let _ = started.send(());
            let _ = held.recv_deadline(Instant::now() + Duration::from_secs(10));
        });
        started_rx.recv_deadline(deadline).unwrap();
        // The first job is blocked (a fail-fast caller went on): the next fan-out gets a thread.
        let next = pool.fan_out(vec![7], |_, x: i32| x);
        assert_eq!(next.recv_deadline(deadline).unwrap().1, 7);
        assert_eq!(pool.threads(), 2);
        drop(release);
        assert!(first.recv_deadline(deadline).is_ok());
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
