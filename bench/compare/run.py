#!/usr/bin/env python3
"""Side-by-side benchmark: mcp-orchestrator's `gather` against baseline clients written with the
official MCP SDKs, on the same servers, interleaved, each client a whole process.

Scenarios (server kind x transport x N):
  python  N servers built on the official Python SDK (tests/interop/server.py, 100 text
          resources + 1 blob, 1 template, 2 tools, 2 prompts each), one process per server:
          N for legacy SSE, then N others for Streamable HTTP (both eras on /mcp).
  test    N `mcp-test-server --listen 0` processes (the crate's test server, feature
          `testing`; 100 text resources, 1 template, 2 tools, 1 prompt each; SSE on /sse and
          Streamable HTTP on /mcp of one port, both eras): light servers, so that the
          clients' own costs show.

Clients (every one lists resources, templates, tools and prompts of every server, all pages,
the listings of a server concurrently; none reads contents):
  legacy SSE
    ours            target/dist/mcp-orchestrator gather --format json (the CLI as installed,
                    profile dist: fat LTO, one codegen unit; transport: sse,
                    read_contents: false, max_concurrent_connections: N)
    lib             target/release/examples/at_rest sse: the library in a program as small as
                    the baselines (no YAML, no output of the listings: one summary line); the
                    CLI's own fixed cost (an 11 MB binary, its config and output) is the
                    difference between the two. lib-hs and lib-2026 likewise below (2026:
                    listen_for_changes off, as the CLI)
    rmcp-0.10       bench/compare/rmcp_client (rmcp 0.10.0, the last rmcp with an SSE client)
    python          bench/compare/python_client.py sse (mcp 2.3.0 `Client`, mode legacy)
  Streamable HTTP
    ours-hs         the same, transport: streamable_http, protocol: 2025-11-25 (handshake)
    ours-2026       the same, transport: streamable_http, protocol: 2026-07-28 (discover)
    rmcp3-hs        bench/compare/rmcp3_client initialize (rmcp 3.x, its default lifecycle)
    rmcp3-discover  bench/compare/rmcp3_client discover (ClientLifecycleMode::Discover)
    python          bench/compare/python_client.py streamable_http (`Client(url)`, mode auto:
                    2026-07-28 when the server speaks it; against test servers mode legacy,
                    whose 2026-07-28 list results lack the ttlMs/cacheScope the SDK requires)
  The Python client is not run beyond 50 servers: at 200 at once it misses its own connect
  timeouts (httpx.ConnectTimeout), a wrong answer that would stop the run.

Per scenario: one warm-up round, then --rounds measured rounds, the clients' order rotated every
round. Per run: wall time (spawn to exit), CPU time (user + sys of the child, os.wait4) and
peak RSS (GNU time's %M: see measure()), and the servers' CPU during the run. Every run's
answer is checked (all N servers ok, N x resources); a wrong answer stops the benchmark.

Writes the raw runs and the environment to bench/compare/results/<UTC date>[-k].json (never
overwrites), prints medians and the ratios of each pair, the CPU cost per extra server
(least-squares slope of median CPU against N, test servers), and draws wall_vs_n.svg and
cpu_vs_n.svg (hand-written SVG; --quick writes them under results/ with a -quick suffix).

At rest (--idle): --idle-n (50) test servers; each client gathers them, prints its answer and
holds its sessions (ours: examples/at_rest.rs; the rmcp baselines with BENCH_HOLD=1); after
--idle-s (10) seconds of rest the script reads the client's /proc/<pid>/status (Threads, VmRSS,
VmHWM), then closes its input. Ours in four modes: legacy SSE; Streamable HTTP handshake;
2026-07-28 listening for list changes (the library's default); 2026-07-28 not listening (the
CLI's). Writes results/<UTC date>-idle[-k].json and prints medians and ratios.

Run it with the interop venv's Python (mcp 2.3.0; the servers and the Python client use it):

  .venv-interop/bin/python bench/compare/run.py --build          # the full measurement
  .venv-interop/bin/python bench/compare/run.py --build --quick  # a small check of the harness
  .venv-interop/bin/python bench/compare/run.py --build --idle   # at rest, 50 servers
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import selectors
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RESOURCES_PER_SERVER = 100
EXPECTED = {"python": RESOURCES_PER_SERVER + 1, "test": RESOURCES_PER_SERVER}  # python adds a blob
TRANSPORTS = ("sse", "streamable_http")
CLIENTS = {
    "sse": ("ours", "lib", "rmcp-0.10", "python"),
    "streamable_http": ("ours-hs", "ours-2026", "lib-hs", "lib-2026", "rmcp3-hs", "rmcp3-discover", "python"),
}
# (ours, theirs): the ratios reported, per transport.
PAIRS = {
    "sse": (("ours", "rmcp-0.10"), ("lib", "rmcp-0.10"), ("ours", "python")),
    "streamable_http": (("ours-hs", "rmcp3-hs"), ("lib-hs", "rmcp3-hs"), ("ours-2026", "rmcp3-discover"),
                        ("lib-2026", "rmcp3-discover"), ("ours-2026", "python")),
}


def pairs(kind: str, transport: str):
    """The ratios reported: the Python client speaks the handshake to test servers."""
    if kind == "test" and transport == "streamable_http":
        return tuple(("ours-hs", t) if t == "python" else (o, t) for o, t in PAIRS[transport])
    return PAIRS[transport]


RUN_TIMEOUT_S = 300
PYTHON_CLIENT_MAX_N = 50
START_TIMEOUT_S = 300
TIME = os.environ.get("GNU_TIME", "/usr/bin/time")  # GNU time (Debian: apt-get install time)
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
BASELINE_TARGET = HERE / "target"


class BenchError(Exception):
    pass


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ints = lambda s: [int(x) for x in s.split(",") if x]  # noqa: E731
    words = lambda s: [x for x in s.split(",") if x]  # noqa: E731
    p.add_argument("--quick", action="store_true",
                   help="a small check: test servers N=1,10 and python N=2, 1 round, no warm-up")
    p.add_argument("--servers", type=words, default=None, help="server kinds (default python,test)")
    p.add_argument("--transports", type=words, default=None, help="default sse,streamable_http")
    p.add_argument("--python-ns", type=ints, default=None, help="Python SDK server counts (default 10,50)")
    p.add_argument("--test-ns", type=ints, default=None, help="test server counts (default 1,10,50,200)")
    p.add_argument("--clients", type=words, default=None, help="only these clients (default all)")
    p.add_argument("--rounds", type=int, default=None, help="measured rounds (default 5)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up rounds (default 1)")
    p.add_argument("--latency-ms", type=int, default=0, help="ms added to each resources/list (default 0)")
    p.add_argument("--build", action="store_true",
                   help="build the release binaries first (ours, mcp-test-server, the rmcp baselines)")
    p.add_argument("--ours", default=os.environ.get("MCP_ORCHESTRATOR_BIN", str(TARGET / "dist/mcp-orchestrator")))
    p.add_argument("--test-server",
                   default=os.environ.get("MCP_TEST_SERVER_BIN", str(TARGET / "release/mcp-test-server")))
    p.add_argument("--rmcp", default=os.environ.get("RMCP_CLIENT_BIN",
                                                    str(BASELINE_TARGET / "release/rmcp-baseline-client")))
    p.add_argument("--rmcp3", default=os.environ.get("RMCP3_CLIENT_BIN",
                                                     str(BASELINE_TARGET / "release/rmcp3-baseline-client")))
    p.add_argument("--python-server", default=str(ROOT / "tests/interop/server.py"))
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--idle", action="store_true",
                   help="the at-rest scenario instead: N test servers gathered, then --idle-s of rest; "
                        "threads and resident memory of each client (3 rounds unless --rounds)")
    p.add_argument("--idle-n", type=int, default=50, help="servers in the at-rest scenario (default 50)")
    p.add_argument("--idle-s", type=float, default=10.0, help="seconds of rest before counting (default 10)")
    p.add_argument("--at-rest", default=os.environ.get("MCP_AT_REST_BIN", str(TARGET / "release/examples/at_rest")))
    a = p.parse_args()
    quick = a.quick
    a.servers = a.servers or ["python", "test"]
    a.transports = a.transports or list(TRANSPORTS)
    a.python_ns = a.python_ns or ([2] if quick else [10, 50])
    a.test_ns = a.test_ns or ([1, 10] if quick else [1, 10, 50, 200])
    a.rounds = a.rounds if a.rounds is not None else (1 if quick else 3 if a.idle else 5)
    a.warmup = a.warmup if a.warmup is not None else (0 if quick else 1)
    return a


def build(args) -> None:
    """Release builds: ours and the test server (the workspace's target), the baselines (one
    target directory of their own, bench/compare/target)."""
    steps = [
        (["cargo", "build", "--profile", "dist", "-p", "mcp-orchestrator-cli", "--bin", "mcp-orchestrator"], ROOT, {}),
        (["cargo", "build", "--release", "-p", "mcp-orchestrator", "--features", "testing",
          "--bin", "mcp-test-server"], ROOT, {}),
        (["cargo", "build", "--release", "-p", "mcp-orchestrator", "--example", "at_rest"], ROOT, {}),
        (["cargo", "build", "--release", "--locked"], HERE / "rmcp_client", {"CARGO_TARGET_DIR": str(BASELINE_TARGET)}),
        (["cargo", "build", "--release", "--locked"], HERE / "rmcp3_client", {"CARGO_TARGET_DIR": str(BASELINE_TARGET)}),
    ]
    for argv, cwd, env in steps:
        print(f"$ (cd {cwd.relative_to(ROOT) if cwd != ROOT else '.'} && {' '.join(argv)})", flush=True)
        subprocess.run(argv, cwd=cwd, env={**os.environ, **env}, check=True)


# --- servers ---------------------------------------------------------------------------------


def server_argv(args, kind: str, transport: str) -> list[str]:
    if kind == "python":
        argv = [sys.executable, args.python_server, "--transport", transport, "--resources",
                str(RESOURCES_PER_SERVER), "--port", "0", "--exit-on-stdin-eof", "--log-level", "WARNING"]
        if args.latency_ms:
            argv += ["--list-latency-ms", str(args.latency_ms)]
        return argv
    argv = [args.test_server, "--listen", "0", "--protocol", "both", "--resources", str(RESOURCES_PER_SERVER),
            "--template", "test://template/{id}", "--tool", "add=3", "--tool", "echo=hello",
            "--prompt", "greet=Hello, {name}!"]
    if args.latency_ms:
        argv += ["--delay", f"resources/list={args.latency_ms}"]
    return argv


def start_servers(argv: list[str], n: int) -> list[tuple[subprocess.Popen, int]]:
    """Start n servers at once, then wait (bounded) for each one's `LISTENING <port>` line."""
    procs = []
    try:
        for _ in range(n):
            procs.append(subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + START_TIMEOUT_S
        servers = []
        for proc in procs:
            sel = selectors.DefaultSelector()
            sel.register(proc.stdout, selectors.EVENT_READ)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not sel.select(remaining):
                raise BenchError(f"a server did not print LISTENING within {START_TIMEOUT_S} s: {argv[:2]}")
            line = proc.stdout.readline().decode().strip()
            sel.close()
            if not line.startswith("LISTENING "):
                raise BenchError(f"unexpected first line from a server: {line!r}")
            servers.append((proc, int(line.split()[1])))
        return servers
    except BaseException:
        stop_servers(procs)
        raise


def stop_servers(procs) -> None:
    procs = [p[0] if isinstance(p, tuple) else p for p in procs]
    for p in procs:
        try:
            p.stdin.close()  # both kinds exit when their input ends
        except OSError:
            pass
    deadline = time.monotonic() + 10
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)


