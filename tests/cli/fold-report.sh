# fold on the BatchNorm CNN: the report says what was folded and has both sides
set -e
$NNPRESS fold testdata/lenet5_bn.onnx -o "$TMP/f.onnx" --report "$TMP/r.json" -q
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const st = r.passes[0].stats;
console.log("schema", r.schema, "command", r.command, "pipeline", r.pipeline);
console.log("batchnorm_folded", st.batchnorm_folded, "dropout_removed", st.dropout_removed);
console.log("BatchNormalization before", r.before.ops.BatchNormalization || 0,
            "after", r.after.ops.BatchNormalization || 0);
console.log("params before > after:", r.before.params > r.after.params);
console.log("onnx_bytes ratio < 1:", r.ratios.onnx_bytes < 1);
console.log("latency", r.after.latency, "accuracy", r.after.accuracy);
' "$TMP/r.json"
