// Checks `mcp-orchestrator serve` with the official TypeScript SDK's client
// (@modelcontextprotocol/sdk, pinned in .ci/conformance/package.json, installed in .ci/node).
//
//   node serve_check.mjs --sdk NODE_MODULES --stdio PROGRAM ARG...   # the SDK spawns `serve`
//   node serve_check.mjs --sdk NODE_MODULES --url http://127.0.0.1:PORT/mcp   # Streamable HTTP
//
// The served config (set up by cli/tests/interop_serve.rs) merges three test servers: the
// tools alpha_only, beta_only, gamma_only and shared ("the shared tool" of alpha, beta's copy
// shadowed by priority), the prompt greet ("Hello, {who}!") and the template notes://{id}
// (text "gamma:notes://<id>"); gamma's app-only tool gamma_app_refresh is neither listed nor
// callable. After the calls it prints `ready-for-change` and waits for a
// notifications/tools/list_changed (the test makes an upstream send one, again until this
// prints `saw list_changed`). Prints `ok <transport>` and exits 0, or `FAILED: …` and exits 1.

import { join } from "node:path";
import { pathToFileURL } from "node:url";

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const sdkDir = opt("--sdk");
const url = opt("--url");
const stdioAt = args.indexOf("--stdio");
if (!sdkDir || (!url && stdioAt < 0)) {
  console.log("usage: serve_check.mjs --sdk NODE_MODULES (--url URL | --stdio PROGRAM ARG...)");
  process.exit(2);
}
const sdk = (path) => import(pathToFileURL(join(sdkDir, "@modelcontextprotocol/sdk/dist/esm", path)).href);

function check(condition, what) {
  if (!condition) throw new Error(what);
}

const textOf = (content) => content.map((c) => c.text ?? "").join("");

async function main() {
  const { Client } = await sdk("client/index.js");
  const { ToolListChangedNotificationSchema } = await sdk("types.js");
  let transport;
  let kind;
  if (url) {
    const { StreamableHTTPClientTransport } = await sdk("client/streamableHttp.js");
    transport = new StreamableHTTPClientTransport(new URL(url));
    kind = "streamable_http";
  } else {
    const { StdioClientTransport } = await sdk("client/stdio.js");
    const [command, ...rest] = args.slice(stdioAt + 1);
    transport = new StdioClientTransport({ command, args: rest, stderr: "inherit" });
    kind = "stdio";
  }
  const client = new Client({ name: "serve-check", version: "0" });
  let changed;
  const sawChange = new Promise((resolve) => (changed = resolve));
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => changed());
  await client.connect(transport);

  const tools = await client.listTools();
  const names = tools.tools.map((t) => t.name).sort();
  check(JSON.stringify(names) === JSON.stringify(["alpha_only", "beta_only", "gamma_only", "shared"]), `tools/list: ${names}`);
  const shared = tools.tools.find((t) => t.name === "shared");
  check(shared.description === "the shared tool", `priority 1 wins: ${JSON.stringify(shared)}`);
  for (const [tool, text] of [
    ["shared", "from alpha"],
    ["beta_only", "beta only"],
    ["gamma_only", "gamma only"],
  ]) {
    const result = await client.callTool({ name: tool, arguments: {} });
    check(textOf(result.content) === text && !result.isError, `tools/call ${tool}: ${JSON.stringify(result)}`);
  }
  const read = await client.readResource({ uri: "notes://7" });
  check(read.contents[0].text === "gamma:notes://7", `resources/read: ${JSON.stringify(read)}`);
  const prompt = await client.getPrompt({ name: "greet", arguments: { who: "SDK" } });
  check(prompt.messages[0].content.text === "Hello, SDK!", `prompts/get: ${JSON.stringify(prompt)}`);
  // gamma's app-only tool is neither listed (above) nor callable by a model.
  let hidden;
  try {
    hidden = await client.callTool({ name: "gamma_app_refresh", arguments: {} });
  } catch {
    hidden = { isError: true }; // refused with a JSON-RPC error
  }
  check(hidden.isError === true, `tools/call of an app-only tool: ${JSON.stringify(hidden)}`);

  console.log("ready-for-change");
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error("no notifications/tools/list_changed within 30 s")), 30000);
  });
  await Promise.race([sawChange, timeout]);
  clearTimeout(timer);
  console.log("saw list_changed");
  await client.close();
  return kind;
}

const watchdog = setTimeout(() => {
  console.log("FAILED: the check did not finish within 90 s");
  process.exit(1);
}, 90000);
main().then(
  (kind) => {
    clearTimeout(watchdog);
    console.log(`ok ${kind}`);
    process.exit(0);
  },
  (e) => {
    clearTimeout(watchdog);
    console.log(`FAILED: ${e?.stack ?? e}`);
    process.exit(1);
  },
);
