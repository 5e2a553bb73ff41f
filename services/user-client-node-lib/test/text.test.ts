// Quoting, escaping and redaction; the shared command-line table
// (testdata/cli/cases.json) checks them end to end against the Go client.
import { test } from "node:test";
import assert from "node:assert/strict";
import { escape, MASK, oneLine, quote, Redactor } from "../src/text.js";

test("quote is Go's strconv.Quote", () => {
  assert.equal(quote(""), '""');
  assert.equal(quote('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(quote("\x07\b\f\n\r\t\v\x00\x7f"), '"\\a\\b\\f\\n\\r\\t\\v\\x00\\x7f"');
  assert.equal(quote("\u0085\u00a0\u2028é😀\u{e0001}"), '"\\u0085\\u00a0\\u2028é😀\\U000e0001"');
  assert.equal(quote("a\udcffb"), '"a\\xffb"'); // a byte that is not UTF-8
  assert.equal(quote("\ud800"), '"\\ufffd"'); // not a rune
});

test("escape leaves graphic text alone and escapes the rest", () => {
  assert.equal(escape("Zoë 山田\u00a0\u3000😀"), "Zoë 山田\u00a0\u3000😀");
  assert.equal(escape("\x00\x1b\x7f\u0085\u009f"), "\\x00\\x1b\\x7f\\x85\\x9f");
  assert.equal(escape("\u061c\u200e\u202e\u2066\u2069"), "\\u061c\\u200e\\u202e\\u2066\\u2069");
  assert.equal(escape("\u200b\u00ad\ufeff\u2028\u2029"), "\\u200b\\u00ad\\ufeff\\u2028\\u2029");
  assert.equal(escape("\u{e0001}\u{f0000}"), "\\U000e0001\\U000f0000");
  assert.equal(escape("a\udcffb"), "a\\xffb");
  assert.equal(oneLine("a\nb\tc\x1b[0m\u202e"), "a b c [0m\\u202e");
});

test("Redactor masks whole occurrences, quoted forms, longest first", () => {
  const r = (secrets: string[], s: string) => new Redactor(...secrets).redact(s);
  assert.equal(r(["abc"], "abc"), MASK);
  assert.equal(r(["abc"], "token=abc; x.abc/abc. abc-abc_abc!"), "token=[REDACTED]; x.[REDACTED]/[REDACTED]. [REDACTED]-[REDACTED]_[REDACTED]!");
  assert.equal(r(["abc"], "xabc abc9 abcé éabc"), "xabc abc9 abcé éabc");
  assert.equal(r(["o"], "missing or invalid auth token"), "missing or invalid auth token");
  assert.equal(r(['p4ss"w0rd'], 'unexpected argument "p4ss\\"w0rd"'), 'unexpected argument "[REDACTED]"');
  assert.equal(r(["a\tb"], 'got "a\\tb" and a\tb'), 'got "[REDACTED]" and [REDACTED]');
  assert.equal(r(["ab", "abcd"], "abcd ab"), "[REDACTED] [REDACTED]");
  assert.equal(r(["tok", "my tok"], "x my tok"), "x [REDACTED]");
  assert.equal(r(["a b", "b c"], "a b c"), "[REDACTED] c");
  assert.equal(r(["b c", "a b"], "a b c"), "a [REDACTED]");
  assert.equal(r(["😀"], "x😀 😀"), "x😀 [REDACTED]");
  assert.equal(r(["a"], "😀a 山a"), "😀[REDACTED] 山a"); // a symbol beyond the BMP delimits, a letter does not
  assert.equal(r([""], "abc"), "abc");
});