# --- clients ---------------------------------------------------------------------------------


def ours_config(urls: list[str], transport: str, protocol: str | None, path: Path) -> None:
    lines = ["mcp_servers:"]
    for i, url in enumerate(urls):
        lines += [
            f"  s{i:03}:",
            f'    url: "{url}"',
            f"    priority: {i + 1}",
            f'    transport: "{transport}"',
            "    read_contents: false",
        ]
        if protocol:
            lines.append(f'    protocol: "{protocol}"')
    lines += ["orchestration:", "  resource_cache_ttl: 300", "  fail_fast: false", '  log_level: "WARN"',
              f"  max_concurrent_connections: {max(1, len(urls))}"]
    path.write_text("\n".join(lines) + "\n")


def check_ours(out: str) -> tuple[int, int]:
    doc = json.loads(out)
    ok = sum(1 for s in doc["servers"] if s["status"] == "ok")
    return ok, sum(len(s["resources"]) for s in doc["servers"])


def check_summary(out: str) -> tuple[int, int]:
    doc = json.loads(out.strip().splitlines()[-1])
    return doc["servers_ok"], doc["resources"]


def client_argv(name: str, transport: str, kind: str, args, urls: list[str], tmp: Path):
    """The command line of a client, and the function that reads its answer."""
    if name.startswith("ours"):
        protocol = {"ours": None, "ours-hs": "2025-11-25", "ours-2026": "2026-07-28"}[name]
        # One file per scenario: the Python and the test servers at the same N and transport
        # are different servers on different ports.
        cfg = tmp / f"{name}-{kind}-{transport}-{len(urls)}.yaml"
        if not cfg.exists():
            ours_config(urls, transport, protocol, cfg)
        return [args.ours, "gather", "--config", str(cfg), "--format", "json"], check_ours
    if name.startswith("lib"):
        # The library alone, like the baselines: examples/at_rest.rs, which ends once gathered
        # when its input is empty (measure() gives it /dev/null); no listen stream.
        mode = {"lib": "sse", "lib-hs": "hs", "lib-2026": "2026-quiet"}[name]
        return [args.at_rest, mode, *urls], check_summary
    if name == "rmcp-0.10":
        return [args.rmcp, *urls], check_summary
    if name == "rmcp3-hs":
        return [args.rmcp3, "initialize", *urls], check_summary
    if name == "rmcp3-discover":
        return [args.rmcp3, "discover", *urls], check_summary
    # The test server's 2026-07-28 list results lack `ttlMs`/`cacheScope`, which the Python SDK
    # requires: against it the Python client speaks the handshake (and is paired with ours-hs).
    mode = "streamable_http_legacy" if transport == "streamable_http" and kind == "test" else transport
    return [sys.executable, str(HERE / "python_client.py"), mode, *urls], check_summary


