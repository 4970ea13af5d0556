# sensitivity calibrates and measures on data: without --data it is a usage error
$NNPRESS sensitivity testdata/transformer.onnx
