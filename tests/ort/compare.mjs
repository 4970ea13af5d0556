// tests/ort/compare.mjs — run two ONNX models in ONNX Runtime on the same images and
// compare their outputs.
//
//   node tests/ort/compare.mjs A.onnx B.onnx [--images FILE.gz] [--count N] [--batch 500]
//                              [--shape 1,28,28] [--exact | --rtol 1e-5]
//
// Inputs are Fashion-MNIST test images (an IDX file, gzip'd or not), each pixel
// multiplied by float32(1/255) exactly as nnpress's data reader does
// (formats/dataset.c), reshaped to the first input of each model: its shape
// from the model ([N,784] or [N,1,28,28]; the first dimension is the batch), or
// --shape giving the shape of one image. The first output of each model is
// compared. One line is printed:
//
//   compare: A vs B: N images, max abs diff X, max rel diff Y (relative to the
//   largest |output|), argmax agreement K/N
//
// Exit status: 0 when the outputs agree as asked; 1 with --exact if any output
// differs bit for bit, with --rtol if the relative difference exceeds it, or on
// an error (a model that does not load or run); 2 for a usage error.
// ONNX Runtime runs on one thread, so that runs are deterministic.

import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, 'package.json'));

const USAGE = 'usage: node tests/ort/compare.mjs A.onnx B.onnx [--images FILE] [--count N] ' +
  '[--batch N] [--shape D,D,...] [--exact | --rtol R]';

function usage(msg) {
  process.stderr.write(`compare: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

function fail(msg) {
  process.stderr.write(`compare: error: ${msg}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const opts = {
    images: '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz',
    count: 0, // 0: every image in the file
    batch: 500,
    shape: null,
    exact: false,
    rtol: null,
    models: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    const positiveInt = (s) => {
      if (!/^[0-9]+$/.test(s) || Number(s) < 1) usage(`${a} needs a positive integer, not '${s}'`);
      return Number(s);
    };
    if (a === '--images') opts.images = value();
    else if (a === '--count') opts.count = positiveInt(value());
    else if (a === '--batch') opts.batch = positiveInt(value());
    else if (a === '--shape') opts.shape = value().split(',').map(positiveInt);
    else if (a === '--exact') opts.exact = true;
    else if (a === '--rtol') {
      const s = value();
      opts.rtol = Number(s);
      if (s.trim() === '' || !Number.isFinite(opts.rtol) || opts.rtol < 0)
        usage(`--rtol needs a non-negative number, not '${s}'`);
    } else if (a === '-h' || a === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else opts.models.push(a);
  }
  if (opts.models.length !== 2) usage('give two models');
  if (opts.exact && opts.rtol !== null) usage('--exact and --rtol exclude each other');
  return opts;
}

// An IDX file of unsigned bytes: 00 00 08 <rank>, then rank big-endian uint32 dims.
function readIdx(file) {
  let buf;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    fail(`${file}: ${e.message}`);
  }
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = zlib.gunzipSync(buf);
    } catch (e) {
      fail(`${file}: ${e.message}`);
    }
  }
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0 || buf[2] !== 0x08)
    fail(`${file}: not an IDX file of unsigned bytes`);
  const rank = buf[3];
  if (rank < 1 || buf.length < 4 + 4 * rank) fail(`${file}: truncated IDX header`);
  const dims = [];
  for (let i = 0; i < rank; i++) dims.push(buf.readUInt32BE(4 + 4 * i));
  const perItem = dims.slice(1).reduce((a, b) => a * b, 1);
  const data = buf.subarray(4 + 4 * rank);
  if (data.length !== dims[0] * perItem)
    fail(`${file}: header says ${dims.join('x')}, file has ${data.length} bytes of data`);
  return { n: dims[0], perItem, data };
}

// The shape of one input batch of `n` items: the model's first input with its first
// dimension replaced by n, or --shape behind n.
function batchShape(session, label, opts, perItem, n) {
  let item;
  if (opts.shape) {
    item = opts.shape;
  } else {
    const meta = session.inputMetadata[0];
    if (!meta.isTensor || !meta.shape || meta.shape.length < 2)
      fail(`${label}: cannot tell the input shape from the model; give --shape`);
    item = meta.shape.slice(1);
    if (item.some((d) => typeof d !== 'number' || d < 0))
      fail(`${label}: input shape [${meta.shape}] has unknown dimensions; give --shape`);
    const batchDim = meta.shape[0];
    if (typeof batchDim === 'number' && batchDim > 0 && batchDim !== n)
      fail(`${label}: input has a fixed batch of ${batchDim}; use --batch ${batchDim}`);
  }
  const size = item.reduce((a, b) => a * b, 1);
  if (size !== perItem)
    fail(`${label}: input [${item}] holds ${size} values, an image has ${perItem}`);
  return [n, ...item];
}

