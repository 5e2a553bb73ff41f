// deferRequire puts a stand-in for a CommonJS module in require's cache, so
// that whoever requires it gets an object that loads the real module on the
// first property read. protoc-gen-es.cjs uses it for the TypeScript
// compiler, which protoc-gen-es never uses but its framework requires at
// start-up.
"use strict";

const Module = require("node:module");

// deferRequire defers the module that require(request) finds from dir and
// returns its file name. Only property reads are forwarded (all protoplugin
// does with TypeScript), and the stand-in answers the __esModule probe of
// compiled `import x from "..."` with undefined without loading: the
// deferred module must have no such marker (TypeScript's bundle has none).
function deferRequire(request, dir) {
  const filename = require.resolve(request, { paths: [dir] });
  let real;
  const load = () => {
    if (real === undefined) {
      delete require.cache[filename];
      real = { exports: require(filename) };
    }
    return real.exports;
  };
  const standIn = new Module(filename, module);
  standIn.filename = filename;
  standIn.loaded = true;
  standIn.exports = new Proxy(
    {},
    { get: (_, key) => (key === "__esModule" ? undefined : Reflect.get(load(), key)) },
  );
  require.cache[filename] = standIn;
  return filename;
}

module.exports = { deferRequire };
