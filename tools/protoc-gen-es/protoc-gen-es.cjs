// protoc-gen-es for `make generate` (buf.gen.yaml runs it with node): the
// very plugin the package's own bin runs (protocGenEs with protoplugin's
// runNodeJs), started without loading the TypeScript compiler.
//
// Why: @bufbuild/protoplugin requires "typescript" at start-up, for
// transpiling the TypeScript a plugin generates when the plugin has no
// generator of its own for a target. protoc-gen-es has its own for every
// target (ts, js, dts), so TypeScript is never used, yet loading it is about
// 0.2 s of CPU, some 40 % of the plugin's run. tools/generate's tests check
// that the output stays the package bin's, byte for byte, for every target.
"use strict";

const path = require("node:path");
const { deferRequire } = require("./defer-require.cjs");

// "typescript" as protoplugin resolves it (its own pinned copy).
deferRequire("typescript", path.dirname(require.resolve("@bufbuild/protoplugin")));

const { runNodeJs } = require("@bufbuild/protoplugin");
// The module the package's bin/protoc-gen-es requires (the package has no
// exports map, so this path is public; package-lock.json pins its version).
const { protocGenEs } = require("@bufbuild/protoc-gen-es/dist/cjs/src/protoc-gen-es-plugin.js");

runNodeJs(protocGenEs);
