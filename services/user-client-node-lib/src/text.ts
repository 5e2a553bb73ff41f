// Text that is safe to print: Go's quoting (strconv.Quote, the clients'
// %q), the escaping of anything a server sends, and the redaction of
// secrets. The Go user-client's internal/render and internal/redact do the
// same, character for character; testdata/cli/cases.json holds both to it.
//
// Strings may carry bytes that are not UTF-8 as lone surrogates
// U+DC80..U+DCFF, one per byte (see decodeBytes): they print as \xNN, as
// Go prints invalid bytes.

const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");

// Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and
// the ASCII space. unicode.IsGraphic adds the other space separators (Zs).
const printable = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;
const graphic = /^[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]$/u;

function isPrint(c: string): boolean {
  return c === " " || printable.test(c);
}

/** isGraphic is Go's unicode.IsGraphic for one code point. */
export function isGraphic(c: string): boolean {
  return graphic.test(c);
}

/** isControl is Go's unicode.IsControl: C0, DEL and C1. */
function isControl(cp: number): boolean {
  return cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f);
}

/** A lone surrogate standing for a byte that is not UTF-8, or undefined. */
function rawByte(cp: number): number | undefined {
  return cp >= 0xdc80 && cp <= 0xdcff ? cp - 0xdc00 : undefined;
}

const shortEscapes: Record<string, string> = {
  "\x07": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
};

/** quote is Go's strconv.Quote (fmt's %q): a double-quoted string with Go escapes. */
export function quote(s: string): string {
  let out = '"';
  for (const c of s) {
    const cp = c.codePointAt(0) ?? 0;
    const b = rawByte(cp);
    if (b !== undefined) out += `\\x${hex(b, 2)}`;
    else if (c === '"' || c === "\\") out += `\\${c}`;
    else if (isPrint(c)) out += c;
    else if (shortEscapes[c] !== undefined) out += shortEscapes[c];
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${hex(cp, 2)}`;
    else if (cp >= 0xd800 && cp <= 0xdfff) out += "\\ufffd"; // not a rune: Go's utf8.ValidRune
    else if (cp < 0x10000) out += `\\u${hex(cp, 4)}`;
    else out += `\\U${hex(cp, 8)}`;
  }
  return out + '"';
}

function escapeOne(c: string): string {
  const cp = c.codePointAt(0) ?? 0;
  const b = rawByte(cp);
  if (b !== undefined) return `\\x${hex(b, 2)}`;
  if (cp <= 0x9f) return `\\x${hex(cp, 2)}`;
  if (cp < 0x10000) return `\\u${hex(cp, 4)}`;
  return `\\U${hex(cp, 8)}`;
}

/**
 * escape writes every character that is not graphic (control characters
 * C0, DEL and C1, format characters such as bidirectional controls and
 * U+200B, line and paragraph separators, private-use and unassigned code
 * points) as \xXX, \uXXXX or \UXXXXXXXX, and leaves the rest, such as
 * non-ASCII names, as it is: a hostile value can neither drive the
 * terminal, reorder the line, hide text nor forge lines.
 */
export function escape(s: string): string {
  let out = "";
  for (const c of s) out += isGraphic(c) ? c : escapeOne(c);
  return out;
}

/**
 * oneLine keeps a message on one line and inert: control characters become
 * spaces (a newline in a server's message reads as a space), any other
 * character that is not graphic is escaped as escape does.
 */
export function oneLine(s: string): string {
  let out = "";
  for (const c of s) {
    if (isGraphic(c)) out += c;
    else if (isControl(c.codePointAt(0) ?? 0)) out += " ";
    else out += escapeOne(c);
  }
  return out;
}

/** The text that replaces a redacted secret. */
export const MASK = "[REDACTED]";

// A secret stands alone when no letter, mark or digit touches it: white
// space, punctuation, symbols and invisible characters all delimit it.
const wordChar = /^[\p{L}\p{M}\p{N}]$/u;
function isSeparator(c: string | undefined): boolean {
  return c === undefined || !wordChar.test(c);
}

/** Redactor masks whole occurrences of secrets (auth tokens) in text before it is printed. */
export class Redactor {
  private readonly secrets: string[];

  /**
   * Each non-empty secret is masked as given and in its quoted form (the
   * text between the quotes of quote(secret), as usage errors print
   * values), longest first so a secret containing another is masked
   * whole; ties in the order given.
   */
  constructor(...secrets: string[]) {
    const all: string[] = [];
    for (const s of secrets) {
      if (s === "") continue;
      all.push(s);
      const q = quote(s).slice(1, -1);
      if (q !== s) all.push(q);
    }
    // A stable sort: equal lengths keep their order.
    this.secrets = all.map((s, i) => ({ s, i })).sort((a, b) => b.s.length - a.s.length || a.i - b.i).map((e) => e.s);
  }

  /**
   * redact masks every occurrence of a secret that stands on its own: at
   * the start or end of s or next to anything but a letter, mark or digit.
   * An occurrence inside a longer word is left alone, so a short secret
   * such as "o" does not garble every "o" of unrelated text.
   */
  redact(s: string): string {
    for (const secret of this.secrets) s = redactOne(s, secret);
    return s;
  }
}

function redactOne(s: string, secret: string): string {
  let out = "";
  let from = 0;
  for (let i = s.indexOf(secret); i >= 0; i = s.indexOf(secret, from)) {
    const end = i + secret.length;
    if (isSeparator(charBefore(s, i)) && isSeparator(charAt(s, end))) {
      out += s.slice(from, i) + MASK;
    } else {
      out += s.slice(from, end);
    }
    from = end;
  }
  return out + s.slice(from);
}

// charBefore and charAt return the whole code point before or at index i.
function charBefore(s: string, i: number): string | undefined {
  if (i === 0) return undefined;
  const lo = s.charCodeAt(i - 1);
  if (i >= 2 && lo >= 0xdc00 && lo <= 0xdfff) {
    const hi = s.charCodeAt(i - 2);
    if (hi >= 0xd800 && hi <= 0xdbff) return s.slice(i - 2, i);
  }
  return s.slice(i - 1, i);
}

function charAt(s: string, i: number): string | undefined {
  if (i >= s.length) return undefined;
  return String.fromCodePoint(s.codePointAt(i) ?? 0);
}
