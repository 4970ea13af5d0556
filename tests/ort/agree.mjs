// tests/ort/agree.mjs — do nnpress's outputs agree with ONNX Runtime's?
//
//   node tests/ort/agree.mjs MODEL OUTPUT.npy [--images FILE] [--batch 500] [--rtol 1e-4]
//                            [--min-agreement 1]
//
// OUTPUT.npy is what `nnpress run MODEL --input IMAGES -o DIR` wrote for the
// model's first output (float32, [N, ...]). This runs the same images through
// ONNX Runtime (one intra-op thread, so that it is deterministic), each pixel
// multiplied by float32(1/255) as nnpress's data readers do, reshaped to the
// model's first input, and compares the first output:
//
//   - the argmax of every image must be the same (of at least a --min-agreement
//     fraction of them: a quantized model against ONNX Runtime's integer kernels);
//   - max |nnpress - ORT| / max |ORT| must be at most --rtol.
//
// One line is printed: "N images, argmax K/N, max abs diff X, max rel diff Y".
// Exit status: 0 when both hold, 1 when not or on an error, 2 for a usage error.

import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, 'package.json'));

const USAGE = 'usage: node tests/ort/agree.mjs MODEL OUTPUT.npy [--images FILE] [--batch N] ' +
  '[--rtol R] [--min-agreement F]';

function usage(msg) {
  process.stderr.write(`agree: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

function fail(msg) {
  process.stdout.write(`error: ${msg}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const o = {
    images: '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz',
    batch: 500,
    rtol: 1e-4,
    minAgreement: 1,
    files: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--images') o.images = value();
    else if (a === '--batch') {
      o.batch = Number(value());
      if (!Number.isInteger(o.batch) || o.batch < 1) usage('--batch needs a positive integer');
    } else if (a === '--rtol') {
      o.rtol = Number(value());
      if (!Number.isFinite(o.rtol) || o.rtol < 0) usage('--rtol needs a non-negative number');
    } else if (a === '--min-agreement') {
      o.minAgreement = Number(value());
      if (!(o.minAgreement >= 0 && o.minAgreement <= 1))
        usage('--min-agreement needs a fraction between 0 and 1');
    } else if (a === '-h' || a === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else o.files.push(a);
  }
  if (o.files.length !== 2) usage('give a model and an .npy file');
  return o;
}

// An IDX file of unsigned bytes, gzip'd or not.
function readIdx(file) {
  let buf = fs.readFileSync(file);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = zlib.gunzipSync(buf);
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0 || buf[2] !== 0x08)
    fail(`${file}: not an IDX file of unsigned bytes`);
  const rank = buf[3];
  const dims = [];
  for (let i = 0; i < rank; i++) dims.push(buf.readUInt32BE(4 + 4 * i));
  const perItem = dims.slice(1).reduce((a, b) => a * b, 1);
  const data = buf.subarray(4 + 4 * rank);
  if (data.length !== dims[0] * perItem) fail(`${file}: truncated`);
  return { n: dims[0], perItem, data };
}

// float16 <-> float32 (round to nearest even, as kernels/dtype.c): a model with
// float16 inputs and outputs (quantize(type=fp16,compute=fp16,keep_io=0)) is fed the
// images rounded to float16, as `nnpress run` feeds them.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function toHalf(x) {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let man = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0);
  const e = exp - 112; // the half's biased exponent
  if (e >= 0x1f) return sign | 0x7c00;
  let shift = 13;
  let h = (e << 10) | (man >>> 13);
  if (e <= 0) { // a subnormal half, or zero
    if (e < -10) return sign;
    man |= 0x800000;
    shift = 14 - e;
    h = man >>> shift;
  }
  const rem = man & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rem > half || (rem === half && (h & 1))) h++;
  return sign | h;
}

function fromHalf(h) {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0x1f) return man ? NaN : sign * Infinity;
  if (exp === 0) return sign * man * 2 ** -24;
  return sign * (1 + man / 1024) * 2 ** (exp - 15);
}

