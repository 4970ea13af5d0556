# the shapes --shape and --dim ask for are the ones run, shown in --json, and a larger
# image needs a larger activation arena
set -e
M=tests/data/runtime/conv-dynamic-hw.onnx
$NNPRESS bench $M --shape x=2x3x16x24 --duration 0 --warmup 0 --json -q > "$TMP/a.json"
$NNPRESS bench $M --batch 2 --dim H=64 --dim W=96 --duration 0 --warmup 0 --json -q > "$TMP/b.json"
node -e '
const [a, b] = process.argv.slice(1).map(f => JSON.parse(require("fs").readFileSync(f)));
for (const r of [a, b])
    console.log(r.inputs.map(i => `${i.name} ${i.dtype} [${i.shape}]`).join(", "),
                "batch", r.latency.batch);
console.log(b.memory.arena_bytes === 16 * a.memory.arena_bytes ? "16x the pixels, 16x the arena"
            : `arena ${a.memory.arena_bytes} -> ${b.memory.arena_bytes}`);
' "$TMP/a.json" "$TMP/b.json"
$NNPRESS bench $M --dim H=20 --dim W=30 --batch 3 --duration 0 --warmup 0 2>/dev/null | grep '^config' | sed 's/BLAS core [A-Za-z0-9]*/BLAS core X/; s/int8 [a-z0-9]*/int8 X/; s/threads [0-9]*/threads T/'
