#!/usr/bin/env python3
"""Baseline for bench/compare: connect to N legacy-SSE MCP servers concurrently with the official
Python SDK (PyPI `mcp`: `sse_client` + `ClientSession`, `asyncio.gather` over all N), initialize,
list every resource (following nextCursor), and print one line of JSON:
{"client":"python","servers":N,"servers_ok":K,"resources":R}.

To do the same work as `mcp-orchestrator gather` with `read_contents: false`, it also lists the
resource templates (when the server has the resources capability) and the tools (when it has the
tools capability), every page; only the resources are counted.

Usage: python_client.py <sse-url>...
"""

from __future__ import annotations

import asyncio
import json
import sys

from mcp import types
from mcp.client.session import ClientSession
from mcp.client.sse import sse_client


async def list_all(method, attr: str) -> list:
    items, cursor, seen = [], None, set()
    while True:
        params = types.PaginatedRequestParams(cursor=cursor) if cursor is not None else None
        result = await method(params=params)
        items.extend(getattr(result, attr))
        cursor = result.next_cursor
        if cursor is None:
            return items
        if cursor in seen:
            raise RuntimeError(f"repeated cursor {cursor!r}")
        seen.add(cursor)


async def one(url: str) -> int:
    async with sse_client(url) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            n = 0
            if init.capabilities.resources is not None:
                n = len(await list_all(session.list_resources, "resources"))
                await list_all(session.list_resource_templates, "resource_templates")
            if init.capabilities.tools is not None:
                await list_all(session.list_tools, "tools")
            return n


async def main(urls: list[str]) -> int:
    results = await asyncio.gather(*(one(u) for u in urls), return_exceptions=True)
    ok = resources = 0
    for url, r in zip(urls, results):
        if isinstance(r, BaseException):
            print(f"error: {url}: {r!r}", file=sys.stderr)
        else:
            ok += 1
            resources += r
    print(json.dumps({"client": "python", "servers": len(urls), "servers_ok": ok, "resources": resources}))
    return 0 if ok == len(urls) else 1


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print("usage: python_client.py <sse-url>...", file=sys.stderr)
        sys.exit(2)
    sys.exit(asyncio.run(main(sys.argv[1:])))