def measure(argv: list[str]) -> tuple[dict, str, str]:
    """Run argv as a child under GNU time: wall time, CPU time and peak RSS of that child.

    Peak RSS comes from GNU time's `%M`, not from our own os.wait4: Python starts children with
    vfork, and Linux records the parent's (this script's) high-water RSS into the child's
    ru_maxrss when it execs, so os.wait4 would report at least this script's ~11-20 MiB for any
    child. GNU time forks from its own ~1 MiB image, so its figure is the client's own.
    Wall time is ours (spawn of /usr/bin/time to its exit); CPU time (user + sys) is os.wait4's
    for the time process, which includes its waited-for child, the client, plus time's own
    (well under 1 ms).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(mode="r") as rss:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [TIME, "-f", "%M", "-o", rss.name, *argv], stdin=subprocess.DEVNULL, stdout=out, stderr=err
        )
        deadline = t0 + RUN_TIMEOUT_S
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                raise BenchError(f"timed out after {RUN_TIMEOUT_S} s: {argv[:3]}")
            time.sleep(0.0005)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen quiet
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
        rss_lines = [x for x in rss.read().split() if x.isdigit()]
    m = {
        "wall_ms": wall * 1e3,
        "cpu_ms": (ru.ru_utime + ru.ru_stime) * 1e3,
        "user_ms": ru.ru_utime * 1e3,
        "sys_ms": ru.ru_stime * 1e3,
        "maxrss_kib": int(rss_lines[-1]) if rss_lines else -1,
        "exit": proc.returncode,
    }
    return m, stdout, stderr


def servers_cpu_ms(pids: list[int]) -> float:
    """CPU time (user + sys) the servers have used so far, from /proc/<pid>/stat (10 ms ticks)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks * 1e3 / os.sysconf("SC_CLK_TCK")


