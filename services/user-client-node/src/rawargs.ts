// The command line and the environment as the bytes the process was given.
// Node.js decodes argv and the environment as UTF-8 and silently turns bytes
// that are not UTF-8 into U+FFFD, so the client could neither refuse them
// (the Go client's usage error) nor tell that a token is not the one the
// user typed. On Linux the bytes are in /proc/self/cmdline and
// /proc/self/environ; they are decoded here with every byte that is not
// UTF-8 kept as a lone surrogate U+DC80..U+DCFF (quote and escape print it
// as \xNN, isUTF8 spots it). Elsewhere, Node's decoding is used as it is.
import { readFileSync } from "node:fs";

/**
 * decodeBytes decodes UTF-8 as Go reads it: each byte that does not start
 * a valid sequence (Go's utf8.DecodeRune returns RuneError, 1) becomes the
 * lone surrogate U+DC00+byte, so nothing is lost: quote and escape print
 * it as \xNN, as Go prints such a byte.
 */
export function decodeBytes(b: Uint8Array): string {
  let out = "";
  let i = 0;
  while (i < b.length) {
    const [cp, n] = decodeRune(b, i);
    out += cp < 0 ? String.fromCharCode(0xdc00 + (b[i] ?? 0)) : String.fromCodePoint(cp);
    i += n;
  }
  return out;
}

// decodeRune is Go's utf8.DecodeRune: [-1, 1] for an invalid byte.
function decodeRune(b: Uint8Array, i: number): [number, number] {
  const b0 = b[i] ?? 0;
  if (b0 < 0x80) return [b0, 1];
  let n: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) n = 2;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    n = 3;
    if (b0 === 0xe0) lo = 0xa0; // no overlong forms
    if (b0 === 0xed) hi = 0x9f; // no surrogates
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    n = 4;
    if (b0 === 0xf0) lo = 0x90;
    if (b0 === 0xf4) hi = 0x8f; // nothing above U+10FFFF
  } else return [-1, 1];
  if (i + n > b.length) return [-1, 1];
  let cp = b0 & (0xff >> (n + 1));
  for (let k = 1; k < n; k++) {
    const c = b[i + k] ?? 0;
    if (c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return [-1, 1];
    cp = (cp << 6) | (c & 0x3f);
  }
  return [cp, n];
}

/** isUTF8 reports whether s came from valid UTF-8 (holds no lone surrogate). */
export function isUTF8(s: string): boolean {
  return !/\p{Surrogate}/u.test(s);
}

// nulSplit splits a NUL-terminated list.
function nulSplit(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (let i = b.indexOf(0); i >= 0; i = b.indexOf(0, from)) {
    out.push(b.subarray(from, i));
    from = i + 1;
  }
  if (from < b.length) out.push(b.subarray(from));
  return out;
}

function readProc(name: string): Buffer | undefined {
  try {
    return readFileSync(`/proc/self/${name}`);
  } catch {
    return undefined;
  }
}

/**
 * rawArgs returns the arguments after the script (process.argv.slice(2)),
 * decoded from the bytes when /proc/self/cmdline has them: they are its
 * last entries. If the bytes do not match what Node decoded, Node's strings
 * are used.
 */
export function rawArgs(argv: readonly string[] = process.argv): string[] {
  const args = argv.slice(2);
  const cmdline = readProc("cmdline");
  if (cmdline === undefined) return args;
  const all = nulSplit(cmdline);
  const tail = all.slice(all.length - args.length);
  if (tail.length !== args.length || tail.some((b, i) => b.toString("utf8") !== args[i])) return args;
  return tail.map(decodeBytes);
}

/**
 * rawGetenv returns a getenv over process.env whose values come from the
 * bytes of /proc/self/environ when they still match what Node decoded.
 */
export function rawGetenv(env: NodeJS.ProcessEnv = process.env): (name: string) => string | undefined {
  const raw = new Map<string, Buffer>();
  const environ = readProc("environ");
  for (const entry of environ ? nulSplit(environ) : []) {
    const eq = entry.indexOf(0x3d); // "="
    if (eq > 0) raw.set(entry.subarray(0, eq).toString("utf8"), entry.subarray(eq + 1));
  }
  return (name) => {
    const v = env[name];
    const b = raw.get(name);
    return v !== undefined && b !== undefined && b.toString("utf8") === v ? decodeBytes(b) : v;
  };
}
