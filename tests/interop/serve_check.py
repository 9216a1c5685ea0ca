"""Checks `mcp-orchestrator serve` with the official Python SDK's client (mcp 2.3.0).

    serve_check.py --stdio PROGRAM ARG...   # the SDK spawns `serve` and talks over its stdio
    serve_check.py --url http://127.0.0.1:PORT/mcp   # Streamable HTTP

The served config (set up by cli/tests/interop_serve.rs) merges test servers offering the
tools `alpha_only` (text "alpha only") and `shared` (text "from alpha", beta's copy shadowed),
the prompt `greet` ("Hello, {who}!") and the template `notes://{id}` (text "gamma:notes://<id>");
gamma's app-only tool `gamma_app_refresh` must not be listed, nor callable by a model. After
the calls it prints `ready-for-change` and waits for a notifications/tools/list_changed (the
test makes an upstream send one, again until this prints `saw list_changed`).
Prints `ok <transport>` and exits 0, or prints what failed and exits 1.
"""

from __future__ import annotations

import argparse
import sys

import anyio
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError


def check(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


def text_of(content: list) -> str:
    return "".join(getattr(c, "text", "") for c in content)


class Changes:
    """Sees the server's notifications/tools/list_changed."""

    def __init__(self) -> None:
        self.tools_changed = anyio.Event()

    async def __call__(self, message: object) -> None:
        notification = getattr(message, "root", message)
        if getattr(notification, "method", None) == "notifications/tools/list_changed":
            self.tools_changed.set()


async def exercise(session: ClientSession, changes: Changes) -> None:
    await session.initialize()
    tools = await session.list_tools()
    names = sorted(t.name for t in tools.tools)
    check(names == ["alpha_only", "beta_only", "gamma_only", "shared"], f"tools/list: {names}")
    result = await session.call_tool("shared", {})
    check(text_of(result.content) == "from alpha", f"tools/call shared: {result}")
    result = await session.call_tool("beta_only", {})
    check(text_of(result.content) == "beta only", f"tools/call beta_only: {result}")
    read = await session.read_resource("notes://7")
    check(read.contents[0].text == "gamma:notes://7", f"resources/read: {read}")
    prompt = await session.get_prompt("greet", {"who": "SDK"})
    check(prompt.messages[0].content.text == "Hello, SDK!", f"prompts/get: {prompt}")
    try:
        hidden = await session.call_tool("gamma_app_refresh", {})
    except MCPError:
        pass  # refused with a JSON-RPC error
    else:
        check(bool(hidden.isError), f"tools/call of an app-only tool: {hidden}")
    print("ready-for-change", flush=True)
    with anyio.fail_after(30):
        await changes.tools_changed.wait()
    print("saw list_changed", flush=True)


async def main_async(args: argparse.Namespace) -> str:
    with anyio.fail_after(60):
        return await connect_and_exercise(args)


async def connect_and_exercise(args: argparse.Namespace) -> str:
    if args.url:
        async with streamable_http_client(args.url) as (read, write):
            changes = Changes()
            async with ClientSession(read, write, message_handler=changes) as session:
                await exercise(session, changes)
        return "streamable_http"
    program, *rest = args.stdio
    params = StdioServerParameters(command=program, args=rest)
    async with stdio_client(params) as (read, write):
        changes = Changes()
        async with ClientSession(read, write, message_handler=changes) as session:
            await exercise(session, changes)
    return "stdio"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url")
    parser.add_argument("--stdio", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if not args.url and not args.stdio:
        parser.error("give --url or --stdio PROGRAM ARG...")
    try:
        transport = anyio.run(main_async, args)
    except BaseException as e:  # noqa: BLE001 - report anything, including a timeout
        print(f"FAILED: {type(e).__name__}: {e}", flush=True)
        return 1
    print(f"ok {transport}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
