/**
 * The default of `pudp pipe server --hold-disk`: half the space free in the
 * directory of temporary files (TMPDIR, default /tmp) when the server
 * starts, read with statfs. Reading it needs `--allow-sys=statfs` (the
 * `pudp` task, the installed command and the compiled binary have it);
 * without it, or if it cannot be read, the default is
 * {@link FALLBACK_HOLD_DISK}. Permission is queried first, so the server
 * never prompts for it.
 *
 * @module
 */

import { statfs } from "node:fs/promises";

/** The disk budget when the free space cannot be read: 4 GiB. */
export const FALLBACK_HOLD_DISK = 4 * 2 ** 30;

/** Bytes free to an unprivileged user in `dir`, or undefined when they cannot be read. */
export async function freeSpace(dir: string): Promise<number | undefined> {
  const permission = await Deno.permissions.query(
    { name: "sys", kind: "statfs" } as Deno.PermissionDescriptor,
  ).catch(() => undefined);
  if (permission?.state !== "granted") return undefined;
  try {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

/** The directory temporary files go to (where `Deno.makeTempFile` puts them), or undefined. */
async function temporaryDirectory(): Promise<string | undefined> {
  try {
    const dir = await Deno.makeTempDir({ prefix: "pudp-pipe-probe-" });
    await Deno.remove(dir);
    return dir.slice(0, dir.lastIndexOf("/")) || "/";
  } catch {
    return undefined;
  }
}

/** Half the space free in TMPDIR now, or {@link FALLBACK_HOLD_DISK}. */
export async function defaultHoldDisk(): Promise<number> {
  const dir = await temporaryDirectory();
  const free = dir === undefined ? undefined : await freeSpace(dir);
  return free === undefined ? FALLBACK_HOLD_DISK : Math.floor(free / 2);
}
