# the figures are there and consistent; the times themselves vary
set -e
$NNPRESS bench testdata/mlp.onnx --batch 4 --threads 1 --warmup 0 --duration 0.05 --json -q > "$TMP/b.json"
node -e '
const b = JSON.parse(require("fs").readFileSync(process.argv[1]));
const l = b.latency, m = b.memory;
const ok = (c, what) => { if (!c) { console.log("bad: " + what); process.exitCode = 1; } };
ok(b.command === "bench" && b.blas && b.seed === 0, "header");
ok(l.batch === 4 && l.threads === 1 && l.runs >= 10, "config");
ok(l.min_ms <= l.p50_ms && l.p50_ms <= l.p90_ms && l.p90_ms <= l.p95_ms && l.p95_ms <= l.p99_ms && l.p99_ms <= l.max_ms, "order");
ok(Math.abs(l.throughput - 4000 / l.mean_ms) < 1e-6 * l.throughput, "throughput");
ok(m.peak_bytes === m.arena_bytes + m.scratch_bytes + m.const_bytes && m.const_bytes === 1066440, "memory");
ok(m.naive_peak_bytes >= m.peak_bytes && l.peak_bytes === m.peak_bytes, "naive");
console.log("runs >= 10, percentiles in order, memory adds up");
' "$TMP/b.json"
