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
test "$(tail -n +2 testdata/models.tsv | wc -l)" -ge 6