def run_client(name: str, transport: str, kind: str, args, urls: list[str], tmp: Path, pids: list[int]) -> dict:
    argv, check = client_argv(name, transport, kind, args, urls, tmp)
    before = servers_cpu_ms(pids)
    m, stdout, stderr = measure(argv)
    m["servers_cpu_ms"] = servers_cpu_ms(pids) - before
    try:
        ok, resources = check(stdout)
    except (ValueError, KeyError, IndexError) as e:
        raise BenchError(f"{name}/{transport}: unreadable answer ({e}); exit {m['exit']}; stderr: {stderr[-2000:]}")
    want = len(urls) * EXPECTED[kind]
    if m["exit"] != 0 or ok != len(urls) or resources != want:
        raise BenchError(
            f"{name}/{transport}: WRONG ANSWER: exit {m['exit']}, {ok}/{len(urls)} servers ok, "
            f"{resources} resources (want {want}); stderr: {stderr[-2000:]}"
        )
    m.update(servers_ok=ok, resources=resources)
    return m


# --- environment -----------------------------------------------------------------------------


def sh(*argv: str, cwd: Path = ROOT) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd=cwd).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def locked_version(lock: Path, crate: str) -> str:
    if not lock.exists():
        return "?"
    text = lock.read_text()
    i = text.find(f'name = "{crate}"\n')
    return text[i:].splitlines()[1].split('"')[1] if i >= 0 else "?"


def environment(args) -> dict:
    from importlib.metadata import version

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "loadavg_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "mcp_python": version("mcp"),
        "rmcp_0_10": locked_version(HERE / "rmcp_client/Cargo.lock", "rmcp"),
        "rmcp_3": locked_version(HERE / "rmcp3_client/Cargo.lock", "rmcp"),
        "ureq": locked_version(ROOT / "Cargo.lock", "ureq"),
        "rustc": sh("rustc", "-V"),
        "commit": sh("git", "rev-parse", "HEAD"),
        "dirty": bool(sh("git", "status", "--porcelain", "--untracked-files=no")),
        "ours_bin": args.ours,
        "test_server_bin": args.test_server,
        "rmcp_bin": args.rmcp,
        "rmcp3_bin": args.rmcp3,
        "python_server": args.python_server,
    }


# --- report ----------------------------------------------------------------------------------

FIELDS = ("wall_ms", "cpu_ms", "maxrss_kib", "servers_cpu_ms")


def medians(runs: list[dict]) -> dict:
    out: dict = {}
    for r in runs:
        out.setdefault((r["server"], r["transport"], r["n"], r["client"]), []).append(r)
    return {k: {f: statistics.median(x[f] for x in v) for f in FIELDS} for k, v in out.items()}


def slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of y against x."""
    if len(points) < 2:
        return None
    mx = statistics.fmean(x for x, _ in points)
    my = statistics.fmean(y for _, y in points)
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else None


def report(runs: list[dict], args) -> tuple[str, dict]:
    med = medians(runs)
    lines, summary = [], {"medians": [], "ratios": [], "slopes": []}
    for kind in args.servers:
        ns = args.python_ns if kind == "python" else args.test_ns
        for transport in args.transports:
            clients = [c for c in CLIENTS[transport] if (not args.clients or c in args.clients)]
            lines.append(f"\n{kind} servers, {transport}: median of {args.rounds} runs "
                         "(wall ms / CPU ms / peak RSS MiB; servers' CPU ms)")
            lines.append(f"{'N':>4}  " + "  ".join(f"{c:>26}" for c in clients))
            for n in ns:
                cells = []
                for c in clients:
                    m = med.get((kind, transport, n, c))
                    if m:
                        summary["medians"].append(dict(server=kind, transport=transport, n=n, client=c, **m))
                    cells.append(f"{m['wall_ms']:7.1f}/{m['cpu_ms']:6.1f}/{m['maxrss_kib'] / 1024:5.1f}; "
                                 f"{m['servers_cpu_ms']:4.0f}" if m else "")
                lines.append(f"{n:>4}  " + "  ".join(f"{x:>26}" for x in cells))
            lines.append("ratios ours/theirs (wall, CPU, peak RSS)")
            for n in ns:
                for ours, theirs in pairs(kind, transport):
                    o, t = med.get((kind, transport, n, ours)), med.get((kind, transport, n, theirs))
                    if not (o and t):
                        continue
                    r = {f: o[f] / t[f] if t[f] else float("nan") for f in ("wall_ms", "cpu_ms", "maxrss_kib")}
                    summary["ratios"].append(dict(server=kind, transport=transport, n=n, ours=ours, theirs=theirs,
                                                  wall=r["wall_ms"], cpu=r["cpu_ms"], rss=r["maxrss_kib"]))
                    lines.append(f"{n:>4}  {ours:>9} / {theirs:<15} {r['wall_ms']:5.2f} {r['cpu_ms']:5.2f} "
                                 f"{r['maxrss_kib']:5.2f}")
            if len(ns) >= 2:
                lines.append("CPU ms per extra server (least-squares slope of median CPU against N)")
                slopes = {}
                for c in clients:
                    pts = [(n, med[(kind, transport, n, c)]["cpu_ms"]) for n in ns if (kind, transport, n, c) in med]
                    slopes[c] = slope(pts)
                    if slopes[c] is not None:
                        summary["slopes"].append(dict(server=kind, transport=transport, client=c, cpu_ms_per_server=slopes[c]))
                lines.append("      " + "  ".join(f"{c}: {s:.2f}" for c, s in slopes.items() if s is not None))
                for ours, theirs in pairs(kind, transport):
                    if slopes.get(ours) and slopes.get(theirs):
                        lines.append(f"      slope ratio {ours} / {theirs}: {slopes[ours] / slopes[theirs]:.2f}")
    return "\n".join(lines), summary


# --- plots (hand-written SVG: no plotting library needed) ------------------------------------

COLORS = {"ours": "#1f77b4", "ours-hs": "#1f77b4", "ours-2026": "#17becf", "lib": "#9467bd", "lib-hs": "#9467bd",
          "lib-2026": "#e377c2", "rmcp-0.10": "#d62728",
          "rmcp3-hs": "#d62728", "rmcp3-discover": "#ff7f0e", "python": "#2ca02c"}
DASHED = {"ours-2026", "lib-2026", "rmcp3-discover"}


def svg_plot(runs: list[dict], args, field: str, label: str, path: Path) -> None:
    import math

    med = medians(runs)
    panels = [(k, t) for k in args.servers for t in args.transports]
    pw, ph, ml, mr, mt, mb = 360, 280, 62, 12, 34, 92
    width, height = pw * len(panels), ph
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    for p, (kind, transport) in enumerate(panels):
        x0 = p * pw
        ns = args.python_ns if kind == "python" else args.test_ns
        clients = [c for c in CLIENTS[transport] if (not args.clients or c in args.clients)]
        values = [med[(kind, transport, n, c)][field] for n in ns for c in clients if (kind, transport, n, c) in med]
        values = [v for v in values if v > 0]
        title = f"{kind} servers, {'legacy SSE' if transport == 'sse' else 'Streamable HTTP'}"
        out.append(f'<text x="{x0 + pw / 2}" y="16" text-anchor="middle" font-size="12">{title}</text>')
        if not values or not ns:
            continue
        lo, hi = math.log10(min(values)), math.log10(max(values))
        lo, hi = math.floor(lo), math.ceil(hi) if math.ceil(hi) > math.floor(lo) else math.floor(lo) + 1
        nlo, nhi = math.log10(min(ns)), math.log10(max(ns))
        if nhi == nlo:
            nlo, nhi = nlo - 0.5, nhi + 0.5
        left, right, top, bottom = x0 + ml, x0 + pw - mr, mt, ph - mb

        def px(n: float) -> float:
            return left + (math.log10(n) - nlo) / (nhi - nlo) * (right - left)

        def py(v: float) -> float:
            return bottom - (math.log10(v) - lo) / (hi - lo) * (bottom - top)

        out.append(f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" '
                   'fill="none" stroke="#888"/>')
        for e in range(lo, hi + 1):
            for m in (1, 2, 5):
                v = m * 10 ** e
                if v < 10 ** lo or v > 10 ** hi:
                    continue
                y = py(v)
                out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#ddd"/>')
                out.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{v:g}</text>')
        for n in ns:
            x = px(n)
            out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="#eee"/>')
            out.append(f'<text x="{x:.1f}" y="{bottom + 14}" text-anchor="middle">{n}</text>')
        out.append(f'<text x="{(left + right) / 2}" y="{bottom + 28}" text-anchor="middle">servers (N)</text>')
        out.append(f'<text transform="translate({x0 + 14},{(top + bottom) / 2}) rotate(-90)" '
                   f'text-anchor="middle">{label}</text>')
        for i, c in enumerate(clients):
            pts = [(px(n), py(med[(kind, transport, n, c)][field])) for n in ns
                   if (kind, transport, n, c) in med and med[(kind, transport, n, c)][field] > 0]
            color = COLORS.get(c, "#555")
            dash = ' stroke-dasharray="5,3"' if c in DASHED else ""
            if len(pts) > 1:
                d = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
                out.append(f'<polyline points="{d}" fill="none" stroke="{color}" stroke-width="1.6"{dash}/>')
            for x, y in pts:
                out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.6" fill="{color}"/>')
            lx, ly = x0 + ml + (i % 3) * 100, ph - mb + 46 + (i // 3) * 14
            out.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 16}" y2="{ly - 4}" stroke="{color}" '
                       f'stroke-width="2"{dash}/><text x="{lx + 20}" y="{ly}">{c}</text>')
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")


# --- at rest (--idle) --------------------------------------------------------------------------

# The at-rest clients: (name, transport) -> argv prefix and environment; each prints its answer
# line once gathered and then holds its sessions until its input ends.
IDLE_CLIENTS = {
    "sse": ("ours", "rmcp-0.10"),
    "streamable_http": ("ours-hs", "ours-2026", "ours-2026-quiet", "rmcp3-hs", "rmcp3-discover"),
}
IDLE_PAIRS = {
    "sse": (("ours", "rmcp-0.10"),),
    "streamable_http": (("ours-hs", "rmcp3-hs"), ("ours-2026", "rmcp3-discover"), ("ours-2026-quiet", "rmcp3-discover")),
}


def idle_argv(name: str, args, urls: list[str]) -> tuple[list[str], dict]:
    hold = {**os.environ, "BENCH_HOLD": "1"}
    if name.startswith("ours"):
        mode = {"ours": "sse", "ours-hs": "hs", "ours-2026": "2026", "ours-2026-quiet": "2026-quiet"}[name]
        return [args.at_rest, mode, *urls], dict(os.environ)
    if name == "rmcp-0.10":
        return [args.rmcp, *urls], hold
    return [args.rmcp3, "initialize" if name == "rmcp3-hs" else "discover", *urls], hold


def proc_status(pid: int) -> dict:
    """Threads and resident memory of a live process (/proc/<pid>/status)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("Threads", "VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return {"threads": out["Threads"], "rss_kib": out["VmRSS"], "peak_rss_kib": out["VmHWM"]}


def idle_run(name: str, args, urls: list[str]) -> dict:
    """Start a client, wait (bounded) for its answer, let it rest, count, then end it."""
    argv, env = idle_argv(name, args, urls)
    # stderr to a file, not a pipe nobody reads (a chatty client would block on a full pipe).
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=env)

    def stderr_tail() -> str:
        err.seek(0)
        return err.read().decode(errors="replace")[-2000:]

    try:
        line = read_line(proc.stdout, time.monotonic() + RUN_TIMEOUT_S)
        if line is None:
            raise BenchError(f"{name}: no answer within {RUN_TIMEOUT_S} s; stderr: {stderr_tail()}")
        try:
            ok, resources = check_summary(line)
        except (ValueError, KeyError, IndexError) as e:
            raise BenchError(f"{name}: unreadable answer {line!r} ({e}); stderr: {stderr_tail()}")
        want = len(urls) * EXPECTED["test"]
        if ok != len(urls) or resources != want:
            raise BenchError(f"{name}: WRONG ANSWER: {ok}/{len(urls)} servers ok, {resources} resources "
                             f"(want {want}); stderr: {stderr_tail()}")
        gathered = proc_status(proc.pid)
        time.sleep(args.idle_s)
        if proc.poll() is not None:
            raise BenchError(f"{name}: ended while at rest (exit {proc.returncode})")
        rest = proc_status(proc.pid)
        return {"threads_gathered": gathered["threads"], "rss_gathered_kib": gathered["rss_kib"],
                "threads": rest["threads"], "rss_kib": rest["rss_kib"], "peak_rss_kib": rest["peak_rss_kib"],
                "servers_ok": ok, "resources": resources}
    finally:
        try:
            proc.stdin.close()
            proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait(timeout=5)
        err.close()


