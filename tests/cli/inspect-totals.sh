# nnpress inspect totals (parameters, weight bytes) equal what the generator
# script recorded for every testdata model (testdata/models.tsv)
set -e
n=0
tail -n +2 testdata/models.tsv | while IFS="$(printf '\t')" read -r model params bytes rest; do
    $NNPRESS inspect --json "testdata/$model.onnx" > "$TMP/i.json"
    node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const [model, params, bytes] = process.argv.slice(2);
const ok = r.params === Number(params) && r.weight_bytes === Number(bytes);
console.log(`${ok ? "ok  " : "FAIL"} ${model}: params ${r.params} (script ${params}), bytes ${r.weight_bytes} (script ${bytes})`);
process.exit(ok ? 0 : 1);
' "$TMP/i.json" "$model" "$params" "$bytes"
done
# and every model is listed (an empty table must not pass)
test "$(tail -n +2 testdata/models.tsv | wc -l)" -ge 8
# a weight counts the same whether the file stores it as an initializer or as a
# Constant node: each *_const model has its source's totals, as nnpress counts them
for pair in lenet5:lenet5_const lenet5_bn:lenet5_bn_const; do
    $NNPRESS inspect --json "testdata/${pair%:*}.onnx" > "$TMP/a.json"
    $NNPRESS inspect --json "testdata/${pair#*:}.onnx" > "$TMP/b.json"
    node -e '
const fs = require("fs");
const [a, b] = process.argv.slice(1, 3).map((f) => JSON.parse(fs.readFileSync(f, "utf8")));
const ok = a.params === b.params && a.weight_bytes === b.weight_bytes && a.params > 0 &&
           (b.ops.Constant || 0) > 0 && !a.ops.Constant;
console.log(`${ok ? "ok  " : "FAIL"} ${b.path}: params ${b.params}, bytes ${b.weight_bytes}; ` +
            `${a.path}: params ${a.params}, bytes ${a.weight_bytes}`);
process.exit(ok ? 0 : 1);
' "$TMP/a.json" "$TMP/b.json"
done
