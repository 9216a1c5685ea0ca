#!/usr/bin/env python3
"""An MCP server built on the official Python SDK (PyPI `mcp`, 2.x), for interop tests.

    python tests/interop/server.py --transport sse|streamable_http|stdio
        [--stateless] [--json-response] [--resources N] [--list-latency-ms MS]
        [--page-size K] [--port 0] [--exit-on-stdin-eof] [--log-level LEVEL]
        [--cache-ttl-ms MS] [--cache-scope public|private] [--change-tool]

What it serves (see tests/interop/README.md for the exact wire shapes):

- N text resources `test://resource/{i}` (i = 0..N-1), name `resource-{i}`, title
  `Resource {i}`, description `Test resource number {i}`, mimeType `text/plain`,
  text `content of resource {i}`;
- one blob resource `test://blob`: bytes 0..=255, mimeType `application/octet-stream`
  (base64 on the wire), with annotations and `_meta`;
- one resource template `test://template/{id}`;
- tools `add(a: int, b: int)` (text `"{a+b}"` and structuredContent `{"result": a+b}`)
  and `echo(text: str)` (text only);
- prompts `greet(name: str, style: str = "plain")` (one user message `Hello, {name}!`, or
  `HELLO, {NAME}!` when style is `loud`) and `review` (no arguments: a user message
  `Please review this code.` and an assistant message `Sure, send it over.`).

The server itself is the SDK's high-level `MCPServer`. Two things the SDK does not offer
are added through its public (provisional) `middleware` hook, so the SDK's own handlers
still produce every result:

- `--list-latency-ms MS`: each `resources/list` request sleeps MS milliseconds
  (asynchronously: other requests are not held up) before the SDK handles it.
- `--page-size K`: `resources/list`, `resources/templates/list` and `tools/list` are cut
  into pages of K items with an opaque `nextCursor`. Without it the SDK answers every list
  in one page and never sets `nextCursor`.

On the 2026-07-28 wire the SDK adds cache hints to every cacheable result (`ttlMs: 0,
cacheScope: "private"` by default); `--cache-ttl-ms MS` and `--cache-scope` set them for every
cacheable method (the SDK's `cache_hints`). `--change-tool` adds a tool `change(what)` (what:
`tools`, `prompts`, `resources`, or `resource:<uri>`) that publishes that list-changed event
(or `resources/updated` of the URI) to the open `subscriptions/listen` streams (the SDK's
`Context.notify_*`) and answers `changed {what}`; it is left out otherwise, so the default tool list stays `add`, `echo`.

HTTP transports listen on 127.0.0.1 only. Once the server accepts connections it prints
exactly one line, `LISTENING <port>`, to stdout. Legacy SSE is served at `/sse` (POSTs to
`/messages/?session_id=<hex>`), Streamable HTTP at `/mcp`. Over stdio nothing but
JSON-RPC is written to stdout. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import os
import socket
import sys
import threading
from typing import Any

import anyio
import uvicorn
from mcp.server.caching import CACHEABLE_METHODS, CacheHint
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.prompts.base import AssistantMessage, Message, UserMessage
from mcp.server.mcpserver.resources import BinaryResource, TextResource
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, Annotations

HOST = "127.0.0.1"
SSE_PATH = "/sse"
MESSAGE_PATH = "/messages/"
MCP_PATH = "/mcp"

# Which list methods --page-size pages, and the field of the result holding the items.
PAGED_LISTS = {
    "resources/list": "resources",
    "resources/templates/list": "resourceTemplates",
    "tools/list": "tools",
}

BLOB = bytes(range(256))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transport", required=True, choices=["sse", "streamable_http", "stdio"])
    parser.add_argument("--stateless", action="store_true", help="streamable_http only: no session ids")
    parser.add_argument(
        "--json-response", action="store_true", help="streamable_http only: answer POSTs with JSON, not SSE"
    )
    parser.add_argument("--resources", type=int, default=120, metavar="N", help="text resources (default 120)")
    parser.add_argument(
        "--list-latency-ms", type=float, default=0.0, metavar="MS", help="added delay of resources/list"
    )
    parser.add_argument(
        "--page-size", type=int, default=None, metavar="K", help="page the list methods, K items per page"
    )
    parser.add_argument(
        "--cache-ttl-ms", type=int, default=None, metavar="MS", help="ttlMs of every cacheable result (2026-07-28)"
    )
    parser.add_argument(
        "--cache-scope", default="private", choices=["public", "private"], help="cacheScope with --cache-ttl-ms"
    )
    parser.add_argument(
        "--change-tool", action="store_true", help="a tool change(what) publishing a list-changed event"
    )
    parser.add_argument("--port", type=int, default=0, help="HTTP port on 127.0.0.1 (default 0: ephemeral)")
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="HTTP only: shut down when stdin reaches end of file (the parent closed it or died)",
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        help="SDK and uvicorn log level, to stderr (default WARNING)",
    )
    args = parser.parse_args(argv)
    if args.transport == "stdio" and args.exit_on_stdin_eof:
        parser.error("--exit-on-stdin-eof applies to HTTP transports (over stdio, EOF always ends the server)")
    if args.transport != "streamable_http" and (args.stateless or args.json_response):
        parser.error("--stateless and --json-response apply to --transport streamable_http only")
    if args.resources < 0:
        parser.error("--resources must be >= 0")
    if args.list_latency_ms < 0:
        parser.error("--list-latency-ms must be >= 0")
    if args.cache_ttl_ms is not None and args.cache_ttl_ms < 0:
        parser.error("--cache-ttl-ms must be >= 0")
    if args.page_size is not None and args.page_size < 1:
        parser.error("--page-size must be >= 1")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be in 0..65535")
    return args


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset={offset}".encode()).decode()


def decode_cursor(cursor: Any) -> int:
    try:
        text = base64.urlsafe_b64decode(str(cursor).encode()).decode()
        key, _, value = text.partition("=")
        offset = int(value)
        if key != "offset" or offset < 0:
            raise ValueError(text)
        return offset
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise MCPError(code=INVALID_PARAMS, message=f"invalid cursor: {cursor!r}") from None


def list_middleware(latency_s: float, page_size: int | None):
    """A `ServerMiddleware`: delay resources/list, and page the list methods."""

    async def middleware(ctx: Any, call_next: Any) -> Any:
        if ctx.method == "resources/list" and latency_s > 0:
            await anyio.sleep(latency_s)
        field = PAGED_LISTS.get(ctx.method)
        if page_size is None or field is None:
            return await call_next(ctx)
        cursor = (ctx.params or {}).get("cursor")
        offset = 0 if cursor is None else decode_cursor(cursor)
        # The SDK's handler lists everything (it ignores the cursor); cut out our page.
        result = dict(await call_next(ctx))
        items = list(result.get(field) or [])
        if offset > len(items):
            raise MCPError(code=INVALID_PARAMS, message=f"invalid cursor: {cursor!r} is past the end")
        result[field] = items[offset : offset + page_size]
        result.pop("nextCursor", None)
        if offset + page_size < len(items):
            result["nextCursor"] = encode_cursor(offset + page_size)
        return result

    return middleware


def build_server(args: argparse.Namespace) -> MCPServer:
    cache_hints = None
    if args.cache_ttl_ms is not None:
        hint = CacheHint(ttl_ms=args.cache_ttl_ms, scope=args.cache_scope)
        cache_hints = {method: hint for method in CACHEABLE_METHODS}
    server = MCPServer(
        "interop-test-server",
        version="1.0.0",
        instructions="Test server for mcp-orchestrator interop tests.",
        log_level=args.log_level,
        cache_hints=cache_hints,
    )

    for i in range(args.resources):
        server.add_resource(
            TextResource(
                uri=f"test://resource/{i}",
                name=f"resource-{i}",
                title=f"Resource {i}",
                description=f"Test resource number {i}",
                mime_type="text/plain",
                text=f"content of resource {i}",
            )
        )
    server.add_resource(
        BinaryResource(
            uri="test://blob",
            name="blob",
            title="Blob",
            description="The bytes 0 to 255",
            mime_type="application/octet-stream",
            data=BLOB,
            annotations=Annotations(audience=["user", "assistant"], priority=0.5),
            meta={"interop/length": len(BLOB)},
        )
    )

    @server.resource(
        "test://template/{id}",
        name="template",
        title="Template",
        description="Text for any id",
        mime_type="text/plain",
    )
    def template(id: str) -> str:
        return f"template {id}"

    @server.tool(title="Add", description="Add two integers.")
    def add(a: int, b: int) -> int:
        return a + b

    @server.tool(title="Echo", description="Return the text unchanged.", structured_output=False)
    def echo(text: str) -> str:
        return text

    if args.change_tool:

        @server.tool(title="Change", description="Publish a list-changed event.", structured_output=False)
        async def change(what: str, ctx: Context) -> str:
            if what.startswith("resource:"):
                await ctx.notify_resource_updated(what.removeprefix("resource:"))
                return f"changed {what}"
            notify = {
                "tools": ctx.notify_tools_changed,
                "prompts": ctx.notify_prompts_changed,
                "resources": ctx.notify_resources_changed,
            }.get(what)
            if notify is None:
                raise MCPError(
                    code=INVALID_PARAMS, message=f"what must be tools, prompts, resources or resource:URI, not {what!r}"
                )
            await notify()
            return f"changed {what}"

    @server.prompt(title="Greet", description="Greet someone by name.")
    def greet(name: str, style: str = "plain") -> str:
        greeting = f"Hello, {name}!"
        return greeting.upper() if style == "loud" else greeting

    @server.prompt(title="Review", description="Ask for a code review.")
    def review() -> list[Message]:
        return [UserMessage("Please review this code."), AssistantMessage("Sure, send it over.")]

    if args.list_latency_ms > 0 or args.page_size is not None:
        server.middleware.append(list_middleware(args.list_latency_ms / 1000.0, args.page_size))
    return server


def watch_stdin() -> None:
    """Exit when stdin ends, so a test that dies without cleaning up (SIGKILL, abort) cannot
    leave this process behind: its end of the pipe closes. No graceful shutdown: nobody is
    left to talk to, and uvicorn's would log an SDK error for each open SSE stream."""

    def watch() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except OSError:
            pass
        os._exit(0)

    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()


