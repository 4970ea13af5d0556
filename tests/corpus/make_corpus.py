#!/usr/bin/python3
"""Write the malformed-model corpus: one small file per way an ONNX model can be wrong.

Run from anywhere as

    /usr/bin/python3 tests/corpus/make_corpus.py

It needs only Debian's python3-onnx and python3-numpy, and writes the same
bytes on every run (fixed seed, no timestamps). Each file must make nnpress
fail with exit code 1 and one line on stderr, `nnpress: error: <path>: <msg>`;
README lists the message each one must produce, and tests/unit/test_onnx.c
checks the reader against that list.
"""

import os
import random
import struct

import numpy as np
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def write(name, data):
    if not isinstance(data, bytes):
        data = data.SerializeToString()
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def model(nodes, inputs=(), outputs=(), inits=(), name="corpus"):
    graph = helper.make_graph(list(nodes), name, list(inputs), list(outputs),
                              initializer=list(inits))
    return helper.make_model(graph, producer_name="make_corpus",
                             opset_imports=[helper.make_opsetid("", 17)])


def vi(name, dims=None, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, dims)


def raw(name, dtype, dims, data):
    t = TensorProto()
    t.name, t.data_type = name, dtype
    t.dims.extend(dims)
    t.raw_data = data
    return t


def with_init(t):
    """A model whose only content is initializer t (and an output reading it)."""
    return model([helper.make_node("Identity", [t.name], ["y"])], [], [vi("y")], [t])


def external(location, offset=None, length=None):
    t = TensorProto()
    t.name, t.data_type = "w", TensorProto.FLOAT
    t.dims.extend([4])
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", offset), ("length", length)):
        if v is not None:
            e = t.external_data.add()
            e.key, e.value = k, v
    return with_init(t)


def mlp():
    """A valid small model the truncated files are cut from (~3 KB)."""
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((16, 32)).astype(np.float32), "fc1.weight")
    b1 = numpy_helper.from_array(np.zeros(32, np.float32), "fc1.bias")
    w2 = numpy_helper.from_array(rng.standard_normal((32, 10)).astype(np.float32), "fc2.weight")
    nodes = [helper.make_node("MatMul", ["x", "fc1.weight"], ["h0"], name="fc1"),
             helper.make_node("Add", ["h0", "fc1.bias"], ["h1"], name="fc1_bias"),
             helper.make_node("Relu", ["h1"], ["h2"], name="relu"),
             helper.make_node("MatMul", ["h2", "fc2.weight"], ["y"], name="fc2")]
    return model(nodes, [vi("x", ["batch", 16])], [vi("y", ["batch", 10])], [w1, b1, w2])


def nested_types(levels):
    """A graph input whose type is a sequence of sequences ... `levels` deep."""
    t = helper.make_tensor_type_proto(TensorProto.FLOAT, [1])
    for _ in range(levels):
        t = helper.make_sequence_type_proto(t)
    x = helper.make_value_info("x", t)
    return model([helper.make_node("Identity", ["x"], ["y"])], [x], [vi("y")])


def main():
    write("empty.onnx", b"")
    write("random.onnx", random.Random(1).randbytes(512))
    good = mlp().SerializeToString()
    for cut in (10, 100, 1000):
        write(f"truncated-{cut}.onnx", good[:cut])
    write("not-protobuf.onnx", b"ONNX model, honest\n")

    m = model([], [], [])
    m.ClearField("graph")
    write("no-graph.onnx", m)

    # tensors whose data does not match their dims
    write("raw-data-short.onnx",
          with_init(raw("fc1.weight", TensorProto.FLOAT, [300, 784], bytes(100))))
    write("raw-data-long.onnx", with_init(raw("w", TensorProto.FLOAT, [2], bytes(12))))
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2, 3])
    t.float_data.extend([1, 2, 3, 4, 5])
    write("float-data-short.onnx", with_init(t))
    write("no-data.onnx",
          with_init(TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[3])))
    t = TensorProto(name="w", data_type=TensorProto.INT64, dims=[2])
    t.float_data.extend([1, 2])
    write("wrong-data-field.onnx", with_init(t))
    write("dim-2pow62.onnx", with_init(raw("w", TensorProto.FLOAT, [2**62], bytes(16))))
    write("dims-overflow.onnx",
          with_init(raw("w", TensorProto.UINT8, [2**62, 2**62, 0], b"")))
    write("dim-negative.onnx", with_init(raw("w", TensorProto.FLOAT, [-3, 2], bytes(24))))
    write("rank-9.onnx", with_init(raw("w", TensorProto.FLOAT, [1] * 9, bytes(4))))
    write("dtype-unknown.onnx", with_init(raw("w", 17, [2], bytes(2))))
    write("dtype-missing.onnx", with_init(raw("w", 0, [2], bytes(8))))
    write("initializer-twice.onnx",
          model([helper.make_node("Identity", ["w"], ["y"])], [], [vi("y")],
                [raw("w", TensorProto.FLOAT, [1], bytes(4)),
                 raw("w", TensorProto.FLOAT, [1], bytes(4))]))
    write("initializer-no-name.onnx", with_init(raw("", TensorProto.FLOAT, [1], bytes(4))))

    # external data that would leave the model's folder, or is not there
    write("external-dotdot.onnx", external("../../etc/passwd"))
    write("external-absolute.onnx", external("/etc/passwd"))
    write("external-missing.onnx", external("no-such-weights.bin"))
    # empty.onnx (0 bytes) is the data file here: 16 bytes at offset 0 are not in it
    write("external-past-end.onnx", external("empty.onnx", "0", "16"))
    write("external-bad-offset.onnx", external("empty.onnx", "-1"))

    # graphs that parse but are not valid
    write("cycle.onnx", model([helper.make_node("Relu", ["b"], ["a"], name="r1"),
                               helper.make_node("Relu", ["a"], ["b"], name="r2")],
                              [], [vi("b")]))
    write("undefined-input.onnx",
          model([helper.make_node("Relu", ["x"], ["y"], name="relu")], [], [vi("y")]))
    write("duplicate-output.onnx",
          model([helper.make_node("Relu", ["x"], ["y"], name="relu1"),
                 helper.make_node("Relu", ["x"], ["y"], name="relu2")],
                [vi("x", [1])], [vi("y", [1])]))
    write("output-undefined.onnx", model([], [vi("x", [1])], [vi("y", [1])]))
    w = numpy_helper.from_array(np.ones((1, 1, 3, 3), np.float32), "W")
    write("attr-wrong-type.onnx",
          model([helper.make_node("Conv", ["X", "W"], ["Y"], name="conv1", group=1.0)],
                [vi("X", [1, 1, 5, 5])], [vi("Y")], [w]))
    node = helper.make_node("Relu", ["x"], ["y"], name="relu")
    node.ClearField("op_type")
    write("no-op-type.onnx", model([node], [vi("x", [1])], [vi("y")]))
    node = helper.make_node("Constant", [], ["y"], name="const")
    node.attribute.add(name="value", type=4)  # TENSOR, but no tensor
    write("attr-tensor-missing.onnx", model([node], [], [vi("y")]))
    write("nested-too-deep.onnx", nested_types(60))
    sparse = helper.make_sparse_tensor(
        helper.make_tensor("w", TensorProto.FLOAT, [1], [1.0]),
        helper.make_tensor("w_idx", TensorProto.INT64, [1], [2]), [4])
    m = model([helper.make_node("Relu", ["w"], ["y"], name="relu")], [], [vi("y")])
    m.graph.sparse_initializer.append(sparse)
    write("sparse-initializer.onnx", m)


if __name__ == "__main__":
    main()
