$NNPRESS bench tests/data/runtime/nonzero.onnx --duration 0.1
