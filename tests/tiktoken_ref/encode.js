// Reference encoder: prints the token ids of a file, one per line, using
// OpenAI's tiktoken (WASM build of the Rust core) or tiktoken-rs (native).
//
//   node encode.js ENCODING FILE [--impl wasm|rs] [--allow-special] [--out FILE]
//
// ENCODING: cl100k_base | o200k_base | r50k_base | p50k_base
// --allow-special: encode special tokens (tiktoken allowed_special="all");
// default is encode_ordinary semantics via disallowed_special=[] (plain text).
'use strict';
const fs = require('fs');

function main() {
  const args = process.argv.slice(2);
  if (args.length < 2 || args.includes('--help')) {
    console.error('usage: node encode.js ENCODING FILE [--impl wasm|rs] [--allow-special] [--out FILE]');
    process.exit(2);
  }
  const [encoding, file] = args;
  const impl = args.includes('--impl') ? args[args.indexOf('--impl') + 1] : 'wasm';
  const allowSpecial = args.includes('--allow-special');
  const out = args.includes('--out') ? args[args.indexOf('--out') + 1] : null;
  const text = fs.readFileSync(file, 'utf8');
  let ids;
  if (impl === 'wasm') {
    const { get_encoding } = require('tiktoken');
    const enc = get_encoding(encoding);
    ids = allowSpecial ? enc.encode(text, 'all') : enc.encode(text, [], []);
    enc.free();
  } else if (impl === 'rs') {
    const rs = require('tiktoken-rs-node-linux-x64-gnu');
    ids = rs.getEncoding(encoding).encode(text);
  } else {
    console.error(`unknown --impl ${impl}`);
    process.exit(2);
  }
  const body = Array.from(ids).join('\n') + (ids.length ? '\n' : '');
  if (out) fs.writeFileSync(out, body); else process.stdout.write(body);
}
main();
