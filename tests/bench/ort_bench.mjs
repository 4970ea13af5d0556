// tests/bench/ort_bench.mjs — time a model in ONNX Runtime the way `nnpress bench` times it.
//
//   node tests/bench/ort_bench.mjs MODEL [--batch 1] [--threads 1] [--warmup 0.2]
//                                  [--duration 1] [--seed 0]
//
// Same protocol as nnpress bench: one session (intraOpNumThreads = --threads,
// interOpNumThreads 1, sequential, all graph optimizations), every input filled
// once with seeded random values (float uniform in [0, 1), integers zero) in the
// model's shape with symbolic dimensions bound to --batch, --warmup seconds of
// untimed runs, then timed session.run() calls for --duration seconds and at
// least 10 runs. Prints one JSON object like nnpress bench --json's "latency".

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'ort', 'package.json'));
const ort = require('onnxruntime-node');

const MIN_RUNS = 10;

function parseArgs(argv) {
  const o = { batch: 1, threads: 1, warmup: 0.2, duration: 1, seed: 0, model: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const key = a.replace(/^--/, '');
    if (a.startsWith('--') && key in o && key !== 'model') {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) throw new Error(`${a}: not a number: ${argv[i]}`);
      o[key] = v;
    } else if (!a.startsWith('-') && !o.model) o.model = a;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!o.model) throw new Error('give a model');
  return o;
}

// mulberry32: small and seedable, like nnpress's splitmix64 (the values differ,
// the distribution does not, and timing does not depend on the values)
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

function feedsFor(session, batch, rand) {
  const feeds = {};
  session.inputNames.forEach((name, k) => {
    const meta = session.inputMetadata[k];
    const shape = meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : batch));
    const n = shape.reduce((a, b) => a * b, 1);
    let data;
    switch (meta.type) {
      case 'float32': data = Float32Array.from({ length: n }, rand); break;
      case 'float64': data = Float64Array.from({ length: n }, rand); break;
      case 'int64': data = new BigInt64Array(n); break;
      case 'int32': data = new Int32Array(n); break;
      case 'uint8': data = new Uint8Array(n); break;
      case 'int8': data = new Int8Array(n); break;
      case 'bool': data = new Uint8Array(n); break;
      default: throw new Error(`input ${name}: type ${meta.type} is not filled`);
    }
    feeds[name] = new ort.Tensor(meta.type, data, shape);
  });
  return feeds;
}

function percentile(sorted, q) {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const session = await ort.InferenceSession.create(o.model, {
    intraOpNumThreads: o.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const feeds = feedsFor(session, o.batch, random(o.seed));
  const now = () => Number(process.hrtime.bigint()) / 1e6; // ms

  let start = now();
  do await session.run(feeds); while (now() - start < 1000 * o.warmup);

  const ms = [];
  start = now();
  let t0 = start;
  for (;;) {
    await session.run(feeds);
    const t1 = now();
    ms.push(t1 - t0);
    t0 = t1;
    if (ms.length >= MIN_RUNS && t1 - start >= 1000 * o.duration) break;
  }
  await session.release();

  ms.sort((a, b) => a - b);
  const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
  const sd = Math.sqrt(ms.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(ms.length - 1, 1));
  process.stdout.write(JSON.stringify({
    batch: o.batch,
    threads: o.threads,
    runs: ms.length,
    min_ms: ms[0],
    mean_ms: mean,
    p50_ms: percentile(ms, 0.5),
    p90_ms: percentile(ms, 0.9),
    p99_ms: percentile(ms, 0.99),
    max_ms: ms[ms.length - 1],
    cv: mean > 0 ? sd / mean : 0,
    throughput: (1000 * o.batch) / mean,
  }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`ort_bench: ${e.message}\n`);
  process.exit(1);
});
