$NNPRESS frobnicate x.onnx
