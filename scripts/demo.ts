/**
 * `deno task demo`: a PUDP server and client on loopback, a sample file sent,
 * and the server's real output shown, exactly as the commands print it.
 */

import { sourceCommand } from "./source_command.ts";

const sample = new URL("./sample.txt", import.meta.url).pathname;
const pudp = sourceCommand();
const decoder = new TextDecoder();

const server = new Deno.Command(pudp[0], {
  args: [...pudp.slice(1), "server", "--host", "127.0.0.1", "0"],
  stdin: "piped",
  stdout: "piped",
  stderr: "piped",
}).spawn();
const serverOut = new Response(server.stdout).text();
const serverErr = server.stderr.pipeThrough(new TextDecoderStream()).getReader();

let stderrText = "";
const deadline = Date.now() + 15_000;
while (!/listening on \S+:(\d+)\n/.test(stderrText)) {
  const { value, done } = await serverErr.read();
  if (done || Date.now() > deadline) throw new Error(`server did not start:\n${stderrText}`);
  stderrText += value;
}
const port = stderrText.match(/listening on \S+:(\d+)\n/)![1];

console.log("$ pudp server --host 127.0.0.1 0");
console.log(`$ pudp client 127.0.0.1 ${port} < scripts/sample.txt`);
const client = await new Deno.Command(pudp[0], {
  args: [...pudp.slice(1), "client", "127.0.0.1", port],
  stdin: "piped",
  stdout: "piped",
  stderr: "piped",
}).spawn();
const writer = client.stdin.getWriter();
await writer.write(await Deno.readFile(sample));
await writer.close();
const clientResult = await client.output();
console.log(
  `(client exited with status ${clientResult.code}${decoder.decode(clientResult.stderr).trim()})`,
);

// EOF on the server's stdin stops it, as typing Ctrl-D would.
await server.stdin.close();
const status = await server.status;
for (;;) {
  const { value, done } = await serverErr.read();
  if (done) break;
  stderrText += value;
}
console.log("\n--- server stdout ---");
console.log((await serverOut).trimEnd());
console.log("--- server stderr ---");
console.log(stderrText.trimEnd());
console.log(`(server exited with status ${status.code})`);
Deno.exit(clientResult.code === 0 && status.code === 0 ? 0 : 1);
