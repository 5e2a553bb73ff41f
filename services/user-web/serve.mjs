// A static server for the lookup page (index.html and the esbuild bundle in
// dist/): `npm run serve -w services/user-web -- [PORT]`, then open
// http://127.0.0.1:PORT/?api=http://127.0.0.1:8080 with user-server run
// with --http-listen 127.0.0.1:8080 --http-cors-origins http://127.0.0.1:PORT.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = dirname(fileURLToPath(import.meta.url));
const files = {
  "/": ["index.html", "text/html; charset=utf-8"],
  "/index.html": ["index.html", "text/html; charset=utf-8"],
  "/dist/main.js": ["dist/main.js", "text/javascript; charset=utf-8"],
};

/** serve listens on 127.0.0.1:port (0: a free one) and resolves to the server. */
export function serve(port = 0) {
  const server = createServer(async (req, res) => {
    const f = files[new URL(req.url ?? "/", "http://x").pathname];
    if (!f || req.method !== "GET") {
      res.writeHead(404).end("not found\n");
      return;
    }
    try {
      const body = await readFile(join(root, f[0]));
      res.writeHead(200, { "Content-Type": f[1], "Cache-Control": "no-store" }).end(body);
    } catch {
      res.writeHead(500).end(`${f[0]} is missing: build the page (npm run build -w services/user-web)\n`);
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = await serve(Number(process.argv[2] ?? 8081));
  const { port } = server.address();
  console.log(`web on http://127.0.0.1:${port}/`);
}
