#!/usr/bin/env python3
"""Check tests/interop/server.py with the SDK's own Python client, over every transport.

    .venv-interop/bin/python tests/interop/client_check.py [--only NAME]...

For each scenario it starts server.py (as a subprocess; over HTTP it waits for
`LISTENING <port>`), connects with the SDK's `ClientSession` over `sse_client`,
`streamable_http_client` or `stdio_client`, and asserts: the handshake; every resource,
following nextCursor; a text and the blob resource read back; the template listed and
read; the tools listed; `add` and `echo` called. Exits non-zero on the first failure.
"""

from __future__ import annotations

import argparse
import base64
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import mcp_types as types
from mcp.client.session import ClientSession
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "server.py")
STARTUP_DEADLINE_S = 15.0


@dataclass
class Scenario:
    name: str
    transport: str
    args: list[str] = field(default_factory=list)
    resources: int = 120
    page_size: int | None = None
    latency_ms: float = 0.0

    def server_args(self) -> list[str]:
        args = ["--transport", self.transport, "--resources", str(self.resources), *self.args]
        if self.page_size is not None:
            args += ["--page-size", str(self.page_size)]
        if self.latency_ms:
            args += ["--list-latency-ms", str(self.latency_ms)]
        return args


SCENARIOS = [
    Scenario("sse", "sse"),
    Scenario("sse-paged", "sse", page_size=25),
    Scenario("sse-latency", "sse", latency_ms=50, page_size=50),
    Scenario("http", "streamable_http"),
    Scenario("http-stateless", "streamable_http", ["--stateless"]),
    Scenario("http-json", "streamable_http", ["--json-response"]),
    Scenario("http-stateless-json-paged", "streamable_http", ["--stateless", "--json-response"], page_size=50),
    Scenario("stdio", "stdio"),
    Scenario("stdio-paged", "stdio", page_size=7),
]


