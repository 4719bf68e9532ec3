/**
 * Flag and argument declarations: one object per flag holds its type, its
 * default, its help text and its validator, so that parsing, the default and
 * the `--help` line all come from the same place.
 *
 * Every validator turns bad text into a {@link UsageError} that names the
 * flag and says what was expected, in pudp's own words:
 * `bad --timeout '-1': expected a positive number of seconds`.
 *
 * @module
 */

import {
  DEFAULT_IDLE_TIMEOUT_S,
  DEFAULT_MAX_CONNECTIONS,
  type TcpLimits,
} from "../net/connection_limits.ts";
import { UsageError } from "../util/errors.ts";
import { UDP_IO_CHOICES, type UdpIo } from "../net/udp_socket.ts";

/** One flag of a command: `--name VALUE` (a value flag) or `--name` (a switch). */
export interface FlagDef<T> {
  /** "value" takes an argument; "switch" is a boolean. */
  readonly kind: "value" | "switch";
  /** What the value is, shown in help (`SECONDS`, `N`, `HOST`). */
  readonly metavar?: string;
  /** One-letter alias (`-h`). */
  readonly short?: string;
  /** Help text, one sentence without the default. */
  readonly help: string;
  /** The default as the user would type it (shown in help), if there is one. */
  readonly defaultText?: string;
  /** The value when the flag is absent. */
  readonly fallback: T;
  /** Turns the text after the flag into a value; `name` is the flag's name. */
  parse(text: string, name: string): T;
}

/** A positional argument of a command. */
export interface ArgDef<T> {
  /** Its name in the usage line (`PORT`). */
  readonly name: string;
  /** Turns the argument into a value. */
  parse(text: string): T;
}

/** Declares a value flag whose default is parsed by its own validator (so a default is written once). */
export function valueFlag<T>(
  metavar: string,
  help: string,
  defaultText: string,
  parse: (text: string, name: string) => T,
): FlagDef<T> {
  return {
    kind: "value",
    metavar,
    help,
    defaultText,
    fallback: parse(defaultText, "(default)"),
    parse,
  };
}

/** Declares a value flag with no default: absent means undefined. */
export function optionalFlag<T>(
  metavar: string,
  help: string,
  parse: (text: string, name: string) => T,
): FlagDef<T | undefined> {
  return { kind: "value", metavar, help, fallback: undefined, parse };
}

/** Declares a boolean switch (false when absent). */
export function switchFlag(help: string, short?: string): FlagDef<boolean> {
  return { kind: "switch", help, short, fallback: false, parse: () => true };
}

function bad(name: string, text: string, expected: string): UsageError {
  return new UsageError(`bad --${name} '${text}': expected ${expected}`);
}

/** A duration in seconds (fractions allowed), as ms; zero only where `allowZero`. */
export function seconds(
  help: string,
  defaultText: string,
  allowZero = false,
): FlagDef<number> {
  return valueFlag("SECONDS", help, defaultText, (text, name) => {
    const value = /^(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : NaN;
    const what = `a ${allowZero ? "" : "positive "}number of seconds`;
    if (!(value >= 0) || (!allowZero && value === 0)) throw bad(name, text, what);
    if (value > 2_000_000) throw bad(name, text, "at most 2000000 seconds");
    return value * 1000;
  });
}

/** Checks a whole number within [min, max]. */
export function parseWhole(name: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw bad(name, text, `a whole number from ${min} to ${max}`);
  }
  return Number(text);
}

/** Multipliers of the size suffixes: k/M/G are powers of 1000, KiB/MiB/GiB of 1024. */
const SIZE_UNITS: Readonly<Record<string, number>> = {
  "": 1,
  B: 1,
  k: 1e3,
  K: 1e3,
  kB: 1e3,
  KB: 1e3,
  M: 1e6,
  MB: 1e6,
  G: 1e9,
  GB: 1e9,
  T: 1e12,
  TB: 1e12,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
};

/**
 * A byte count such as `1245`, `64k`, `16M`, `1.5G` (powers of 1000) or
 * `64KiB`, `16MiB` (powers of 1024); undefined when `text` is not one or is
 * not a whole number of bytes.
 */
export function parseByteSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([a-zA-Z]*)$/.exec(text);
  if (!m || !Object.hasOwn(SIZE_UNITS, m[2])) return undefined;
  const value = Number(m[1]) * SIZE_UNITS[m[2]];
  return Number.isSafeInteger(value) ? value : undefined;
}

/** A byte count within [min, max], with the suffixes of {@link parseByteSize}. */
export function byteSize(
  help: string,
  defaultText: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): FlagDef<number> {
  return valueFlag("BYTES", help, defaultText, (text, name) => {
    const value = parseByteSize(text);
    if (value === undefined || value < min || value > max) {
      throw bad(
        name,
        text,
        `a number of bytes from ${min} to ${max} (suffixes k, M, G, KiB, MiB, GiB)`,
      );
    }
    return value;
  });
}

/** A whole number within [min, max]. */
export function count(
  help: string,
  defaultText: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): FlagDef<number> {
  return valueFlag("N", help, defaultText, (text, name) => parseWhole(name, text, min, max));
}

