//! Our fan-out pool (`pool.rs`) against rayon's `ThreadPool` used the way the design card
//! asks (named, sized `max_concurrent_connections`, `spawn` + a crossbeam channel collected with
//! a deadline), side by side in one run (issue 19).
//!
//! Each iteration is one fan-out of `jobs` jobs, as a gather hands its servers over, collected
//! by the caller with `recv_deadline`, on a pool of 10 threads (the default
//! `max_concurrent_connections`). Two kinds of job:
//! - `io_1ms`: each blocks 1 ms (a server's reply), the gather's shape;
//! - `instant`: each returns at once (a warm cache answering), where the pool's own cost shows.
//!
//! Two measures of the same work: `wall/…` criterion's usual time, and `cpu/…` the process's
//! CPU time per iteration (`CLOCK_PROCESS_CPUTIME_ID`, all threads), which is what rayon's
//! spin-then-sleep workers spend and a blocked channel does not. Before each fan-out the
//! pools are idle for 2 ms, as between two gathers (not counted in `wall`, counted in `cpu`:
//! workers going to sleep spend it). The threads each pool holds at rest are printed once.
//!
//! Run: `cargo bench --features testing --bench pool`.

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use crossbeam_channel::unbounded;
use mcp_orchestrator::bench_support::FanOutPool;
use rustix::time::{ClockId, clock_gettime};

const SIZE: usize = 10;
const DEADLINE: Duration = Duration::from_secs(30);

fn cpu_now() -> Duration {
    let t = clock_gettime(ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

fn threads_now() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

fn job(kind: &str) -> fn(usize) -> usize {
    match kind {
        "io_1ms" => |i| {
            std::thread::sleep(Duration::from_millis(1));
            i
        },
        _ => |i| i,
    }
}

/// One fan-out on our pool, every result collected within the deadline.
fn ours(pool: &FanOutPool, jobs: usize, work: fn(usize) -> usize) -> usize {
    let rx = pool.fan_out(jobs, work);
    let deadline = Instant::now() + DEADLINE;
    (0..jobs).map(|_| rx.recv_deadline(deadline).expect("a result").1).sum()
}

/// The same fan-out on rayon: one `spawn` per job, results over a crossbeam channel.
fn rayon(pool: &rayon::ThreadPool, jobs: usize, work: fn(usize) -> usize) -> usize {
    let (tx, rx) = unbounded();
    for i in 0..jobs {
        let tx = tx.clone();
        pool.spawn(move || {
            let _ = tx.send(work(i));
        });
    }
    drop(tx);
    let deadline = Instant::now() + DEADLINE;
    (0..jobs).map(|_| rx.recv_deadline(deadline).expect("a result")).sum()
}

fn pools(c: &mut Criterion) {
    let before = threads_now();
    let own = FanOutPool::new(SIZE, "bench-own");
    let after_own = threads_now();
    let ray = rayon::ThreadPoolBuilder::new()
        .num_threads(SIZE)
        .thread_name(|i| format!("bench-rayon-{i}"))
        .build()
        .expect("a rayon pool");
    let after_rayon = threads_now();
    eprintln!("threads at rest before any job: own pool +{}, rayon +{}", after_own - before, after_rayon - after_own);

    for (kind, jobs) in [("io_1ms", 50), ("io_1ms", 10), ("instant", 50)] {
        let work = job(kind);
        let expected: usize = (0..jobs).sum();
        let id = format!("{kind}/{jobs}");
        let mut wall = c.benchmark_group("pool/wall");
        wall.bench_function(BenchmarkId::new("own", &id), |b| {
            b.iter_custom(|iters| measured(iters, Clock::Wall, || assert_eq!(ours(&own, jobs, work), expected)))
        });
        wall.bench_function(BenchmarkId::new("rayon", &id), |b| {
            b.iter_custom(|iters| measured(iters, Clock::Wall, || assert_eq!(rayon(&ray, jobs, work), expected)))
        });
        wall.finish();
        let mut cpu = c.benchmark_group("pool/cpu");
        cpu.bench_function(BenchmarkId::new("own", &id), |b| {
            b.iter_custom(|iters| measured(iters, Clock::Cpu, || assert_eq!(ours(&own, jobs, work), expected)))
        });
        cpu.bench_function(BenchmarkId::new("rayon", &id), |b| {
            b.iter_custom(|iters| measured(iters, Clock::Cpu, || assert_eq!(rayon(&ray, jobs, work), expected)))
        });
        cpu.finish();
    }
}

#[derive(Clone, Copy)]
enum Clock {
    /// The fan-out's own wall time, from handing the jobs over to the last result.
    Wall,
    /// The whole process's CPU time over the idle pause and the fan-out: what the workers
    /// spend waking, working and going back to sleep.
    Cpu,
}

/// `iters` runs of `run`, each after a 2 ms idle pause (the time between two gathers, long
/// enough for rayon's workers to go to sleep), measured on `clock`.
fn measured(iters: u64, clock: Clock, run: impl Fn()) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let cpu = cpu_now();
        std::thread::sleep(Duration::from_millis(2));
        let wall = Instant::now();
        run();
        total += match clock {
            Clock::Wall => wall.elapsed(),
            Clock::Cpu => cpu_now().saturating_sub(cpu),
        };
    }
    total
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(4));
    targets = pools
}
criterion_main!(benches);
