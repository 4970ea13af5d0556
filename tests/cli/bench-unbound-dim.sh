# a symbolic image size nothing binds is a usage error, not a 1x1 image timed in silence
$NNPRESS bench tests/data/runtime/conv-dynamic-hw.onnx --duration 0 --batch 8 --dim H=32