function f16ToF32(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

// The first output as a Float32Array (float16 outputs widened) plus its raw bytes.
function firstOutput(session, result, label) {
  const t = result[session.outputNames[0]];
  if (!t || !t.data) fail(`${label}: its first output is not a tensor`);
  let values;
  if (t.type === 'float32') values = t.data;
  else if (t.type === 'float16') values = Float32Array.from(t.data, f16ToF32);
  else if (t.type === 'float64') values = Float32Array.from(t.data);
  else fail(`${label}: output type ${t.type} is not compared (float32/16/64 only)`);
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return { values, bytes: Uint8Array.from(bytes), dims: t.dims };
}

function fmt(x) {
  return x === 0 ? '0' : Number.isFinite(x) ? x.toPrecision(3) : String(x);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    fail(`onnxruntime-node is not installed in ${here}/node_modules (run 'make deps'): ` +
      e.message);
  }
  const images = readIdx(opts.images);
  const count = opts.count ? Math.min(opts.count, images.n) : images.n;
  const options = {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
  const sessions = [];
  for (const m of opts.models) {
    try {
      sessions.push(await ort.InferenceSession.create(m, options));
    } catch (e) {
      fail(`${m}: ONNX Runtime cannot load it: ${e.message.split('\n')[0]}`);
    }
  }

  // x * float32(1/255), as nnpress's reader scales pixels
  const scale = Math.fround(1 / 255);
  let maxAbs = 0;
  let maxOut = 0;
  let agree = 0;
  let bitwiseSame = true;
  for (let start = 0; start < count; start += opts.batch) {
    const n = Math.min(opts.batch, count - start);
    const x = new Float32Array(n * images.perItem);
    const px = images.data.subarray(start * images.perItem, (start + n) * images.perItem);
    for (let i = 0; i < x.length; i++) x[i] = px[i] * scale;
    const outs = [];
    for (let k = 0; k < 2; k++) {
      const s = sessions[k];
      const shape = batchShape(s, opts.models[k], opts, images.perItem, n);
      const feeds = { [s.inputNames[0]]: new ort.Tensor('float32', x, shape) };
      let result;
      try {
        result = await s.run(feeds);
      } catch (e) {
        fail(`${opts.models[k]}: ONNX Runtime cannot run it: ${e.message.split('\n')[0]}`);
      }
      outs.push(firstOutput(s, result, opts.models[k]));
    }
    const [a, b] = outs;
    if (a.values.length !== b.values.length)
      fail(`the outputs differ in shape: [${a.dims}] vs [${b.dims}]`);
    if (a.bytes.length !== b.bytes.length || a.bytes.some((v, i) => v !== b.bytes[i]))
      bitwiseSame = false;
    for (let i = 0; i < a.values.length; i++) {
      const x = a.values[i];
      const y = b.values[i];
      // equal values (infinities included) and NaN on both sides do not differ;
      // NaN on one side only is an infinite difference
      const same = x === y || (Number.isNaN(x) && Number.isNaN(y));
      const d = same ? 0 : Math.abs(x - y);
      maxAbs = Math.max(maxAbs, Number.isNaN(d) ? Infinity : d);
      if (Number.isFinite(x)) maxOut = Math.max(maxOut, Math.abs(x));
    }
    const classes = a.values.length / n;
    for (let i = 0; i < n; i++) {
      let ia = 0;
      let ib = 0;
      for (let c = 1; c < classes; c++) {
        if (a.values[i * classes + c] > a.values[i * classes + ia]) ia = c;
        if (b.values[i * classes + c] > b.values[i * classes + ib]) ib = c;
      }
      agree += ia === ib;
    }
  }
  for (const s of sessions) await s.release();

  const rel = maxAbs === 0 ? 0 : maxOut > 0 ? maxAbs / maxOut : Infinity;
  process.stdout.write(`compare: ${opts.models[0]} vs ${opts.models[1]}: ${count} images, ` +
    `max abs diff ${fmt(maxAbs)}, max rel diff ${fmt(rel)} (relative to the largest |output|), ` +
    `argmax agreement ${agree}/${count}\n`);
  if (opts.exact && !bitwiseSame) process.exit(1);
  if (opts.rtol !== null && !(rel <= opts.rtol)) process.exit(1);
}

main().catch((e) => fail(e.stack || String(e)));
