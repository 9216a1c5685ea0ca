#!/usr/bin/env python3
"""Side-by-side benchmark: mcp-orchestrator's `gather` against baseline clients written with the
official MCP SDKs (Python `mcp`, Rust `rmcp` 0.10.0), on the same servers, interleaved.

For every N (servers) x latency (ms added to each resources/list) it starts N servers built on
the official Python SDK (tests/interop/server.py, legacy SSE, 100 text resources + 1 blob each),
then runs each client as a whole process: one warm-up round, then --rounds measured rounds, the
clients' order rotated every round. Per run: wall time (spawn to exit), CPU time (user + sys of
the child, from os.wait4) and peak RSS (GNU time's %M: see measure()). Every run's answer is checked
(all N servers ok, N * 101 resources); a wrong answer stops the benchmark.

Clients:
  ours@N   target/release/mcp-orchestrator gather --format json, max_concurrent_connections: N
  ours@10  the same with the default pool (10)
  rmcp     bench/compare/rmcp_client (rmcp 0.10.0, tokio, all N at once)
  python   bench/compare/python_client.py (mcp, asyncio.gather over all N)
All of them list resources (every page), resource templates and tools; none reads contents.

Writes bench/compare/results/<UTC date>.json (or <date>-2.json, ... : never overwrites; raw runs +
environment), prints the medians and
ratios, and draws bench/compare/wall_vs_n.svg. Run it with the bench venv's Python (it is also
the Python the servers and the Python client run on):

  bench/compare/.venv/bin/python bench/compare/run.py [--ns 1,2,10,50] [--latencies 0,50]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
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
EXPECTED_PER_SERVER = RESOURCES_PER_SERVER + 1  # the server adds one blob resource
CLIENTS = ("ours@N", "ours@10", "rmcp", "python")
RUN_TIMEOUT_S = 300
TIME = os.environ.get("GNU_TIME", "/usr/bin/time")  # GNU time (Debian: apt-get install time)
START_TIMEOUT_S = 120


class BenchError(Exception):
    pass


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ints = lambda s: [int(x) for x in s.split(",") if x]  # noqa: E731
    p.add_argument("--ns", type=ints, default=[1, 2, 10, 50], help="server counts (default 1,2,10,50)")
    p.add_argument("--latencies", type=ints, default=[0, 50], help="resources/list latency, ms (default 0,50)")
    p.add_argument("--rounds", type=int, default=5, help="measured rounds (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="warm-up rounds (default 1)")
    p.add_argument(
        "--ours",
        default=os.environ.get("MCP_ORCHESTRATOR_BIN", str(ROOT / "target/release/mcp-orchestrator")),
        help="the mcp-orchestrator binary ($MCP_ORCHESTRATOR_BIN, default target/release/mcp-orchestrator)",
    )
    p.add_argument(
        "--rmcp",
        default=os.environ.get(
            "RMCP_CLIENT_BIN", str(HERE / "rmcp_client/target/release/rmcp-baseline-client")
        ),
        help="the rmcp baseline binary ($RMCP_CLIENT_BIN, default "
        "bench/compare/rmcp_client/target/release/rmcp-baseline-client)",
    )
    p.add_argument(
        "--server",
        default=os.environ.get("BENCH_SERVER_PY", str(ROOT / "tests/interop/server.py")),
        help="the Python SDK server script ($BENCH_SERVER_PY, default tests/interop/server.py)",
    )
    p.add_argument("--no-plot", action="store_true")
    return p.parse_args()


# --- servers ---------------------------------------------------------------------------------


def start_servers(script: str, n: int, latency_ms: int) -> list[tuple[subprocess.Popen, int]]:
    """Start n servers at once, then wait (bounded) for each one's `LISTENING <port>` line."""
    procs = []
    try:
        for _ in range(n):
            procs.append(
                subprocess.Popen(
                    [sys.executable, script, "--transport", "sse", "--resources", str(RESOURCES_PER_SERVER),
                     "--list-latency-ms", str(latency_ms), "--port", "0", "--exit-on-stdin-eof",
                     "--log-level", "WARNING"],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                )
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        servers = []
        for proc in procs:
            sel = selectors.DefaultSelector()
            sel.register(proc.stdout, selectors.EVENT_READ)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not sel.select(remaining):
                raise BenchError(f"a server did not print LISTENING within {START_TIMEOUT_S} s")
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
            p.stdin.close()  # --exit-on-stdin-eof
        except OSError:
            pass
        p.terminate()
    deadline = time.monotonic() + 10
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)


