/**
 * The argv that runs this checkout's `pudp` from source with the Deno that is
 * running now: used by the demo and by the end-to-end tests.
 *
 * @module
 */

/** `deno run … main.ts` with the permissions, V8 flags and config the `pudp` task uses. */
export function sourceCommand(): string[] {
  const root = new URL("../", import.meta.url);
  return [
    Deno.execPath(),
    "run",
    "--quiet",
    "--allow-net",
    "--allow-run",
    "--allow-read",
    "--allow-write",
    "--allow-sys=statfs",
    "--v8-flags=--max-semi-space-size=8",
    "--config",
    new URL("deno.json", root).pathname,
    new URL("main.ts", root).pathname,
  ];
}
