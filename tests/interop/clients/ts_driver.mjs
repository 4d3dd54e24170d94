// Drives the official TypeScript client (@modelcontextprotocol/client 2.x, 2026-07-28) with the
// official tasks package (@modelcontextprotocol/ext-tasks) against a URL.
//
//   node ts_driver.mjs URL MARKER_PREFIX
//
// Runs from .cache/interop/npm (the test copies it there, so the packages resolve). Prints one JSON
// line per case: {"case": ..., "ok": bool, ...details} (see tests/interop/test_clients.py).
//
// ext-tasks frames 2026-07-28 task traffic itself and hands each request to a host "raw dispatch"
// (the SDK's own codecs reject some task shapes). Here that dispatch is one stateless HTTP POST per
// request with the transport's standard headers (Mcp-Method; Mcp-Name = params.name, or what
// ext-tasks asks for: params.taskId on tasks/*, per tasks.md "Routing Headers").
import { existsSync, readFileSync } from "node:fs";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import {
  createApplicationInputHandler,
  createTaskSessionFromClient,
  resultFromTaskOutcome,
} from "@modelcontextprotocol/ext-tasks/client";

const [URL_, MARKER] = process.argv.slice(2);
const CASE_TIMEOUT_MS = 20000;
const PROTOCOL = "2026-07-28";
const version = (pkg) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${pkg}/package.json`, import.meta.url), "utf8")).version;
const emit = (kase, fields) => console.log(JSON.stringify({ case: kase, ...fields }));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const text = (result) => (result?.content ?? []).map((b) => b.text ?? "").join("");

const clientInfo = { name: "offload-interop-ts", version: "1.0.0" };
const capabilities = { elicitation: { form: {} }, extensions: { "io.modelcontextprotocol/tasks": {} } };

let nextId = 1;
async function rawDispatch(request, options) {
  const message = { jsonrpc: "2.0", ...request, id: request.id ?? `raw-${nextId++}` };
  const params = message.params ?? {};
  const headers = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "mcp-protocol-version": PROTOCOL,
    "mcp-method": message.method,
  };
  // ext-tasks names the routing headers of its task requests itself (context.headers); they win.
  for (const [key, value] of Object.entries(options?.context?.headers ?? {})) headers[key.toLowerCase()] = value;
  const name = params.name ?? params.uri;
  if (headers["mcp-name"] === undefined && typeof name === "string") headers["mcp-name"] = name;
  const response = await fetch(URL_, { method: "POST", headers, body: JSON.stringify(message), signal: options?.signal });
  const body = await response.text();
  let replies;
  if ((response.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
    replies = body.split("\n").filter((l) => l.startsWith("data:")).map((l) => JSON.parse(l.slice(5)));
  } else {
    replies = body ? [JSON.parse(body)] : [];
  }
  const reply = replies.find((m) => m.id === message.id);
  if (!reply) throw new Error(`no reply to ${message.method} (HTTP ${response.status}): ${body.slice(0, 200)}`);
  return "error" in reply ? { kind: "error", error: reply.error } : { kind: "result", result: reply.result };
}

async function run(kase, body) {
  const started = Date.now();
  const seconds = () => Math.round((Date.now() - started) / 10) / 100;
  let timer;
  try {
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error("timed out")), CASE_TIMEOUT_MS);
    });
    const fields = await Promise.race([body(), timeout]);
    emit(kase, { ok: true, seconds: seconds(), ...fields });
  } catch (error) {
    emit(kase, { ok: false, seconds: seconds(), code: error?.code, error: `${error?.name}: ${error?.message}`, cause: error?.cause ? `${error.cause.name}: ${error.cause.message}` : undefined });
  } finally {
    clearTimeout(timer);
  }
}

async function main() {
  emit("client", {
    name: "@modelcontextprotocol/client",
    version: version("@modelcontextprotocol/client"),
    tasks: version("@modelcontextprotocol/ext-tasks"),
  });
  const client = new Client(clientInfo, { capabilities, versionNegotiation: { mode: "auto" } });
  await client.connect(new StreamableHTTPClientTransport(new URL(URL_)));
  emit("connect", { ok: true, era: client.getProtocolEra?.() });
  const session = createTaskSessionFromClient(client, {
    endpointId: "offload-interop",
    rawDispatch,
    v2RequestFraming: { protocolVersion: PROTOCOL, clientInfo, clientCapabilities: capabilities },
    onInputRequest: createApplicationInputHandler({
      elicitation: async () => ({ action: "accept", content: { approve: true } }),
      sampling: async () => {
        throw new Error("no sampling here");
      },
      roots: async () => ({ roots: [] }),
    }),
  });
  const settle = async (execution) => resultFromTaskOutcome((await execution.settle()).outcome);

  const cases = {
    inline: async () => {
      const execution = await session.callTool("quick", { x: 7 });
      return { kind: execution.kind, text: text(await settle(execution)) };
    },
    task: async () => {
      const execution = await session.callTool("slow", { seconds: 0.3 }, { task: { preference: "prefer" } });
      return { kind: execution.kind, task_id: execution.handle?.taskId, text: text(await settle(execution)) };
    },
    required: async () => {
      const execution = await session.callTool("report", { label: "r1" });
      return { kind: execution.kind, task_id: execution.handle?.taskId, text: text(await settle(execution)) };
    },
    elicit: async () => {
      const execution = await session.callTool("approve", { change: "deploy" }, { task: { preference: "prefer" } });
      return { kind: execution.kind, task_id: execution.handle?.taskId, text: text(await settle(execution)) };
    },
    cancel: async () => {
      const marker = `${MARKER}-hang`;
      const execution = await session.callTool("hang", { marker }, { task: { preference: "prefer" } });
      while (!existsSync(`${marker}.started`)) await sleep(20);
      await execution.cancel();
      const { outcome } = await execution.settle();
      return { kind: execution.kind, task_id: execution.handle?.taskId, status: outcome.status };
    },
  };
  for (const [kase, body] of Object.entries(cases)) await run(kase, body);
  await session.close();
  await client.close();
}

main().then(
  () => process.exit(0),
  (error) => {
    emit("fatal", { ok: false, error: `${error?.name}: ${error?.message}`, stack: error?.stack });
    process.exit(1);
  },
);
