# the report JSON lists every candidate left in float with its reason (kept_float), as
# standard error names them
$NNPRESS quantize testdata/transformer.onnx -o "$TMP/q.onnx" --mode weight \
    --exclude /embed/Conv+Gemm --report "$TMP/r.json" -q || exit 9
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
for (const p of r.passes)
    for (const k of p.kept_float) console.log(`${p.name}: ${k.node} (${k.op}): ${k.reason}`);
' "$TMP/r.json"
