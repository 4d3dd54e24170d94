// A 2026-07-28 host without the tasks extension, played by the TypeScript `@modelcontextprotocol/client`
// 2.x over Streamable HTTP, using `offload bridge --http`.
//
//   NODE_PATH=.cache/interop/npm/node_modules node ts_session.mjs BRIDGE_URL
//
// Each step's tool result is printed as one JSON line: {"step", "tool", "isError", "texts"}.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.OFFLOAD_NPM_DIR, "package.json"));
const { Client, StreamableHTTPClientTransport } = await import(require.resolve("@modelcontextprotocol/client"));

const url = process.argv[2];
const client = new Client({ name: "offload-bridge-test", version: "1.0.0" }, { versionNegotiation: { mode: "auto" } });
await client.connect(new StreamableHTTPClientTransport(new URL(url)));
console.log(JSON.stringify({ step: "connect", protocolVersion: client.getNegotiatedProtocolVersion?.() ?? null }));

const tools = await client.listTools();
console.log(JSON.stringify({ step: "tools", names: tools.tools.map((t) => t.name) }));

async function call(step, name, args) {
  const result = await client.callTool({ name, arguments: args });
  const texts = result.content.filter((b) => b.type === "text").map((b) => b.text);
  console.log(JSON.stringify({ step, tool: name, isError: Boolean(result.isError), texts }));
  return texts;
}

const started = await call("start", "release", { version: "2.0.0" });
const taskId = started[0].split(" ")[1];
let texts = await call("other_work", "latest_version", {});
const deadline = Date.now() + 60000;
while (!texts.some((t) => t.includes("needs input"))) {
  if (Date.now() > deadline) throw new Error("the task never asked for input");
  await new Promise((r) => setTimeout(r, 200));
  texts = await call("status", "task_status", { task_id: taskId });
}
const key = /\[key (\S+)\]/.exec(texts.join(" "))[1];
await call("bad_answer", "task_answer", { task_id: taskId, key, answer: { approve: "yes" } });
await call("answer", "task_answer", { task_id: taskId, key, answer: { approve: true } });
await call("result", "task_result", { task_id: taskId });
await client.close();
