# the table's rows (the figures vary from run to run)
$NNPRESS bench testdata/lenet5.onnx --warmup 0 --duration 0.05 --threads 1 2>/dev/null | cut -c1-10 | sort -u