def read_line(stream, deadline: float) -> str | None:
    """The first line of stream (a pipe), or None if it has not ended by deadline (or the pipe
    closed first)."""
    fd = stream.fileno()
    data = b""
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            if not sel.select(remaining):
                return None
        chunk = os.read(fd, 4096)
        if not chunk:
            return None
        data += chunk
    return data.split(b"\n", 1)[0].decode()


IDLE_FIELDS = ("threads_gathered", "threads", "rss_gathered_kib", "rss_kib", "peak_rss_kib")


def ready(needs: list[tuple[str, str]]) -> bool:
    """Every (what, path) in needs exists (else says which does not), and the open-file limit is
    raised for 200 servers (a client holds a few sockets per server)."""
    for what, p in needs:
        if not Path(p).exists():
            print(f"error: {what} not found at {p}", file=sys.stderr)
            return False
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 16384), hard), hard))
    return True


def idle_main(args) -> int:
    if not ready([("at_rest example (cargo build --release --example at_rest)", args.at_rest),
                  ("mcp-test-server", args.test_server), ("rmcp 0.10 baseline", args.rmcp),
                  ("rmcp 3 baseline", args.rmcp3)]):
        return 2
    env = environment(args)
    env["at_rest_bin"] = args.at_rest
    print(json.dumps(env, indent=2), flush=True)
    started = time.monotonic()
    runs: list[dict] = []
    n = args.idle_n
    servers = start_servers(server_argv(args, "test", "sse"), n)
    try:
        for transport in args.transports:
            path = "/sse" if transport == "sse" else "/mcp"
            urls = [f"http://127.0.0.1:{port}{path}" for _, port in servers]
            clients = [c for c in IDLE_CLIENTS[transport] if not args.clients or c in args.clients]
            for rnd in range(args.rounds):
                k = rnd % len(clients)
                for c in clients[k:] + clients[:k]:
                    m = idle_run(c, args, urls)
                    runs.append(dict(server="test", transport=transport, n=n, client=c, idle_s=args.idle_s,
                                     round=rnd, **m))
                    print(f"{transport} {c} round {rnd}: {m['threads']} threads, {m['rss_kib'] / 1024:.1f} MiB "
                          f"at rest", flush=True)
    finally:
        stop_servers(servers)
    lines = [f"\nat rest: {n} test servers gathered, then {args.idle_s:g} s idle; median of {args.rounds} runs"]
    lines.append(f"{'transport':<16} {'client':<16} {'threads gathered':>16} {'threads at rest':>15} "
                 f"{'RSS gathered MiB':>16} {'RSS at rest MiB':>15} {'peak RSS MiB':>12}")
    med = {}
    for transport in args.transports:
        for c in IDLE_CLIENTS[transport]:
            rs = [r for r in runs if r["transport"] == transport and r["client"] == c]
            if not rs:
                continue
            m = med[(transport, c)] = {f: statistics.median(r[f] for r in rs) for f in IDLE_FIELDS}
            lines.append(f"{transport:<16} {c:<16} {m['threads_gathered']:>16.0f} {m['threads']:>15.0f} "
                         f"{m['rss_gathered_kib'] / 1024:>16.1f} {m['rss_kib'] / 1024:>15.1f} "
                         f"{m['peak_rss_kib'] / 1024:>12.1f}")
    lines.append("ratios ours/theirs at rest (threads, RSS)")
    summary = {"medians": [dict(transport=t, client=c, **m) for (t, c), m in med.items()], "ratios": []}
    for transport in args.transports:
        for ours, theirs in IDLE_PAIRS[transport]:
            o, t = med.get((transport, ours)), med.get((transport, theirs))
            if o and t:
                r = {"threads": o["threads"] / t["threads"], "rss": o["rss_kib"] / t["rss_kib"]}
                summary["ratios"].append(dict(transport=transport, ours=ours, theirs=theirs, **r))
                lines.append(f"{transport:<16} {ours:>16} / {theirs:<16} {r['threads']:5.2f} {r['rss']:5.2f}")
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    stem = env["date_utc"][:10] + "-idle"
    out, k = out_dir / f"{stem}.json", 2
    while out.exists():
        out, k = out_dir / f"{stem}-{k}.json", k + 1
    params = {"idle_n": n, "idle_s": args.idle_s, "rounds": args.rounds, "transports": args.transports,
              "clients": args.clients, "duration_s": round(time.monotonic() - started)}
    out.write_text(json.dumps({"environment": env, "parameters": params, "summary": summary, "runs": runs},
                              indent=1) + "\n")
    print("\n".join(lines))
    print(f"\nraw results: {out.relative_to(ROOT)} ({params['duration_s']} s)")
    return 0


