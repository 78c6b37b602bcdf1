// Special-token reference: for each case, tiktoken's encode(text, allowed,
// disallowed) result, or "error" if it throws (a disallowed special token).
//
//   node special_cases.js ENCODING ALLOWED DISALLOWED FILE
//
// ALLOWED / DISALLOWED: "all", "none" or a comma-separated list (tiktoken's
// allowed_special / disallowed_special). FILE: one case per line (no
// newlines inside). Prints one line per case: the ids separated by spaces,
// or "error".
'use strict';
const fs = require('fs');

function arg(v) {
  if (v === 'all') return 'all';
  if (v === 'none' || v === '') return [];
  return v.split(',');
}

function main() {
  const [encoding, allowed, disallowed, file] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node special_cases.js ENCODING ALLOWED DISALLOWED FILE');
    process.exit(2);
  }
  const { get_encoding } = require('tiktoken');
  const enc = get_encoding(encoding);
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const out = [];
  for (const line of lines) {
    try {
      out.push(Array.from(enc.encode(line, arg(allowed), arg(disallowed))).join(' '));
    } catch (e) {
      out.push('error');
    }
  }
  enc.free();
  process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
}
main();
