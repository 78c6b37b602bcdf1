// Encode-speed reference: times tiktoken (WASM) and tiktoken-rs (native) on
// one file, single thread, and prints one JSON line per implementation:
//   {"impl":"tiktoken-wasm","encoding":"cl100k_base","mb_per_s":3.7,"cpu_mb_per_s":3.6,"tokens":1474814,"runs":[...]}
// mb_per_s is per wall second, cpu_mb_per_s per CPU second of the process.
//
//   node bench.js ENCODING FILE [--runs N]
'use strict';
const fs = require('fs');

function median(xs) { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; }

function bench(name, encodeFn, text, bytes, runs) {
  let tokens = 0;
  encodeFn(text.slice(0, 10000));  // warm-up (JIT, lazy init)
  const secs = [];
  const cpu = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    tokens = encodeFn(text).length;
    secs.push(Number(process.hrtime.bigint() - t0) / 1e9);
    const c = process.cpuUsage(c0);  // whole process (user + system), microseconds
    cpu.push((c.user + c.system) / 1e6);
  }
  const mbps = secs.map((s) => bytes / 1e6 / s);
  const cpu_mbps = cpu.map((s) => bytes / 1e6 / s);
  return { impl: name, mb_per_s: median(mbps), cpu_mb_per_s: +median(cpu_mbps).toFixed(2), tokens,
           runs: mbps.map((x) => +x.toFixed(2)) };
}

function main() {
  const args = process.argv.slice(2);
  if (args.length < 2) {
    console.error('usage: node bench.js ENCODING FILE [--runs N]');
    process.exit(2);
  }
  const [encoding, file] = args;
  const runs = args.includes('--runs') ? parseInt(args[args.indexOf('--runs') + 1], 10) : 3;
  const text = fs.readFileSync(file, 'utf8');
  const bytes = Buffer.byteLength(text, 'utf8');
  const { get_encoding } = require('tiktoken');
  const wasm = get_encoding(encoding);
  const rs = require('tiktoken-rs-node-linux-x64-gnu').getEncoding(encoding);
  for (const r of [bench('tiktoken-wasm', (t) => wasm.encode(t, [], []), text, bytes, runs),
                   bench('tiktoken-rs', (t) => rs.encode(t), text, bytes, runs)]) {
    console.log(JSON.stringify({ ...r, encoding }));
  }
}
main();