async def serve_http(args: argparse.Namespace, server: MCPServer) -> None:
    if args.transport == "sse":
        app = server.sse_app(sse_path=SSE_PATH, message_path=MESSAGE_PATH, host=HOST)
    else:
        app = server.streamable_http_app(
            streamable_http_path=MCP_PATH,
            json_response=args.json_response,
            stateless_http=args.stateless,
            host=HOST,
        )

    # Bind before uvicorn starts, so the port is known (and connections queue in the
    # backlog) whatever uvicorn does with its own logging.
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose `proto` says TCP,
    # and accepted sockets inherit this one's. With proto 0 every reply on a reused
    # keep-alive connection waits ~40 ms (Nagle against the peer's delayed ACK).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, args.port))
    sock.listen(1024)
    sock.setblocking(False)
    port = sock.getsockname()[1]

    config = uvicorn.Config(
        app,
        log_level=args.log_level.lower(),
        access_log=args.log_level == "DEBUG",
        # SSE streams never end by themselves: do not wait for them on shutdown.
        timeout_graceful_shutdown=1,
    )
    userver = uvicorn.Server(config)

    async with anyio.create_task_group() as tg:
        tg.start_soon(userver.serve, [sock])
        # `started` is set once the app's lifespan has run (the streamable HTTP session
        # manager starts there) and the socket is being served.
        with anyio.fail_after(30):
            while not userver.started:
                if userver.should_exit:
                    return
                await anyio.sleep(0.005)
        print(f"LISTENING {port}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.exit_on_stdin_eof:
        watch_stdin()
    server = build_server(args)
    if args.transport == "stdio":
        anyio.run(server.run_stdio_async)
    else:
        anyio.run(serve_http, args, server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