# --- clients ---------------------------------------------------------------------------------


def ours_config(urls: list[str], pool: int | None, path: Path) -> None:
    lines = ["mcp_servers:"]
    for i, url in enumerate(urls):
        lines += [
            f"  s{i:03}:",
            f'    url: "{url}"',
            f"    priority: {i + 1}",
            '    domains: ["bench"]',
            '    capabilities: ["list_resources"]',
            '    transport: "sse"',
            "    read_contents: false",
        ]
    lines += ["orchestration:", "  resource_cache_ttl: 300", "  fail_fast: false", '  log_level: "WARN"']
    if pool is not None:
        lines.append(f"  max_concurrent_connections: {pool}")
    path.write_text("\n".join(lines) + "\n")


def check_ours(out: str) -> tuple[int, int]:
    doc = json.loads(out)
    ok = sum(1 for s in doc["servers"] if s["status"] == "ok")
    return ok, sum(len(s["resources"]) for s in doc["servers"])


def check_summary(out: str) -> tuple[int, int]:
    doc = json.loads(out.strip().splitlines()[-1])
    return doc["servers_ok"], doc["resources"]


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


def run_client(name: str, args, urls: list[str], cfg_n: Path, cfg_default: Path, pids: list[int]) -> dict:
    if name == "ours@N":
        argv, check = [args.ours, "gather", "--config", str(cfg_n), "--format", "json"], check_ours
    elif name == "ours@10":
        argv, check = [args.ours, "gather", "--config", str(cfg_default), "--format", "json"], check_ours
    elif name == "rmcp":
        argv, check = [args.rmcp, *urls], check_summary
    else:
        argv, check = [sys.executable, str(HERE / "python_client.py"), *urls], check_summary
    before = servers_cpu_ms(pids)
    m, stdout, stderr = measure(argv)
    m["servers_cpu_ms"] = servers_cpu_ms(pids) - before
    try:
        ok, resources = check(stdout)
    except (ValueError, KeyError, IndexError) as e:
        raise BenchError(f"{name}: unreadable answer ({e}); exit {m['exit']}; stderr: {stderr[-2000:]}")
    want = len(urls) * EXPECTED_PER_SERVER
    if m["exit"] != 0 or ok != len(urls) or resources != want:
        raise BenchError(
            f"{name}: WRONG ANSWER: exit {m['exit']}, {ok}/{len(urls)} servers ok, "
            f"{resources} resources (want {want}); stderr: {stderr[-2000:]}"
        )
    m.update(servers_ok=ok, resources=resources)
    return m


# --- environment -----------------------------------------------------------------------------


def sh(*argv: str) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd=ROOT).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


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
    rmcp = "?"
    lock = HERE / "rmcp_client/Cargo.lock"
    if lock.exists():
        text = lock.read_text()
        i = text.find('name = "rmcp"\n')
        if i >= 0:
            rmcp = text[i:].splitlines()[1].split('"')[1]
    return {
        "date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "mcp_python": version("mcp"),
        "rmcp": rmcp,
        "rustc": sh("rustc", "-V"),
        "commit": sh("git", "rev-parse", "HEAD"),
        "ours_bin": args.ours,
        "rmcp_bin": args.rmcp,
        "server": args.server,
    }


# --- report ----------------------------------------------------------------------------------


def medians(runs: list[dict]) -> dict:
    out = {}
    for r in runs:
        out.setdefault((r["n"], r["latency_ms"], r["client"]), []).append(r)
    return {
        k: {f: statistics.median(x[f] for x in v) for f in ("wall_ms", "cpu_ms", "maxrss_kib", "servers_cpu_ms")}
        for k, v in out.items()
    }


