"""tests/bench/make_mlp.py — the weight-bound benchmark model, made at bench time.

    /usr/bin/python3 tests/bench/make_mlp.py OUT.onnx [--seed 0]

An MLP 1024-4096-4096-1000 (Gemm, Relu, Gemm, Relu, Gemm; weights stored
[out, in] with transB=1, as PyTorch exports them) with random weights: about
25 M parameters, 100 MB of float32, too large to commit and quick to make.
Input `input` [batch, 1024], output `logits` [batch, 1000], opset 17.
Uses Debian's python3-onnx and python3-numpy (tests/bench/deps.sh).
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIZES = [1024, 4096, 4096, 1000]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)

    nodes, inits = [], []
    x = "input"
    for i, (n_in, n_out) in enumerate(zip(SIZES, SIZES[1:])):
        # He-style scale keeps activations O(1) through the ReLUs
        w = (rng.standard_normal((n_out, n_in), dtype=np.float32) * np.sqrt(2.0 / n_in))
        b = rng.standard_normal(n_out, dtype=np.float32) * 0.01
        inits += [numpy_helper.from_array(w.astype(np.float32), f"fc{i}.weight"),
                  numpy_helper.from_array(b.astype(np.float32), f"fc{i}.bias")]
        last = i == len(SIZES) - 2
        y = "logits" if last else f"fc{i}"
        nodes.append(helper.make_node("Gemm", [x, f"fc{i}.weight", f"fc{i}.bias"], [y],
                                      name=f"fc{i}", transB=1))
        if not last:
            nodes.append(helper.make_node("Relu", [y], [f"relu{i}"], name=f"relu{i}"))
            y = f"relu{i}"
        x = y

    graph = helper.make_graph(
        nodes, "mlp_1024_4096_4096_1000",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", SIZES[0]])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", SIZES[-1]])],
        inits)
    model = helper.make_model(graph, producer_name="nnpress tests/bench/make_mlp.py",
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    tmp = args.out + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, args.out)  # never a partial model


if __name__ == "__main__":
    main()