class HttpServer:
    """server.py over HTTP as a child process; `port` once it printed LISTENING."""

    def __init__(self, args: list[str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, SERVER, *args], stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        started = time.monotonic()
        try:
            line = lines.get(timeout=STARTUP_DEADLINE_S)
        except queue.Empty:
            self.close()
            raise RuntimeError(f"server did not print LISTENING within {STARTUP_DEADLINE_S} s") from None
        if line is None or not line.startswith("LISTENING "):
            self.close()
            raise RuntimeError(f"server printed {line!r} instead of LISTENING <port>")
        self.port = int(line.split()[1])
        self.startup_s = time.monotonic() - started

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


@asynccontextmanager
async def connect(scenario: Scenario) -> AsyncIterator[tuple[ClientSession, dict[str, Any]]]:
    info: dict[str, Any] = {}
    if scenario.transport == "stdio":
        params = StdioServerParameters(command=sys.executable, args=[SERVER, *scenario.server_args()])
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                yield session, info
        return
    server = HttpServer(scenario.server_args())
    info["port"] = server.port
    info["startup_s"] = server.startup_s
    try:
        if scenario.transport == "sse":
            info["url"] = f"http://127.0.0.1:{server.port}/sse"
            async with sse_client(info["url"]) as (read, write):
                async with ClientSession(read, write) as session:
                    yield session, info
        else:
            info["url"] = f"http://127.0.0.1:{server.port}/mcp"
            async with streamable_http_client(info["url"]) as (read, write):
                async with ClientSession(read, write) as session:
                    yield session, info
    finally:
        server.close()


def check(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


async def list_all(session: ClientSession, method: str) -> tuple[list[Any], int]:
    items: list[Any] = []
    cursor: str | None = None
    seen: set[str] = set()
    pages = 0
    while True:
        params = types.PaginatedRequestParams(cursor=cursor) if cursor is not None else None
        if method == "resources":
            result = await session.list_resources(params=params)
            items += result.resources
        elif method == "templates":
            result = await session.list_resource_templates(params=params)
            items += result.resource_templates
        else:
            result = await session.list_tools(params=params)
            items += result.tools
        pages += 1
        cursor = result.next_cursor
        if cursor is None:
            return items, pages
        check(cursor not in seen, f"{method}: repeated cursor {cursor!r}")
        seen.add(cursor)
        check(pages < 1000, f"{method}: more than 1000 pages")


def expected_pages(total: int, page_size: int | None) -> int:
    if page_size is None:
        return 1
    return max(1, -(-total // page_size))


async def run(scenario: Scenario) -> str:
    t0 = time.monotonic()
    async with connect(scenario) as (session, info):
        t_connected = time.monotonic()
        init = await session.initialize()
        t_init = time.monotonic()
        check(init.server_info.name == "interop-test-server", f"serverInfo {init.server_info}")
        check(init.capabilities.resources is not None, "resources capability")
        check(init.capabilities.tools is not None, "tools capability")

        resources, pages = await list_all(session, "resources")
        t_listed = time.monotonic()
        n = scenario.resources
        check(len(resources) == n + 1, f"{len(resources)} resources, expected {n + 1}")
        check(pages == expected_pages(n + 1, scenario.page_size), f"{pages} pages of resources")
        by_uri = {str(r.uri): r for r in resources}
        check(len(by_uri) == n + 1, "duplicate resource URIs")
        for i in range(n):
            r = by_uri[f"test://resource/{i}"]
            check(r.name == f"resource-{i}", f"name {r.name}")
            check(r.title == f"Resource {i}", f"title {r.title}")
            check(r.description == f"Test resource number {i}", f"description {r.description}")
            check(r.mime_type == "text/plain", f"mimeType {r.mime_type}")
        blob = by_uri["test://blob"]
        check(blob.mime_type == "application/octet-stream", f"blob mimeType {blob.mime_type}")
        check(blob.annotations is not None and blob.annotations.priority == 0.5, f"annotations {blob.annotations}")

        last = max(n - 1, 0)
        if n:
            read = await session.read_resource(f"test://resource/{last}")
            (text,) = read.contents
            check(isinstance(text, types.TextResourceContents), f"text contents {text!r}")
            check(text.text == f"content of resource {last}", f"text {text.text!r}")
            check(text.mime_type == "text/plain", f"text mimeType {text.mime_type}")
        read = await session.read_resource("test://blob")
        (b,) = read.contents
        check(isinstance(b, types.BlobResourceContents), f"blob contents {b!r}")
        check(base64.b64decode(b.blob) == bytes(range(256)), "blob bytes")
        check(b.mime_type == "application/octet-stream", f"blob mimeType {b.mime_type}")

        templates, _ = await list_all(session, "templates")
        check([t.uri_template for t in templates] == ["test://template/{id}"], f"templates {templates}")
        read = await session.read_resource("test://template/abc")
        check(read.contents[0].text == "template abc", f"template read {read.contents}")

        tools, _ = await list_all(session, "tools")
        by_name = {t.name: t for t in tools}
        check(set(by_name) == {"add", "echo"}, f"tools {sorted(by_name)}")
        check(by_name["add"].output_schema is not None, "add has an outputSchema")
        check(set(by_name["add"].input_schema["properties"]) == {"a", "b"}, "add input schema")
        called = await session.call_tool("add", {"a": 2, "b": 40})
        check(not called.is_error, f"add failed: {called}")
        check(called.content[0].text == "42", f"add text {called.content}")
        check(called.structured_content == {"result": 42}, f"add structured {called.structured_content}")
        echoed = await session.call_tool("echo", {"text": "héllo\nwörld"})
        check(echoed.content[0].text == "héllo\nwörld", f"echo {echoed.content}")
        check(echoed.structured_content is None, f"echo structured {echoed.structured_content}")

        if scenario.page_size is not None:
            try:
                await session.list_resources(params=types.PaginatedRequestParams(cursor="not-a-cursor"))
                raise AssertionError("a bad cursor was accepted")
            except MCPError as err:
                check(err.code == types.INVALID_PARAMS, f"bad cursor error {err.error}")
        await session.send_ping()

    if scenario.latency_ms:
        min_s = pages * scenario.latency_ms / 1000
        check(t_listed - t_init >= min_s, f"listing took {t_listed - t_init:.3f} s, below the added latency")

    where = info.get("url", "stdio")
    return (
        f"ok  {scenario.name:<26} {where:<32} protocol {init.protocol_version}; "
        f"{len(resources)} resources in {pages} page(s); "
        f"connect {1000 * (t_connected - t0):.0f} ms, initialize {1000 * (t_init - t_connected):.0f} ms, "
        f"list {1000 * (t_listed - t_init):.0f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=[s.name for s in SCENARIOS])
    args = parser.parse_args()
    failed = 0
    for scenario in SCENARIOS:
        if args.only and scenario.name not in args.only:
            continue
        try:
            print(anyio.run(run, scenario), flush=True)
        except Exception as err:  # report every scenario, then fail
            failed += 1
            print(f"FAIL {scenario.name}: {type(err).__name__}: {err}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