def report(runs: list[dict], args) -> str:
    med = medians(runs)
    lines = []
    for lat in args.latencies:
        lines.append(f"\nlatency {lat} ms, median of {args.rounds} runs (wall ms / CPU ms / peak RSS MiB)")
        lines.append(f"{'N':>4}  " + "  ".join(f"{c:>22}" for c in CLIENTS))
        for n in args.ns:
            cells = []
            for c in CLIENTS:
                m = med.get((n, lat, c))
                cells.append(
                    f"{m['wall_ms']:7.1f}/{m['cpu_ms']:6.1f}/{m['maxrss_kib'] / 1024:5.1f}" if m else " " * 22
                )
            lines.append(f"{n:>4}  " + "  ".join(f"{x:>22}" for x in cells))
        lines.append("servers' CPU ms during the run (all N servers, /proc ticks), median")
        for n in args.ns:
            cells = [f"{med[(n, lat, c)]['servers_cpu_ms']:.0f}" if (n, lat, c) in med else "" for c in CLIENTS]
            lines.append(f"{n:>4}  " + "  ".join(f"{x:>22}" for x in cells))
        lines.append("ratios, ours@N / rmcp and ours@N / python (wall, CPU, RSS)")
        for n in args.ns:
            o, r, p = (med.get((n, lat, c)) for c in ("ours@N", "rmcp", "python"))
            if not (o and r and p):
                continue
            rr = " ".join(f"{o[f] / r[f]:.2f}" for f in ("wall_ms", "cpu_ms", "maxrss_kib"))
            pr = " ".join(f"{o[f] / p[f]:.2f}" for f in ("wall_ms", "cpu_ms", "maxrss_kib"))
            lines.append(f"{n:>4}  vs rmcp: {rr}   vs python: {pr}")
    return "\n".join(lines)


def plot(runs: list[dict], args, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    med = medians(runs)
    fig, axes = plt.subplots(1, len(args.latencies), figsize=(5.5 * len(args.latencies), 4.2), squeeze=False)
    styles = {"ours@N": "o-", "ours@10": "o--", "rmcp": "s-", "python": "^-"}
    for ax, lat in zip(axes[0], args.latencies):
        for c in CLIENTS:
            xs = [n for n in args.ns if (n, lat, c) in med]
            ax.plot(xs, [med[(n, lat, c)]["wall_ms"] for n in xs], styles[c], label=c)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(args.ns)
        ax.set_xticklabels([str(n) for n in args.ns])
        ax.set_xlabel("servers (N)")
        ax.set_ylabel("median wall time, ms (whole process)")
        ax.set_title(f"{lat} ms added to resources/list")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle("cold connect + initialize + list, N Python SDK servers over SSE")
    fig.tight_layout()
    fig.savefig(path)


# --- main ------------------------------------------------------------------------------------


def main() -> int:
    args = parse_args()
    for what, p in (("mcp-orchestrator", args.ours), ("rmcp baseline", args.rmcp), ("server", args.server),
                    ("GNU time", TIME)):
        if not Path(p).exists():
            print(f"error: {what} not found at {p}", file=sys.stderr)
            return 2
    env = environment(args)
    print(json.dumps(env, indent=2))
    runs: list[dict] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    try:
        for lat in args.latencies:
            for n in args.ns:
                t0 = time.monotonic()
                servers = start_servers(args.server, n, lat)
                try:
                    urls = [f"http://127.0.0.1:{port}/sse" for _, port in servers]
                    cfg_n, cfg_default = tmp / f"n{n}.yaml", tmp / f"n{n}-default.yaml"
                    ours_config(urls, n, cfg_n)
                    ours_config(urls, None, cfg_default)
                    for rnd in range(args.warmup + args.rounds):
                        order = CLIENTS[rnd % 4:] + CLIENTS[: rnd % 4]
                        for c in order:
                            m = run_client(c, args, urls, cfg_n, cfg_default, [p.pid for p, _ in servers])
                            if rnd >= args.warmup:
                                runs.append(dict(n=n, latency_ms=lat, client=c, round=rnd - args.warmup, **m))
                finally:
                    stop_servers(servers)
                print(f"N={n} latency={lat} ms: done in {time.monotonic() - t0:.0f} s", flush=True)
    finally:
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"{env['date_utc'][:10]}.json"
    k = 2
    while out.exists():  # never overwrite an earlier run of the same day
        out = out_dir / f"{env['date_utc'][:10]}-{k}.json"
        k += 1
    params = {k: getattr(args, k) for k in ("ns", "latencies", "rounds", "warmup")}
    out.write_text(json.dumps({"environment": env, "parameters": params, "runs": runs}, indent=1) + "\n")
    print(report(runs, args))
    print(f"\nraw results: {out.relative_to(ROOT)}")
    if not args.no_plot:
        svg = HERE / "wall_vs_n.svg"
        plot(runs, args, svg)
        print(f"plot: {svg.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