function halves(u16) {
  const out = new Float32Array(u16.length);
  for (let i = 0; i < u16.length; i++) out[i] = fromHalf(u16[i]);
  return out;
}

// A little-endian float32 (or float16) C-order .npy file (what nnpress writes).
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') fail(`${file}: not .npy`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + hlen;
  const header = buf.toString('latin1', major === 1 ? 10 : 12, start);
  const half = /'descr':\s*'<f2'/.test(header);
  if (!half && !/'descr':\s*'<f4'/.test(header)) fail(`${file}: not float32: ${header.trim()}`);
  if (/'fortran_order':\s*True/.test(header)) fail(`${file}: Fortran order`);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim())
    .filter((s) => s).map(Number);
  const bytes = buf.subarray(start);
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const values = half ? halves(new Uint16Array(copy)) : new Float32Array(copy);
  return { shape, values };
}

function fmt(x) {
  return x === 0 ? '0' : Number.isFinite(x) ? x.toExponential(2) : String(x);
}

function argmax(v, off, n) {
  let best = off;
  for (let i = off + 1; i < off + n; i++) if (v[i] > v[best]) best = i;
  return best - off;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const [model, npyFile] = o.files;
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    fail(`onnxruntime-node is not installed in ${here}/node_modules (run 'make deps')`);
  }
  const images = readIdx(o.images);
  const ours = readNpy(npyFile);
  if (ours.shape[0] !== images.n) fail(`${npyFile}: ${ours.shape[0]} rows for ${images.n} images`);
  const per = ours.values.length / images.n;

  let session;
  try {
    session = await ort.InferenceSession.create(model, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
  } catch (e) {
    fail(`${model}: ONNX Runtime cannot load it: ${e.message.split('\n')[0]}`);
  }
  const meta = session.inputMetadata[0];
  const item = meta.shape.slice(1);
  if (item.some((d) => typeof d !== 'number' || d < 0)) fail(`${model}: input [${meta.shape}]`);
  const scale = Math.fround(1 / 255);
  let maxAbs = 0;
  let maxOut = 0;
  let agree = 0;
  for (let start = 0; start < images.n; start += o.batch) {
    const n = Math.min(o.batch, images.n - start);
    const x = new Float32Array(n * images.perItem);
    const px = images.data.subarray(start * images.perItem, (start + n) * images.perItem);
    for (let i = 0; i < x.length; i++) x[i] = px[i] * scale;
    let input = new ort.Tensor('float32', x, [n, ...item]);
    if (meta.type === 'float16')
      input = new ort.Tensor('float16', Uint16Array.from(x, toHalf), [n, ...item]);
    const result = await session.run({ [session.inputNames[0]]: input });
    let t = result[session.outputNames[0]];
    if (t.type === 'float16') t = { type: 'float32', dims: t.dims, data: halves(t.data) };
    if (t.type !== 'float32') fail(`${model}: first output is ${t.type}`);
    if (t.data.length !== n * per) fail(`ORT gives [${t.dims}], nnpress ${per} values per image`);
    const mine = ours.values.subarray(start * per, (start + n) * per);
    for (let i = 0; i < t.data.length; i++) {
      const a = mine[i];
      const b = t.data[i];
      const d = a === b ? 0 : Math.abs(a - b);
      maxAbs = Math.max(maxAbs, Number.isNaN(d) ? Infinity : d);
      if (Number.isFinite(b)) maxOut = Math.max(maxOut, Math.abs(b));
    }
    for (let i = 0; i < n; i++)
      agree += argmax(mine, i * per, per) === argmax(t.data, i * per, per);
  }
  await session.release();
  const rel = maxAbs === 0 ? 0 : maxOut > 0 ? maxAbs / maxOut : Infinity;
  process.stdout.write(`${images.n} images, argmax ${agree}/${images.n}, max abs diff ` +
    `${fmt(maxAbs)}, max rel diff ${fmt(rel)}\n`);
  if (agree < o.minAgreement * images.n || !(rel <= o.rtol)) process.exit(1);
}

main().catch((e) => fail(e.stack || String(e)));