/** A 16-bit magic number, hex (0xC356) or decimal. */
export function magic(help: string, defaultText: string): FlagDef<number> {
  return valueFlag("NUMBER", help, defaultText, (text, name) => {
    const value = /^0x[0-9a-f]{1,4}$/i.test(text)
      ? parseInt(text, 16)
      : /^\d+$/.test(text)
      ? Number(text)
      : NaN;
    if (!(value >= 0 && value <= 0xffff)) throw bad(name, text, "a 16-bit number such as 0xC356");
    return value;
  });
}

/** A probability: a number from 0 to 1, or a percentage such as `5%`. */
export function probability(help: string, defaultText: string): FlagDef<number> {
  return valueFlag("P", help, defaultText, (text, name) => {
    const percent = text.endsWith("%");
    const body = percent ? text.slice(0, -1) : text;
    const value = /^\d+(\.\d+)?$|^\.\d+$/.test(body) ? Number(body) / (percent ? 100 : 1) : NaN;
    if (!(value >= 0 && value <= 1)) {
      throw bad(name, text, "a probability from 0 to 1 (or 0% to 100%)");
    }
    return value;
  });
}

/** A duration in ms, 0 to 600000. */
export function milliseconds(help: string, defaultText: string): FlagDef<number> {
  return valueFlag("MS", help, defaultText, (text, name) => {
    const value = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
    if (!(value >= 0 && value <= 600_000)) throw bad(name, text, "milliseconds from 0 to 600000");
    return value;
  });
}

/** One of a fixed set of words. */
export function choice<const T extends string>(
  help: string,
  defaultText: T,
  choices: readonly T[],
): FlagDef<T> {
  const list = choices.length > 1
    ? `${choices.slice(0, -1).join(", ")} or ${choices.at(-1)}`
    : choices[0];
  return valueFlag(choices.join("|"), help, defaultText, (text, name) => {
    if ((choices as readonly string[]).includes(text)) return text as T;
    throw bad(name, text, list);
  });
}

/** Any non-empty text (a host name, a file name). */
export function text(metavar: string, help: string, defaultText: string): FlagDef<string> {
  return valueFlag(metavar, help, defaultText, (value, name) => {
    if (value === "") throw bad(name, value, `a non-empty ${metavar.toLowerCase()}`);
    return value;
  });
}

/** A port: 1–65535, or 0 where `allowZero` (servers: pick one). */
export function portArg(name: string, allowZero: boolean): ArgDef<number> {
  const min = allowZero ? 0 : 1;
  return {
    name,
    parse(text) {
      if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > 65535) {
        throw new UsageError(`bad port '${text}': expected a number from ${min} to 65535`);
      }
      return Number(text);
    },
  };
}

/** A host: an IP literal or a name (resolved later, so any non-empty text). */
export function hostArg(name = "HOST"): ArgDef<string> {
  return {
    name,
    parse(text) {
      if (text === "") throw new UsageError(`bad ${name.toLowerCase()} '': expected a host`);
      return text;
    },
  };
}

/** `--host`: the address a server listens on. */
export const LISTEN_HOST: FlagDef<string> = text(
  "HOST",
  "address to listen on; :: for IPv6",
  "0.0.0.0",
);

/** `--json`, on every server: one JSON object per event per line instead of text. */
export const JSON_FLAG: FlagDef<boolean> = switchFlag(
  "print one JSON object per event per line instead of text (fields: docs/events.md)",
);

/** `--quiet`, on every client that streams: no progress line on stderr. */
export const QUIET_FLAG: FlagDef<boolean> = switchFlag(
  "no progress line (shown on stderr only when it is a terminal)",
);

/** `--max-connections`, on every TCP server (see {@link tcpLimitFlags}). */
export const MAX_CONNECTIONS_FLAG: FlagDef<number> = count(
  "most TCP connections open at once; more are closed at once (a notice says so once a minute)",
  String(DEFAULT_MAX_CONNECTIONS),
  1,
  1_000_000,
);

/** `--idle-timeout`, on every TCP server (see {@link tcpLimitFlags}). */
export const IDLE_TIMEOUT_FLAG: FlagDef<number> = seconds(
  "close a TCP connection that sends nothing this long while the server waits for it (0: never)",
  String(DEFAULT_IDLE_TIMEOUT_S),
  true,
);

/**
 * The flags of a TCP server's limits, the same on the four: spread them into
 * a command's flags (`...tcpLimitFlags()`) and read them with
 * {@link tcpLimits}.
 */
export function tcpLimitFlags(): {
  "max-connections": FlagDef<number>;
  "idle-timeout": FlagDef<number>;
} {
  return { "max-connections": MAX_CONNECTIONS_FLAG, "idle-timeout": IDLE_TIMEOUT_FLAG };
}

/** The limits given by the flags of {@link tcpLimitFlags}. */
export function tcpLimits(
  flags: { "max-connections": number; "idle-timeout": number },
): TcpLimits {
  return { maxConnections: flags["max-connections"], idleTimeoutMs: flags["idle-timeout"] };
}

/** `--udp-io`: which UDP sockets a command opens (see docs/udp-io.md). */
export const UDP_IO_FLAG: FlagDef<UdpIo> = choice(
  "UDP sockets: ffi (batched recvmmsg/sendmmsg; 64-bit Linux, --allow-ffi), " +
    "deno (Deno.listenDatagram), auto (ffi when possible)",
  "auto",
  UDP_IO_CHOICES,
);
