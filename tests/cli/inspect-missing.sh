$NNPRESS inspect no/such/model.onnx
