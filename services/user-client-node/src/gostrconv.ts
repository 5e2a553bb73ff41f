// Go's parsers and formatters that the Go user-client's flags go through
// (strconv.ParseInt with base 0, strconv.ParseBool, time.ParseDuration,
// time.Duration's String), ported so both clients accept exactly the same
// values and word errors alike. Errors are the flag package's: "parse
// error" or "value out of range".

/** A value the flag package refuses; message is "parse error" or "value out of range". */
export class ValueError extends Error {
  override name = "ValueError";
}

const parseError = () => new ValueError("parse error");
const rangeError = () => new ValueError("value out of range");

const lower = (c: string) => c.toLowerCase();

/** parseInt64 is strconv.ParseInt(s, 0, 64): sign, 0b/0o/0x/0 prefixes, underscores between digits. */
export function parseInt64(s: string): bigint {
  if (s === "") throw parseError();
  let neg = false;
  if (s[0] === "+") s = s.slice(1);
  else if (s[0] === "-") {
    neg = true;
    s = s.slice(1);
  }
  let un: bigint;
  let ranged = false;
  try {
    un = parseUint64(s);
  } catch (err) {
    if (err instanceof ValueError && err.message === "value out of range") {
      un = (1n << 64n) - 1n;
      ranged = true;
    } else throw err;
  }
  const cutoff = 1n << 63n;
  if (!neg && un >= cutoff) throw rangeError();
  if (neg && un > cutoff) throw rangeError();
  if (ranged) throw rangeError();
  return neg ? -un : un;
}

// parseUint64 is strconv.ParseUint(s, 0, 64).
function parseUint64(s: string): bigint {
  if (s === "") throw parseError();
  const s0 = s;
  let base = 10;
  if (s[0] === "0") {
    const p = s.length >= 3 ? lower(s[1] ?? "") : "";
    if (p === "b") base = 2;
    else if (p === "o") base = 8;
    else if (p === "x") base = 16;
    else base = 8;
    s = s.slice(base === 8 && p !== "o" ? 1 : 2);
  }
  const maxVal = (1n << 64n) - 1n;
  const cutoff = maxVal / BigInt(base) + 1n;
  let n = 0n;
  let underscores = false;
  for (const c of s) {
    let d: number;
    if (c === "_") {
      underscores = true;
      continue;
    } else if (c >= "0" && c <= "9") d = c.charCodeAt(0) - 48;
    else if (lower(c) >= "a" && lower(c) <= "z" && lower(c).length === 1) d = lower(c).charCodeAt(0) - 97 + 10;
    else throw parseError();
    if (d >= base) throw parseError();
    if (n >= cutoff) throw rangeError();
    n *= BigInt(base);
    const n1 = n + BigInt(d);
    if (n1 > maxVal) throw rangeError();
    n = n1;
  }
  if (underscores && !underscoreOK(s0)) throw parseError();
  return n;
}

// underscoreOK: underscores only between digits, or between a base prefix
// and a digit.
function underscoreOK(s: string): boolean {
  let saw = "^";
  let i = 0;
  if (s.length >= 1 && (s[0] === "-" || s[0] === "+")) s = s.slice(1);
  let hex = false;
  const p = lower(s[1] ?? "");
  if (s.length >= 2 && s[0] === "0" && (p === "b" || p === "o" || p === "x")) {
    i = 2;
    saw = "0";
    hex = p === "x";
  }
  for (; i < s.length; i++) {
    const c = s[i] ?? "";
    if ((c >= "0" && c <= "9") || (hex && lower(c) >= "a" && lower(c) <= "f")) {
      saw = "0";
      continue;
    }
    if (c === "_") {
      if (saw !== "0") return false;
      saw = "_";
      continue;
    }
    if (saw === "_") return false;
    saw = "!";
  }
  return saw !== "_";
}

/** parseBool is strconv.ParseBool. */
export function parseBool(s: string): boolean {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(s)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(s)) return false;
  throw parseError();
}

const unitNs: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  "µs": 1_000n, // U+00B5 micro sign
  "μs": 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";

/** parseDuration is time.ParseDuration, in nanoseconds ("1h30m", "250ms", "-1.5s"). */
export function parseDuration(s: string): bigint {
  const top = 1n << 63n;
  let d = 0n;
  let neg = false;
  if (s !== "" && (s[0] === "-" || s[0] === "+")) {
    neg = s[0] === "-";
    s = s.slice(1);
  }
  if (s === "0") return 0n;
  if (s === "") throw parseError();
  while (s !== "") {
    if (!(s[0] === "." || isDigit(s[0]))) throw parseError();
    // [0-9]*
    let v = 0n;
    let i = 0;
    for (; i < s.length && isDigit(s[i]); i++) {
      if (v > top / 10n) throw parseError();
      v = v * 10n + BigInt(s.charCodeAt(i) - 48);
      if (v > top) throw parseError();
    }
    const pre = i > 0;
    s = s.slice(i);
    // (\.[0-9]*)?
    let f = 0n;
    let scale = 1;
    let post = false;
    if (s[0] === ".") {
      s = s.slice(1);
      let overflow = false;
      let j = 0;
      for (; j < s.length && isDigit(s[j]); j++) {
        if (overflow) continue;
        if (f > (top - 1n) / 10n) {
          overflow = true;
          continue;
        }
        const y = f * 10n + BigInt(s.charCodeAt(j) - 48);
        if (y > top) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = j > 0;
      s = s.slice(j);
    }
    if (!pre && !post) throw parseError();
    // The unit.
    let k = 0;
    for (; k < s.length && s[k] !== "." && !isDigit(s[k]); k++);
    if (k === 0) throw parseError();
    const unit = unitNs[s.slice(0, k)];
    s = s.slice(k);
    if (unit === undefined) throw parseError();
    if (v > top / unit) throw parseError();
    v *= unit;
    if (f > 0n) {
      // Go adds uint64(float64(f) * (float64(unit) / scale)).
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > top) throw parseError();
    }
    d += v;
    if (d > top) throw parseError();
  }
  if (neg) return -d;
  if (d > top - 1n) throw parseError();
  return d;
}

// fmtFrac writes the fraction of v/10^prec (".25"), without trailing
// zeros, and returns it with v/10^prec.
function fmtFrac(v: bigint, prec: number): [string, bigint] {
  let out = "";
  let print = false;
  for (let i = 0; i < prec; i++) {
    const digit = v % 10n;
    print ||= digit !== 0n;
    if (print) out = digit.toString() + out;
    v /= 10n;
  }
  return [print ? "." + out : "", v];
}

/** formatDuration is time.Duration's String for a duration in nanoseconds ("1m30s", "250ms", "0s"). */
export function formatDuration(ns: bigint): string {
  const neg = ns < 0n;
  let u = neg ? -ns : ns;
  let out: string;
  if (u < 1_000_000_000n) {
    let prec: number;
    let unit: string;
    if (u === 0n) return "0s";
    if (u < 1_000n) [prec, unit] = [0, "ns"];
    else if (u < 1_000_000n) [prec, unit] = [3, "µs"];
    else [prec, unit] = [6, "ms"];
    const [frac, rest] = fmtFrac(u, prec);
    out = rest.toString() + frac + unit;
  } else {
    const [frac, secs] = fmtFrac(u, 9);
    u = secs;
    out = (u % 60n).toString() + frac + "s";
    u /= 60n;
    if (u > 0n) {
      out = (u % 60n).toString() + "m" + out;
      u /= 60n;
      if (u > 0n) out = u.toString() + "h" + out;
    }
  }
  return (neg ? "-" : "") + out;
}
