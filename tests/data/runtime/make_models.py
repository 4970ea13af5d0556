#!/usr/bin/env python3
"""Small models for the runtime's CLI tests. Most are valid ONNX that the runtime
must refuse, with a line naming the node: an attribute out of range, a weight of
the wrong rank, an op the runtime does not have (tests/cli/run-bad-*.sh).
conv-dynamic-hw takes images of any size, x [N,3,H,W] (tests/cli/bench-shape*.sh);
reshape-by-input reshapes x by the values of its second input (tests/cli/run-shape-input.sh).

Regenerate with /usr/bin/python3 tests/data/runtime/make_models.py (python3-onnx)."""
import os

import numpy as np
from onnx import TensorProto, helper, numpy_helper, save

HERE = os.path.dirname(os.path.abspath(__file__))


def model(name, nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)],
                          producer_name="nnpress-tests")
    m.ir_version = 8
    save(m, os.path.join(HERE, name + ".onnx"))


def f32(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


# Softmax over axis 3 of a rank-2 tensor
model("softmax-axis", [helper.make_node("Softmax", ["x"], ["y"], name="soft", axis=3)],
      [f32("x", [2, 3])], [f32("y", [2, 3])])

# Conv with group=2 on 3 input channels
w = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "w")
model("conv-group", [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", group=2)],
      [f32("x", [1, 3, 8, 8])], [f32("y", None)], [w])

# Conv whose weight is 3-D
w3 = numpy_helper.from_array(np.ones((2, 3, 3), np.float32), "w")
model("conv-weight-rank", [helper.make_node("Conv", ["x", "w"], ["y"], name="conv")],
      [f32("x", [1, 3, 8, 8])], [f32("y", None)], [w3])

# MaxPool with 3 pads for a 2-D window
model("maxpool-pads", [helper.make_node("MaxPool", ["x"], ["y"], name="pool",
                                        kernel_shape=[2, 2], pads=[1, 1, 1])],
      [f32("x", [1, 1, 4, 4])], [f32("y", None)])

# NonZero: a valid ONNX op the runtime does not have (data-dependent shape)
model("nonzero", [helper.make_node("NonZero", ["x"], ["y"], name="nz")],
      [f32("x", [2, 3])], [helper.make_tensor_value_info("y", TensorProto.INT64, None)])

# an op from a domain nobody knows
model("custom-domain", [helper.make_node("Frobnicate", ["x"], ["y"], name="frob",
                                         domain="com.example")],
      [f32("x", [2, 3])], [f32("y", [2, 3])])

# Conv 3->16, 3x3, pad 1, then Relu, on x [N,3,H,W]: N, H and W symbolic
rng = np.random.default_rng(0)
wd = numpy_helper.from_array(rng.standard_normal((16, 3, 3, 3)).astype(np.float32), "w")
model("conv-dynamic-hw",
      [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
       helper.make_node("Relu", ["c"], ["y"], name="relu")],
      [f32("x", ["N", 3, "H", "W"])], [f32("y", ["N", 16, "H", "W"])], [wd])

# Reshape whose shape is a graph input, as ONNX's node tests and some exporters have it
model("reshape-by-input",
      [helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape")],
      [f32("x", [2, 6]), helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
      [f32("y", None)])
np.save(os.path.join(HERE, "shape-3x4.npy"), np.array([3, 4], np.int64))
np.save(os.path.join(HERE, "shape-4x-1.npy"), np.array([4, -1], np.int64))
np.save(os.path.join(HERE, "x-2x6.npy"), np.arange(12, dtype=np.float32).reshape(2, 6))

np.save(os.path.join(HERE, "x-2x3.npy"), np.arange(6, dtype=np.float32).reshape(2, 3))
np.save(os.path.join(HERE, "x-1x3x8x8.npy"), np.ones((1, 3, 8, 8), np.float32))
np.save(os.path.join(HERE, "x-1x1x4x4.npy"), np.ones((1, 1, 4, 4), np.float32))

# fp16-overflow: values beyond float16's range for quantize(type=fp16,compute=fp16) to
# find (tests/cli/quantize-fp16-scan.sh): on x-4x8 (rows of 1, 2, 3, 4) `big` reaches
# 8 * 4 * 3000 = 96000, `small` reads it, `ln` squares values of 960, `relu` is safe
wb = numpy_helper.from_array(np.full((8, 4), 3000, np.float32), "w")
sc = numpy_helper.from_array(np.array(0.01, np.float32), "s")
bz = numpy_helper.from_array(np.zeros(4, np.float32), "b")
g1 = numpy_helper.from_array(np.ones(4, np.float32), "gamma")
model("fp16-overflow",
      [helper.make_node("MatMul", ["x", "w"], ["m"], name="big"),
       helper.make_node("Mul", ["m", "s"], ["ms"], name="small"),
       helper.make_node("Add", ["ms", "b"], ["a"], name="shift"),
       helper.make_node("LayerNormalization", ["a", "gamma", "b"], ["l"], name="ln", axis=-1),
       helper.make_node("Relu", ["l"], ["y"], name="relu")],
      [f32("x", ["N", 8])], [f32("y", ["N", 4])], [wb, sc, bz, g1])
np.save(os.path.join(HERE, "x-4x8.npy"),
        np.repeat(np.arange(1, 5, dtype=np.float32), 8).reshape(4, 8))

# fp16-cancel: y = 1 / (x - 0.3001), on x-cancel (0.3): -10000 in float32, within
# float16's range, but 0.3 and 0.3001 are the same float16, so computed in float16
# it is inf, which the check after the conversion finds (tests/cli/quantize-fp16-inf.sh)
c3 = numpy_helper.from_array(np.array([0.3001], np.float32), "c")
model("fp16-cancel",
      [helper.make_node("Sub", ["x", "c"], ["d"], name="sub"),
       helper.make_node("Reciprocal", ["d"], ["y"], name="inv")],
      [f32("x", ["N", 1])], [f32("y", ["N", 1])], [c3])
np.save(os.path.join(HERE, "x-cancel.npy"), np.full((2, 1), 0.3, np.float32))

# fp16-resize: Resize's scales are tensor(float) whatever X is, so compute=fp16 leaves
# them float32 (tests/cli/quantize-fp16-resize.sh); roi follows X
sc = numpy_helper.from_array(np.array([1, 1, 1.7, 1.3], np.float32), "scales")
roi = numpy_helper.from_array(np.array([], np.float32), "roi")
model("fp16-resize",
      [helper.make_node("Resize", ["x", "roi", "scales"], ["r"], name="rs", mode="linear"),
       helper.make_node("Relu", ["r"], ["y"], name="relu")],
      [f32("x", [1, 1, 4, 4])], [f32("y", None)], [sc, roi])
