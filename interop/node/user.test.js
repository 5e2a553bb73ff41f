'use strict';
// Interop: the walkthrough's Node.js gRPC stack (@grpc/grpc-js with
// @grpc/proto-loader, loading the .proto at run time) against the Go
// user-server. Run by `make interop`, which starts the server and sets:
//   USER_SERVER_ADDR   host:port of the running server
//   USER_SERVER_TOKEN  a token the server accepts
//   PROTO_DIR          the repository's proto/ directory (user/v1/user.proto)
//   PROTO_DEPS_DIR     `buf export` of the Buf module: its locked
//                      dependencies (buf/validate/validate.proto) as resolved
//                      offline by the Buf pipeline
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run this through 'make interop')`);
  return v;
}

const addr = env('USER_SERVER_ADDR');
const token = env('USER_SERVER_TOKEN');
const protoDir = env('PROTO_DIR');
const depsDir = env('PROTO_DEPS_DIR');

let client;

before(() => {
  // The walkthrough's loader options; includeDirs resolves the
  // buf/validate import from the exported Buf dependency, not a copy.
  const def = protoLoader.loadSync(path.join(protoDir, 'user/v1/user.proto'), {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [protoDir, depsDir],
  });
  const pkg = grpc.loadPackageDefinition(def);
  client = new pkg.user.v1.UserService(addr, grpc.credentials.createInsecure());
});

after(() => client.close());

function call(request, options = {}) {
  return new Promise((resolve, reject) => {
    client.GetUserDetails(request, options, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

// Decodes google.rpc.Status from the grpc-status-details-bin trailer and
// returns the buf.validate.Violations it carries, using validate.proto from
// the same exported dependency.
function violations(err) {
  const [bin] = err.metadata.get('grpc-status-details-bin');
  assert.ok(bin, 'InvalidArgument carries grpc-status-details-bin');
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) =>
    [protoDir, depsDir].map((d) => path.join(d, target)).find((p) => fs.existsSync(p)) ??
    protobuf.util.path.resolve(origin, target);
  root.loadSync('buf/validate/validate.proto', { keepCase: true });
  root.add(
    protobuf.Type.fromJSON('Status', {
      fields: {
        code: { type: 'int32', id: 1 },
        message: { type: 'string', id: 2 },
        details: { rule: 'repeated', type: 'google.protobuf.Any', id: 3 },
      },
    }),
  );
  root.loadSync('google/protobuf/any.proto', { keepCase: true });
  const status = root.lookupType('Status').decode(bin);
  assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
  const any = status.details.find((d) => d.type_url.endsWith('/buf.validate.Violations'));
  assert.ok(any, `details hold buf.validate.Violations, got ${status.details.map((d) => d.type_url)}`);
  return root.lookupType('buf.validate.Violations').decode(any.value).violations;
}

test('reference call returns the walkthrough user', async () => {
  const res = await call({ user_id: 'john123', auth_token: token });
  assert.deepEqual(res, { name: 'John Doe', email: 'john123@example.com', status: 'Success' });
});

test('wrong token is Unauthenticated', async () => {
  await assert.rejects(call({ user_id: 'john123', auth_token: 'wrong-token' }), (err) => {
    assert.equal(err.code, grpc.status.UNAUTHENTICATED, err.message);
    assert.ok(!err.details.includes('wrong-token'), 'the token is not echoed');
    return true;
  });
});

test('empty user_id is InvalidArgument with the field violation', async () => {
  await assert.rejects(call({ user_id: '', auth_token: token }), (err) => {
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT, err.message);
    const vs = violations(err);
    assert.equal(vs.length, 1, JSON.stringify(vs));
    const field = vs[0].field.elements.map((e) => e.field_name).join('.');
    assert.equal(field, 'user_id');
    assert.equal(vs[0].rule_id, 'required');
    return true;
  });
});

test('unknown user is NotFound', async () => {
  await assert.rejects(call({ user_id: 'nobody', auth_token: token }), (err) => {
    assert.equal(err.code, grpc.status.NOT_FOUND, err.message);
    return true;
  });
});

test('expired deadline is DeadlineExceeded', async () => {
  await assert.rejects(call({ user_id: 'john123', auth_token: token }, { deadline: Date.now() - 1000 }), (err) => {
    assert.equal(err.code, grpc.status.DEADLINE_EXCEEDED, err.message);
    return true;
  });
  // The channel still works afterwards.
  const res = await call({ user_id: 'john123', auth_token: token });
  assert.equal(res.status, 'Success');
});
