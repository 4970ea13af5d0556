// tests/cli/npy.mjs — what a .npy file written by `nnpress run` holds, for the CLI tests.
//
//   node tests/cli/npy.mjs FILE [--argmax]
//
// Prints "FILE: <descr> [shape]"; with --argmax (float32, [N, C]) also how many
// rows have their largest value in each column: "argmax per class: n0 n1 ...".
import fs from 'node:fs';

const [file, flag] = process.argv.slice(2);
const buf = fs.readFileSync(file);
if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not .npy`);
const hlen = buf[6] === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
const start = (buf[6] === 1 ? 10 : 12) + hlen;
const header = buf.toString('latin1', buf[6] === 1 ? 10 : 12, start);
const descr = /'descr':\s*'([^']*)'/.exec(header)[1];
const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim())
  .filter((s) => s).map(Number);
console.log(`${file.replace(/.*\//, '')}: ${descr} [${shape}]`);
if (flag === '--argmax') {
  const data = buf.subarray(start);
  const v = new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length));
  const [n, c] = shape;
  const counts = new Array(c).fill(0);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < c; k++) if (v[i * c + k] > v[i * c + best]) best = k;
    counts[best]++;
  }
  console.log(`argmax per class: ${counts.join(' ')}`);
}
