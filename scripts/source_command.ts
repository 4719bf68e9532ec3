/**
 * The argv that runs this checkout's `pudp` from source with the Deno that is
 * running now: used by the demo and by the end-to-end tests.
 *
 * @module
 */

/**
 * The permissions `pudp` runs with (as `deno task pudp`), and its V8 young
 * generation capped at 8 MiB semi-spaces: `pudp client` at full speed then
 * stays near 100 MiB instead of growing to 140 (per-line objects die young
 * either way; the default lets the young generation grow to 16 MiB
 * semi-spaces). 4 MiB kept it near 90 MiB but cost blast UDP about 15% of
 * its rate (more scavenges at 80,000 datagrams/s); 8 MiB costs it less.
 * `--allow-ffi` lets UDP commands open pudp's batched socket on libc
 * (`--udp-io auto`, docs/udp-io.md).
 */
export const PERMISSIONS: readonly string[] = [
  "--allow-net",
  "--allow-run",
  "--allow-read",
  "--allow-write",
  "--allow-sys=statfs",
  "--allow-ffi",
  "--v8-flags=--max-semi-space-size=8",
];

/** `deno run … main.ts` with the permissions, V8 flags and config the `pudp` task uses. */
export function sourceCommand(): string[] {
  const root = new URL("../", import.meta.url);
  return [
    Deno.execPath(),
    "run",
    "--quiet",
    ...PERMISSIONS,
    "--config",
    new URL("deno.json", root).pathname,
    new URL("main.ts", root).pathname,
  ];
}
