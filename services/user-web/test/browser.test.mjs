// The lookup page in a real browser: headless Chromium (Debian's chromium
// package; CHROMIUM names another binary) driven by playwright-core, against
// the real user-server binary (USER_SERVER_BIN) with --http-listen and the
// page's origin in --http-cors-origins. Saves out/web/lookup.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join, resolve } from "node:path";
import { chromium } from "playwright-core";
import { serve } from "../serve.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const outDir = resolve(here, "../../../out/web");
const bin = process.env.USER_SERVER_BIN;
const browserPath = process.env.CHROMIUM ?? "/usr/bin/chromium";

let web, server, api, browser, page;
let apiRequests = 0;

// startServer runs user-server in development mode (token valid-token) and
// resolves to its HTTP base URL, from the "http on URL" line.
function startServer(origin) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("USER_SERVER_")));
  const proc = spawn(bin, ["--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--http-cors-origins", origin], {
    env,
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolvePromise, reject) => {
    proc.once("exit", (code) => reject(new Error(`user-server exited (${code}) before serving HTTP`)));
    createInterface({ input: proc.stdout }).on("line", (line) => {
      if (line.startsWith("http on ")) resolvePromise([proc, line.slice("http on ".length)]);
    });
  });
}

before(async () => {
  assert.ok(bin, "USER_SERVER_BIN must name the user-server binary (make test-node sets it)");
  web = await serve(0);
  const origin = `http://127.0.0.1:${web.address().port}`;
  [server, api] = await startServer(origin);
  browser = await chromium.launch({ executablePath: browserPath, headless: true, args: ["--no-sandbox"] });
  page = await browser.newPage();
  page.on("request", (r) => {
    if (r.url().startsWith(api) && r.method() === "POST") apiRequests++;
  });
  await page.goto(`${origin}/?api=${encodeURIComponent(api)}`);
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
  web?.close();
});

// lookup fills the form, submits, and returns the answer once it is there.
async function lookup(user, token) {
  await page.evaluate(() => { document.getElementById("result").textContent = ""; });
  await page.fill("#user", user);
  await page.fill("#token", token);
  await page.click("#lookup");
  await page.waitForFunction(() => {
    const t = document.getElementById("result").textContent;
    return t !== "" && t !== "…";
  });
  return page.textContent("#result");
}

test("reference lookup", async () => {
  const before = apiRequests;
  const text = await lookup("john123", "valid-token");
  assert.equal(text, "Response:\nName: John Doe\nEmail: john123@example.com\nStatus: Success");
  assert.equal(apiRequests, before + 1);
  mkdirSync(outDir, { recursive: true });
  await page.screenshot({ path: join(outDir, "lookup.png"), fullPage: true });
});

test("not found", async () => {
  assert.equal(await lookup("nobody", "valid-token"), "Error: NotFound: user not found");
});

test("bad token", async () => {
  const text = await lookup("john123", "wrong-token");
  assert.equal(text, "Error: Unauthenticated: missing or invalid auth token");
  assert.ok(!text.includes("wrong-token"));
});

test("invalid id: the violations, and no request sent", async () => {
  const before = apiRequests;
  const text = await lookup("john 123", "valid-token");
  assert.match(text, /^Error: InvalidArgument: invalid request: user_id: /);
  assert.match(text, /user_id: .*\[string\.pattern\]/);
  assert.match(text, /not sent/);
  assert.equal(apiRequests, before, "an invalid request went on the wire");
  await page.screenshot({ path: join(outDir, "invalid-id.png"), fullPage: true });
});
