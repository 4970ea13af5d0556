"""tests/bench/make_calib.py — calibration data for the int8 rows of `make bench`.

    /usr/bin/python3 tests/bench/make_calib.py MODEL.onnx OUT.npy [--samples 32] [--seed 0]

Seeded standard-normal float32 samples in the shape of the model's first input
(its batch dimension replaced by --samples), written as .npy, which `nnpress
quantize --data` reads. For the benchmark networks, whose weights are random
too: what the bench times does not depend on what the values mean, only the
int8 model must be a real static quantization (ranges calibrated on data).
Uses Debian's python3-onnx and python3-numpy (tests/bench/deps.sh).
"""
import argparse
import os

import numpy as np
import onnx


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    m = onnx.load(args.model, load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    inp = next(i for i in m.graph.input if i.name not in inits)
    dims = [d.dim_value if d.HasField("dim_value") else 1 for d in inp.type.tensor_type.shape.dim]
    shape = [args.samples] + dims[1:]
    x = np.random.default_rng(args.seed).standard_normal(shape).astype(np.float32)
    tmp = args.out + ".tmp.npy"
    np.save(tmp, x)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