# --- main ------------------------------------------------------------------------------------


def main() -> int:
    args = parse_args()
    if args.build:
        build(args)
    if args.idle:
        return idle_main(args)
    wanted = {c for t in args.transports for c in CLIENTS[t] if not args.clients or c in args.clients}
    needs = [("GNU time", TIME)]
    if any(c.startswith("ours") for c in wanted):
        needs.append(("mcp-orchestrator (cargo build --profile dist -p mcp-orchestrator-cli)", args.ours))
    if any(c.startswith("lib") for c in wanted):
        needs.append(("at_rest example (cargo build --release --example at_rest)", args.at_rest))
    if "test" in args.servers:
        needs.append(("mcp-test-server (cargo build --release --features testing --bin mcp-test-server)",
                      args.test_server))
    if "rmcp-0.10" in wanted:
        needs.append(("rmcp 0.10 baseline (run.py --build)", args.rmcp))
    if wanted & {"rmcp3-hs", "rmcp3-discover"}:
        needs.append(("rmcp 3 baseline (run.py --build)", args.rmcp3))
    if "python" in args.servers:
        needs.append(("Python SDK server", args.python_server))
    if not ready(needs):
        return 2
    env = environment(args)
    print(json.dumps(env, indent=2), flush=True)
    runs: list[dict] = []
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    try:
        for kind in args.servers:
            ns = args.python_ns if kind == "python" else args.test_ns
            for n in ns:
                # Python SDK servers speak one transport per process; a test server both.
                groups = [(t,) for t in args.transports] if kind == "python" else [tuple(args.transports)]
                for group in groups:
                    t0 = time.monotonic()
                    servers = start_servers(server_argv(args, kind, group[0]), n)
                    pids = [p.pid for p, _ in servers]
                    try:
                        for transport in group:
                            path = "/sse" if transport == "sse" else "/mcp"
                            urls = [f"http://127.0.0.1:{port}{path}" for _, port in servers]
                            # The Python client misses its own connect timeouts beyond 50
                            # servers at once (httpx.ConnectTimeout at N = 200): not run there.
                            clients = [c for c in CLIENTS[transport] if c in wanted
                                       and not (c == "python" and n > PYTHON_CLIENT_MAX_N)]
                            for rnd in range(args.warmup + args.rounds):
                                k = rnd % len(clients)
                                for c in clients[k:] + clients[:k]:
                                    m = run_client(c, transport, kind, args, urls, tmp, pids)
                                    if rnd >= args.warmup:
                                        runs.append(dict(server=kind, transport=transport, n=n, client=c,
                                                         latency_ms=args.latency_ms, round=rnd - args.warmup, **m))
                    finally:
                        stop_servers(servers)
                    print(f"{kind} N={n} {'+'.join(group)}: {time.monotonic() - t0:.0f} s", flush=True)
    finally:
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    stem = env["date_utc"][:10] + ("-quick" if args.quick else "")
    out, k = out_dir / f"{stem}.json", 2
    while out.exists():  # never overwrite an earlier run of the same day
        out, k = out_dir / f"{stem}-{k}.json", k + 1
    text, summary = report(runs, args)
    params = {k: getattr(args, k) for k in ("quick", "servers", "transports", "python_ns", "test_ns", "clients",
                                            "rounds", "warmup", "latency_ms")}
    params["duration_s"] = round(time.monotonic() - started)
    out.write_text(json.dumps({"environment": env, "parameters": params, "summary": summary, "runs": runs},
                              indent=1) + "\n")
    print(text)
    print(f"\nraw results: {out.relative_to(ROOT)} ({params['duration_s']} s)")
    if not args.no_plot:
        suffix = "-quick" if args.quick else ""
        where = out_dir if args.quick else HERE
        for field, label, name in (("wall_ms", "median wall time, ms (whole process)", "wall_vs_n"),
                                   ("cpu_ms", "median CPU time (user+sys), ms", "cpu_vs_n")):
            svg = where / f"{name}{suffix}.svg"
            svg_plot(runs, args, field, label, svg)
            print(f"plot: {svg.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
