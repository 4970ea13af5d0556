// tests/bench/agree_net.mjs — the input and the ONNX Runtime side of tests/bench/agree_nets.sh.
//
//   node tests/bench/agree_net.mjs input OUT.npy --shape 8,3,224,224 [--seed 0]
//   node tests/bench/agree_net.mjs compare MODEL INPUT.npy NNPRESS.npy [--rtol 1e-4]
//
// `input` writes a float32 .npy of the given shape, uniform in [-1, 1) from a
// seeded generator (mulberry32, as ort_bench.mjs): the same file for the same
// shape and seed. The first N images of a larger batch are those of batch N.
//
// `compare` runs INPUT.npy through MODEL's only input in ONNX Runtime (one
// intra-op thread, so that it is deterministic) and compares its first output
// with NNPRESS.npy, which `nnpress run MODEL --input INPUT.npy` wrote. One line:
//
//   B images, max abs diff X, max rel diff Y (relative to the largest |ORT output|),
//   argmax agreement K/B
//
// Exit status: 0 when the relative difference is at most --rtol (the argmax is
// shown, not judged: with random weights two classes can be nearly tied); 1 when
// it is not, or on an error (one line: "error: ..."); 2 for a usage error.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'ort', 'package.json'));

const USAGE = 'usage: node tests/bench/agree_net.mjs input OUT.npy --shape D,D,... [--seed N]\n' +
  '       node tests/bench/agree_net.mjs compare MODEL INPUT.npy NNPRESS.npy [--rtol R]';

function usage(msg) {
  process.stderr.write(`agree_net: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

function fail(msg) {
  process.stdout.write(`error: ${msg}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const o = { command: argv[0], shape: null, seed: 0, rtol: 1e-4, files: [] };
  if (o.command !== 'input' && o.command !== 'compare') usage('give input or compare first');
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--shape') {
      const s = value();
      o.shape = s.split(',').map(Number);
      if (o.shape.some((d) => !Number.isInteger(d) || d < 1))
        usage(`--shape needs positive integers separated by commas, not '${s}'`);
    } else if (a === '--seed') {
      const s = value();
      o.seed = Number(s);
      if (!/^[0-9]+$/.test(s)) usage(`--seed needs a non-negative integer, not '${s}'`);
    } else if (a === '--rtol') {
      const s = value();
      o.rtol = Number(s);
      if (s.trim() === '' || !Number.isFinite(o.rtol) || o.rtol < 0)
        usage(`--rtol needs a non-negative number, not '${s}'`);
    } else if (a === '-h' || a === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else o.files.push(a);
  }
  if (o.command === 'input' && (o.files.length !== 1 || !o.shape))
    usage('input needs OUT.npy and --shape');
  if (o.command === 'compare' && o.files.length !== 3)
    usage('compare needs MODEL INPUT.npy NNPRESS.npy');
  return o;
}

// mulberry32, as in ort_bench.mjs
function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// .npy version 1.0: magic, version, little-endian uint16 header length, a Python
// dict padded with spaces and a newline so that the data starts 64-byte aligned.
function writeNpy(file, shape, data) {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const head = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(head);
  head.writeUInt16LE(header.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file + '.tmp', Buffer.concat([head, Buffer.from(header, 'latin1'), body]));
  fs.renameSync(file + '.tmp', file); // never a partial file
}

// A little-endian float32 C-order .npy of any version, as {shape, data}.
function readNpy(file) {
  let buf;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    fail(`${file}: ${e.message}`);
  }
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY')
    fail(`${file}: not a .npy file`);
  const major = buf[6];
  const wide = major >= 2;
  const hlen = wide ? buf.readUInt32LE(8) : buf.readUInt16LE(8);
  const start = (wide ? 12 : 10) + hlen;
  if (buf.length < start) fail(`${file}: truncated .npy header`);
  const header = buf.toString('latin1', wide ? 12 : 10, start);
  const descr = (header.match(/'descr':\s*'([^']*)'/) || [])[1];
  const fortran = (header.match(/'fortran_order':\s*(True|False)/) || [])[1];
  const shapeText = (header.match(/'shape':\s*\(([^)]*)\)/) || [])[1];
  if (descr !== '<f4' || fortran !== 'False' || shapeText === undefined)
    fail(`${file}: not a C-order little-endian float32 array (header ${header.trim()})`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  if (buf.length !== start + 4 * n)
    fail(`${file}: shape [${shape}] needs ${4 * n} bytes of data, the file has ` +
      `${buf.length - start}`);
  // copied: the data of a Buffer need not be 4-byte aligned for a Float32Array
  const data = new Float32Array(n);
  Buffer.from(data.buffer).set(buf.subarray(start));
  return { shape, data };
}

function fmt(x) {
  return x === 0 ? '0' : Number.isFinite(x) ? x.toPrecision(3) : String(x);
}

async function compare(o) {
  const [model, inputFile, nnpressFile] = o.files;
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    fail(`onnxruntime-node is not installed in tests/ort/node_modules (run 'make deps'): ` +
      e.message);
  }
  const x = readNpy(inputFile);
  const got = readNpy(nnpressFile);
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
  if (session.inputNames.length !== 1)
    fail(`${model}: has ${session.inputNames.length} inputs, this compares models with one`);
  let result;
  try {
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x.data, x.shape) };
    result = await session.run(feeds);
  } catch (e) {
    fail(`${model}: ONNX Runtime cannot run it: ${e.message.split('\n')[0]}`);
  }
  const want = result[session.outputNames[0]];
  await session.release();
  if (want.type !== 'float32') fail(`${model}: first output is ${want.type}, not float32`);
  if (want.dims.join(',') !== got.shape.join(','))
    fail(`${nnpressFile}: shape [${got.shape}], ONNX Runtime's output is [${want.dims}]`);

  let maxAbs = 0;
  let maxOut = 0;
  for (let i = 0; i < want.data.length; i++) {
    const a = got.data[i];
    const b = want.data[i];
    // NaN on both sides and equal infinities do not differ; NaN on one side is infinitely off
    const same = a === b || (Number.isNaN(a) && Number.isNaN(b));
    const d = same ? 0 : Math.abs(a - b);
    maxAbs = Math.max(maxAbs, Number.isNaN(d) ? Infinity : d);
    if (Number.isFinite(b)) maxOut = Math.max(maxOut, Math.abs(b));
  }
  const images = want.dims[0];
  const classes = want.data.length / images;
  let agree = 0;
  for (let i = 0; i < images; i++) {
    let ia = 0;
    let ib = 0;
    for (let c = 1; c < classes; c++) {
      if (got.data[i * classes + c] > got.data[i * classes + ia]) ia = c;
      if (want.data[i * classes + c] > want.data[i * classes + ib]) ib = c;
    }
    agree += ia === ib;
  }
  const rel = maxAbs === 0 ? 0 : maxOut > 0 ? maxAbs / maxOut : Infinity;
  process.stdout.write(`${images} images, max abs diff ${fmt(maxAbs)}, max rel diff ${fmt(rel)} ` +
    `(relative to the largest |ORT output|), argmax agreement ${agree}/${images}\n`);
  if (!(rel <= o.rtol)) process.exit(1);
}

const o = parseArgs(process.argv.slice(2));
if (o.command === 'input') {
  const n = o.shape.reduce((a, b) => a * b, 1);
  const rand = random(o.seed);
  const data = Float32Array.from({ length: n }, () => 2 * rand() - 1);
  writeNpy(o.files[0], o.shape, data);
} else {
  compare(o).catch((e) => fail(e.stack || String(e)));
}
