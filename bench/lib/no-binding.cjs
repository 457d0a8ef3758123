// Preloaded with `node --require` to run ssh2 WITHOUT its native crypto binding, as an
// install with --ignore-scripts or a bundler would: the binding fails to load and ssh2
// falls back to its pure-JS ciphers.
const Module = require('node:module');
const load = Module._load;
Module._load = function (request, ...rest) {
  if (/sshcrypto\.node$/.test(request)) throw new Error('kvm-clone bench: ssh2 native binding disabled');
  return load.call(this, request, ...rest);
};
