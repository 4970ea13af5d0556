// tests/bench/report.mjs — the table and results.json of `make bench` (tests/bench/run.sh).
//
//   node tests/bench/report.mjs RECORDS.jsonl OUT.json ROUNDS WARMUP DURATION PEAK.json...
//
// RECORDS holds one line per timed measurement: {tool: "nnpress"|"ort", model,
// batch, threads, round, p50_ms, cv, ...; nnpress's also flops}. Per
// configuration (model, batch, threads) the median over rounds of each tool's
// p50 is taken, and the ratio nnpress / ORT (below 1: nnpress is faster).
// GFLOP/s = nnpress's flops per run (the same model and batch for both tools)
// / that median p50; the fraction of peak divides it by the peak GFLOP/s at the
// row's thread count: the best of the PEAK.json files (what peak.c printed,
// {"isa", "chains", "gflops": {"1": G, ...}}, before and after the timing).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const [recordsFile, outFile, rounds, warmup, duration, ...peakFiles] = process.argv.slice(2);
const records = fs.readFileSync(recordsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
// a ceiling: other work on the machine only ever lowers a measurement of it
const peaks = peakFiles.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));
const peak = { ...peaks[0], gflops: {}, measurements: peaks.map((p) => p.gflops) };
for (const p of peaks)
  for (const [t, g] of Object.entries(p.gflops)) peak.gflops[t] = Math.max(peak.gflops[t] ?? 0, g);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const rows = [];
const key = (r) => `${r.model}\t${r.batch}\t${r.threads}`;
for (const k of [...new Set(records.map(key))]) {
  const [model, batch, threads] = k.split('\t');
  const of = (tool) => records.filter((r) => key(r) === k && r.tool === tool);
  const nnp = of('nnpress');
  const ort = of('ort');
  const a = median(nnp.map((r) => r.p50_ms));
  const b = median(ort.map((r) => r.p50_ms));
  // the work of one run depends on the model and batch only: every round counts the same
  const flops = nnp.length ? nnp[0].flops : null;
  const gflops = (ms) => (flops > 0 ? flops / (ms * 1e6) : null);
  const peakGflops = peak.gflops[threads] ?? null;
  const fraction = (g) => (g !== null && peakGflops > 0 ? g / peakGflops : null);
  rows.push({
    model: path.basename(model, '.onnx'),
    batch: Number(batch),
    threads: Number(threads),
    flops,
    nnpress_p50_ms: a,
    ort_p50_ms: b,
    ratio: a / b,
    nnpress_gflops: gflops(a),
    ort_gflops: gflops(b),
    peak_gflops: peakGflops,
    nnpress_peak_fraction: fraction(gflops(a)),
    ort_peak_fraction: fraction(gflops(b)),
    nnpress_p50_ms_rounds: nnp.map((r) => r.p50_ms),
    ort_p50_ms_rounds: ort.map((r) => r.p50_ms),
    nnpress_cv_max: Math.max(...nnp.map((r) => r.cv)),
    ort_cv_max: Math.max(...ort.map((r) => r.cv)),
    nnpress_peak_bytes: nnp.length ? nnp[0].peak_bytes : null,
  });
}

const fmt = (x) => (x >= 100 ? x.toFixed(1) : x >= 1 ? x.toFixed(3) : x.toFixed(4));
const fmtG = (g) => (g === null ? '-' : g >= 10 ? g.toFixed(1) : g.toFixed(2));
const fmtP = (f) => (f === null ? '-' : `${(100 * f).toFixed(1)}%`);
// "223 GFLOP/s (1 thread), 447 (2 threads)"
const peakText = Object.entries(peak.gflops).map(([t, g], i) =>
  `${g.toFixed(0)}${i ? '' : ' GFLOP/s'} (${t} thread${t === '1' ? '' : 's'})`).join(', ');
const w = Math.max(5, ...rows.map((r) => r.model.length));
const lines = [
  `peak fp32: ${peakText} (${peak.isa} FMA, tests/bench/peak.c, best of this run)`,
  `${'model'.padEnd(w)}  batch  threads  nnpress p50 ms  GFLOP/s  % peak` +
    `  ORT p50 ms  GFLOP/s  % peak  nnpress/ORT`,
];
for (const r of rows)
  lines.push(`${r.model.padEnd(w)}  ${String(r.batch).padStart(5)}` +
    `  ${String(r.threads).padStart(7)}` +
    `  ${fmt(r.nnpress_p50_ms).padStart(14)}  ${fmtG(r.nnpress_gflops).padStart(7)}` +
    `  ${fmtP(r.nnpress_peak_fraction).padStart(6)}` +
    `  ${fmt(r.ort_p50_ms).padStart(10)}  ${fmtG(r.ort_gflops).padStart(7)}` +
    `  ${fmtP(r.ort_peak_fraction).padStart(6)}` +
    `  ${r.ratio.toFixed(2).padStart(11)}`);
const geo = Math.exp(rows.reduce((s, r) => s + Math.log(r.ratio), 0) / rows.length);
lines.push(`geometric mean of nnpress/ORT: ${geo.toFixed(2)} over ${rows.length} configurations`);
console.log(lines.join('\n'));

const ortVersion = JSON.parse(fs.readFileSync(
  path.join(here, '..', 'ort', 'node_modules', 'onnxruntime-node', 'package.json'))).version;
const cpu = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) || [])[1];
const result = {
  what: 'p50 latency of nnpress bench vs ONNX Runtime (onnxruntime-node), same machine, ' +
    'interleaved runs; per configuration the median over rounds of each p50; GFLOP/s from ' +
    "nnpress's flops per run (2 x multiply-adds of Conv, Gemm, MatMul) at that p50",
  date: new Date().toISOString(),
  machine: { cpu: cpu || os.cpus()[0]?.model, cores: os.cpus().length, loadavg: os.loadavg() },
  blas: records.find((r) => r.tool === 'nnpress')?.blas ?? null,
  onnxruntime: ortVersion,
  rounds: Number(rounds),
  warmup_s: Number(warmup),
  duration_s: Number(duration),
  peak: { what: 'fp32 FMA GFLOP/s by thread count, best of short trials (tests/bench/peak.c) ' +
    'before and after the timing; measurements holds each', ...peak },
  geometric_mean_ratio: geo,
  rows,
};
fs.writeFileSync(outFile + '.tmp', JSON.stringify(result, null, 2) + '\n');
fs.renameSync(outFile + '.tmp', outFile);
console.log(`bench: wrote ${outFile}`);
