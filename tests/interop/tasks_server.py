#!/usr/bin/env python3
"""A FastMCP server with the MCP Tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663)
from PyPI's `fastmcp-tasks`, for the interop test `tests/interop_fastmcp_tasks.rs`.

    python tests/interop/tasks_server.py [--port 0] [--exit-on-stdin-eof]

Streamable HTTP at `/mcp` on 127.0.0.1; it prints exactly one line, `LISTENING <port>`, once it
accepts connections. The task backend is in memory (`memory://`, one process). Tools:

- `crunch(n: int)`: a task tool (`task=True`, poll interval 100 ms) that sleeps 0.3 s and
  answers the text `crunched {n}`;
- `stall()`: a task tool that sleeps 60 s (to be cancelled) and answers `stalled`;
- `confirm()`: a task tool that needs input (FastMCP's guard pattern): its first leg asks an
  `elicitation/create` (key `ok`, which FastMCP makes unique per task; a boolean `sure`),
  the task waits in `input_required` until `tasks/update` answers it, then answers
  `confirmed {action} {sure}`;
- `plain(text: str)`: no task (answers `plain {text}` at once).

Requirements: `tests/interop/requirements-tasks.txt` (see tests/interop/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import threading
from datetime import timedelta

import mcp_types
import uvicorn
from fastmcp import Context, FastMCP
from fastmcp.utilities.tasks import TaskConfig
from fastmcp_tasks import TasksExtension


def build() -> FastMCP:
    mcp = FastMCP("fastmcp-tasks")
    mcp.add_extension(TasksExtension(url="memory://"))
    fast = TaskConfig(mode="optional", poll_interval=timedelta(milliseconds=100))

    @mcp.tool(task=fast)
    async def crunch(n: int) -> str:
        """Crunches a number, slowly."""
        await asyncio.sleep(0.3)
        return f"crunched {n}"

    @mcp.tool(task=fast)
    async def stall() -> str:
        """Takes a minute."""
        await asyncio.sleep(60)
        return "stalled"

    @mcp.tool(task=fast)
    async def confirm(ctx: Context) -> str | mcp_types.InputRequiredResult:
        """Asks the user to confirm, then answers what they said."""
        answers = ctx.input_responses or {}
        answer = answers.get("ok")
        if answer is None:
            schema = {"type": "object", "properties": {"sure": {"type": "boolean"}}, "required": ["sure"]}
            ask = mcp_types.ElicitRequest(
                params=mcp_types.ElicitRequestFormParams(message="Sure?", requested_schema=schema)
            )
            return mcp_types.InputRequiredResult(input_requests={"ok": ask})
        sure = (answer.content or {}).get("sure") if isinstance(answer, mcp_types.ElicitResult) else None
        action = answer.action if isinstance(answer, mcp_types.ElicitResult) else "?"
        return f"confirmed {action} {sure}"

    @mcp.tool
    def plain(text: str) -> str:
        """Answers at once."""
        return f"plain {text}"

    return mcp


def watch_stdin() -> None:
    """Exit when stdin ends (the test that started us is gone)."""

    def watch() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        finally:
            import os

            os._exit(0)

    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()


async def serve(port: int) -> None:
    app = build().http_app(path="/mcp")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            await task
            return
        await asyncio.sleep(0.02)
    print(f"LISTENING {sock.getsockname()[1]}", flush=True)
    await task


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--exit-on-stdin-eof", action="store_true")
    args = parser.parse_args()
    if args.exit_on_stdin_eof:
        watch_stdin()
    asyncio.run(serve(args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
