// tests/bench/report.mjs — the table and results.json of `make bench` (tests/bench/run.sh).
//
//   node tests/bench/report.mjs RECORDS.jsonl OUT.json ROUNDS WARMUP DURATION PEAK.json...
//
// Models named NAME.int8 (run.sh's int8 rows) get a table of their own, with
// nnpress's fp32 time for NAME beside theirs and the speed-up; the geometric
// mean of the first table is over the fp32 rows only.
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

// int8 rows (models NAME.int8, run.sh's INT8_MODELS): beside nnpress's fp32 time for NAME
const fp32Of = (r) => rows.find((q) => q.model === r.model.replace(/\.int8$/, '') &&
  q.batch === r.batch && q.threads === r.threads);
for (const r of rows) {
  if (!r.model.endsWith('.int8')) continue;
  const f = fp32Of(r);
  r.nnpress_fp32_p50_ms = f ? f.nnpress_p50_ms : null;
  r.int8_speedup = f ? f.nnpress_p50_ms / r.nnpress_p50_ms : null;
}
const fp32Rows = rows.filter((r) => !r.model.endsWith('.int8'));
const int8Rows = rows.filter((r) => r.model.endsWith('.int8'));

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
for (const r of fp32Rows)
  lines.push(`${r.model.padEnd(w)}  ${String(r.batch).padStart(5)}` +
    `  ${String(r.threads).padStart(7)}` +
    `  ${fmt(r.nnpress_p50_ms).padStart(14)}  ${fmtG(r.nnpress_gflops).padStart(7)}` +
    `  ${fmtP(r.nnpress_peak_fraction).padStart(6)}` +
    `  ${fmt(r.ort_p50_ms).padStart(10)}  ${fmtG(r.ort_gflops).padStart(7)}` +
    `  ${fmtP(r.ort_peak_fraction).padStart(6)}` +
    `  ${r.ratio.toFixed(2).padStart(11)}`);
const geoOf = (rs, f) => Math.exp(rs.reduce((s, r) => s + Math.log(f(r)), 0) / rs.length);
const geo = geoOf(fp32Rows, (r) => r.ratio);
lines.push(`geometric mean of nnpress/ORT: ${geo.toFixed(2)} over ${fp32Rows.length} configurations`);
let int8Geo = null, int8Speedup = null;
if (int8Rows.length) {
  lines.push('', 'int8 (static QDQ made by nnpress quantize; both tools run the same file)',
    `${'model'.padEnd(w)}  batch  threads  nnpress int8 ms  nnpress fp32 ms  int8 speed-up` +
      `  ORT int8 ms  nnpress/ORT`);
  for (const r of int8Rows)
    lines.push(`${r.model.padEnd(w)}  ${String(r.batch).padStart(5)}` +
      `  ${String(r.threads).padStart(7)}  ${fmt(r.nnpress_p50_ms).padStart(15)}` +
      `  ${(r.nnpress_fp32_p50_ms === null ? '-' : fmt(r.nnpress_fp32_p50_ms)).padStart(15)}` +
      `  ${(r.int8_speedup === null ? '-' : r.int8_speedup.toFixed(2) + 'x').padStart(13)}` +
      `  ${fmt(r.ort_p50_ms).padStart(11)}  ${r.ratio.toFixed(2).padStart(11)}`);
  int8Geo = geoOf(int8Rows, (r) => r.ratio);
  const withFp32 = int8Rows.filter((r) => r.int8_speedup !== null);
  int8Speedup = withFp32.length ? geoOf(withFp32, (r) => r.int8_speedup) : null;
  lines.push(`int8: geometric mean of nnpress/ORT ${int8Geo.toFixed(2)}, of the speed-up over` +
    ` nnpress fp32 ${int8Speedup === null ? '-' : int8Speedup.toFixed(2) + 'x'}, over` +
    ` ${int8Rows.length} configurations; slower than fp32 on` +
    ` ${withFp32.filter((r) => r.int8_speedup < 1).length}`);
}
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
  int8_geometric_mean_ratio: int8Geo,
  int8_geometric_mean_speedup: int8Speedup,
  rows,
};
fs.writeFileSync(outFile + '.tmp', JSON.stringify(result, null, 2) + '\n');
fs.renameSync(outFile + '.tmp', outFile);
console.log(`bench: wrote ${outFile}`);
