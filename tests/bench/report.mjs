// tests/bench/report.mjs — the table and results.json of `make bench` (tests/bench/run.sh).
//
//   node tests/bench/report.mjs RECORDS.jsonl OUT.json ROUNDS WARMUP DURATION
//
// RECORDS holds one line per timed measurement: {tool: "nnpress"|"ort", model,
// batch, threads, round, p50_ms, cv, ...}. Per configuration (model, batch,
// threads) the median over rounds of each tool's p50 is taken, and the ratio
// nnpress / ORT (below 1: nnpress is faster).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const [recordsFile, outFile, rounds, warmup, duration] = process.argv.slice(2);
const records = fs.readFileSync(recordsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

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
  rows.push({
    model: path.basename(model, '.onnx'),
    batch: Number(batch),
    threads: Number(threads),
    nnpress_p50_ms: a,
    ort_p50_ms: b,
    ratio: a / b,
    nnpress_p50_ms_rounds: nnp.map((r) => r.p50_ms),
    ort_p50_ms_rounds: ort.map((r) => r.p50_ms),
    nnpress_cv_max: Math.max(...nnp.map((r) => r.cv)),
    ort_cv_max: Math.max(...ort.map((r) => r.cv)),
    nnpress_peak_bytes: nnp.length ? nnp[0].peak_bytes : null,
  });
}

const fmt = (x) => (x >= 100 ? x.toFixed(1) : x >= 1 ? x.toFixed(3) : x.toFixed(4));
const w = Math.max(5, ...rows.map((r) => r.model.length));
const lines = [`${'model'.padEnd(w)}  batch  threads  nnpress p50 ms   ORT p50 ms   nnpress/ORT`];
for (const r of rows)
  lines.push(`${r.model.padEnd(w)}  ${String(r.batch).padStart(5)}` +
    `  ${String(r.threads).padStart(7)}` +
    `  ${fmt(r.nnpress_p50_ms).padStart(14)}  ${fmt(r.ort_p50_ms).padStart(11)}` +
    `  ${r.ratio.toFixed(2).padStart(11)}`);
const geo = Math.exp(rows.reduce((s, r) => s + Math.log(r.ratio), 0) / rows.length);
lines.push(`geometric mean of nnpress/ORT: ${geo.toFixed(2)} over ${rows.length} configurations`);
console.log(lines.join('\n'));

const ortVersion = JSON.parse(fs.readFileSync(
  path.join(here, '..', 'ort', 'node_modules', 'onnxruntime-node', 'package.json'))).version;
const cpu = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) || [])[1];
const result = {
  what: 'p50 latency of nnpress bench vs ONNX Runtime (onnxruntime-node), same machine, ' +
    'interleaved runs; per configuration the median over rounds of each p50',
  date: new Date().toISOString(),
  machine: { cpu: cpu || os.cpus()[0]?.model, cores: os.cpus().length, loadavg: os.loadavg() },
  blas: records.find((r) => r.tool === 'nnpress')?.blas ?? null,
  onnxruntime: ortVersion,
  rounds: Number(rounds),
  warmup_s: Number(warmup),
  duration_s: Number(duration),
  geometric_mean_ratio: geo,
  rows,
};
fs.writeFileSync(outFile + '.tmp', JSON.stringify(result, null, 2) + '\n');
fs.renameSync(outFile + '.tmp', outFile);
console.log(`bench: wrote ${outFile}`);
