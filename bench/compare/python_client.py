#!/usr/bin/env python3
"""Baseline for bench/compare: connect to N MCP servers concurrently with the official Python
SDK's high-level `mcp.Client` (PyPI `mcp` 2.3.0; `asyncio.gather` over all N), list every
resource, resource template, tool and prompt (each following nextCursor; the listings of one
server concurrently, each only when the server has its capability), and print one line of JSON:
{"client":"python","servers":N,"servers_ok":K,"resources":R}.

Transports:
  sse               legacy HTTP+SSE (`sse_client` as the Client's transport, mode "legacy": the
                    `initialize` handshake, the only era a legacy SSE server speaks)
  streamable_http   `Client(url)`: Streamable HTTP, mode "auto" (the SDK's default: probes
                    `server/discover`, speaks the 2026-07-28 wire when the server does, else
                    falls back to `initialize`)
  streamable_http_legacy
                    `Client(url, mode="legacy")`: Streamable HTTP, the `initialize` handshake

The Client's response cache is off (each run is a fresh process; it would only add work).
Only the resources are counted.

Usage: python_client.py (sse|streamable_http|streamable_http_legacy) <url>...
"""

from __future__ import annotations

import asyncio
import json
import sys

from mcp import Client
from mcp.client.sse import sse_client


async def list_all(method, attr: str) -> list:
    items, cursor, seen = [], None, set()
    while True:
        result = await method(cursor=cursor)
        items.extend(getattr(result, attr))
        cursor = result.next_cursor
        if cursor is None:
            return items
        if cursor in seen:
            raise RuntimeError(f"repeated cursor {cursor!r}")
        seen.add(cursor)


async def nothing() -> list:
    return []


async def one(transport: str, url: str) -> int:
    if transport == "sse":
        client = Client(sse_client(url), mode="legacy", cache=None)
    elif transport == "streamable_http_legacy":
        client = Client(url, mode="legacy", cache=None)
    else:
        client = Client(url, cache=None)
    async with client:
        caps = client.server_capabilities
        resources, _templates, _tools, _prompts = await asyncio.gather(
            list_all(client.list_resources, "resources") if caps.resources is not None else nothing(),
            list_all(client.list_resource_templates, "resource_templates")
            if caps.resources is not None
            else nothing(),
            list_all(client.list_tools, "tools") if caps.tools is not None else nothing(),
            list_all(client.list_prompts, "prompts") if caps.prompts is not None else nothing(),
        )
        return len(resources)


async def main(transport: str, urls: list[str]) -> int:
    results = await asyncio.gather(*(one(transport, u) for u in urls), return_exceptions=True)
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
    if len(sys.argv) < 3 or sys.argv[1] not in ("sse", "streamable_http", "streamable_http_legacy"):
        print("usage: python_client.py (sse|streamable_http|streamable_http_legacy) <url>...", file=sys.stderr)
        sys.exit(2)
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2:])))
