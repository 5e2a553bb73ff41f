'use strict';
// The walkthrough's dynamic client as a one-shot command, for comparing the
// wall time of one reference call with services/user-client-node (README,
// "TypeScript and the Node.js client"): loads user.proto at run time with
// @grpc/proto-loader, calls GetUserDetails once and prints the four lines.
//
//   node oneshot.js ADDR PROTO_DIR PROTO_DEPS_DIR
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const [addr = '127.0.0.1:50051', protoDir, depsDir] = process.argv.slice(2);
if (!protoDir || !depsDir) {
  console.error('usage: node oneshot.js ADDR PROTO_DIR PROTO_DEPS_DIR');
  process.exit(2);
}
const def = protoLoader.loadSync(path.join(protoDir, 'user/v1/user.proto'), {
  keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [protoDir, depsDir],
});
const { user } = grpc.loadPackageDefinition(def);
const client = new user.v1.UserService(addr, grpc.credentials.createInsecure());
client.GetUserDetails({ user_id: 'john123', auth_token: 'valid-token' }, { deadline: Date.now() + 5000 }, (err, res) => {
  client.close();
  if (err) {
    console.error(`error: ${grpc.status[err.code]}: ${err.details}`);
    process.exit(1);
  }
  process.stdout.write(`Response:\nName: ${res.name}\nEmail: ${res.email}\nStatus: ${res.status}\n`);
});
