#!/usr/bin/python3
"""Write the small ONNX fixtures that tests/unit/test_onnx.c reads.

Run from anywhere as

    /usr/bin/python3 tests/data/onnx/make_fixtures.py

It needs only Debian's python3-onnx and python3-numpy and writes, next to
itself, byte-identical files on every run (no randomness, no timestamps):

    storage.onnx      one initializer per TensorProto storage form and dtype
                      (raw_data, float_data, int32_data packing of int8/uint8/
                      int16/uint16/bool/float16/bfloat16, int64_data,
                      double_data, uint64_data, string_data, complex), with the
                      values test_onnx.c expects
    kept.onnx         everything the IR keeps without interpreting it: doc
                      strings, metadata, a function, a sequence-typed input,
                      symbolic dims with a denotation, an If whose branches read
                      outer values, a tensor attribute, an unknown field
    external/model.onnx + external/weights.bin + external/sub/bias.bin
                      initializers in external data (offset/length, no length,
                      a subfolder)
    tensor.pb         a standalone TensorProto (as in ONNX's node tests)
"""

import os
import struct

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def save(model, path):
    with open(os.path.join(HERE, path), "wb") as f:
        f.write(model.SerializeToString())


def tensor(name, dtype, dims, **fields):
    """A TensorProto with the given data fields set as they are, no conversion."""
    t = TensorProto()
    t.name = name
    t.data_type = dtype
    t.dims.extend(dims)
    for k, v in fields.items():
        if k == "raw_data":
            t.raw_data = v
        else:
            getattr(t, k).extend(v)
    return t


def storage_model():
    f16 = np.array([1.0, -2.0, 0.5], dtype=np.float16).view(np.uint16).tolist()
    inits = [
        tensor("f32_raw", TensorProto.FLOAT, [2, 3],
               raw_data=np.arange(6, dtype="<f4").tobytes()),
        tensor("f32_typed", TensorProto.FLOAT, [2, 3], float_data=[0, 1, 2, 3, 4, 5]),
        tensor("f64_typed", TensorProto.DOUBLE, [2], double_data=[1.5, -2.25]),
        tensor("i32_typed", TensorProto.INT32, [3], int32_data=[-1, 0, 2147483647]),
        tensor("i8_typed", TensorProto.INT8, [4], int32_data=[-128, -1, 0, 127]),
        tensor("u8_typed", TensorProto.UINT8, [3], int32_data=[0, 128, 255]),
        tensor("i16_typed", TensorProto.INT16, [2], int32_data=[-32768, 32767]),
        tensor("u16_typed", TensorProto.UINT16, [2], int32_data=[0, 65535]),
        tensor("bool_typed", TensorProto.BOOL, [3], int32_data=[1, 0, 1]),
        tensor("f16_typed", TensorProto.FLOAT16, [3], int32_data=f16),
        tensor("bf16_typed", TensorProto.BFLOAT16, [2], int32_data=[0x3F80, 0xC000]),
        tensor("i64_typed", TensorProto.INT64, [2], int64_data=[-(2**63), 2**63 - 1]),
        tensor("u32_typed", TensorProto.UINT32, [2], uint64_data=[0, 4294967295]),
        tensor("u64_typed", TensorProto.UINT64, [2], uint64_data=[0, 2**64 - 1]),
        tensor("str_typed", TensorProto.STRING, [2], string_data=[b"ab", b""]),
        tensor("c64_typed", TensorProto.COMPLEX64, [2], float_data=[1, 2, 3, 4]),
        tensor("c128_typed", TensorProto.COMPLEX128, [1], double_data=[5, 6]),
        tensor("i64_raw", TensorProto.INT64, [2],
               raw_data=struct.pack("<qq", -5, 7)),
        tensor("f16_raw", TensorProto.FLOAT16, [3],
               raw_data=np.array(f16, dtype="<u2").tobytes()),
        tensor("scalar", TensorProto.FLOAT, [], float_data=[42]),
        tensor("empty", TensorProto.FLOAT, [0, 3]),
    ]
    out = helper.make_tensor_value_info("f32_raw", TensorProto.FLOAT, [2, 3])
    graph = helper.make_graph([], "storage", [], [out], initializer=inits)
    return helper.make_model(graph, producer_name="make_fixtures",
                             opset_imports=[helper.make_opsetid("", 17)])


def kept_model():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    x.type.tensor_type.shape.dim[0].denotation = "DATA_BATCH"
    x.doc_string = "the input"
    seq = helper.make_tensor_sequence_value_info("s", TensorProto.FLOAT, None)
    cond = helper.make_tensor_value_info("cond", TensorProto.BOOL, [])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    w = numpy_helper.from_array(np.full((4,), 2.0, dtype=np.float32), "w")
    w.doc_string = "a weight"

    # the branches read x and w from the outer graph
    then_out = helper.make_tensor_value_info("t_out", TensorProto.FLOAT, None)
    then_g = helper.make_graph([helper.make_node("Mul", ["x", "w"], ["t_out"])], "then",
                               [], [then_out])
    else_out = helper.make_tensor_value_info("e_out", TensorProto.FLOAT, None)
    else_g = helper.make_graph([helper.make_node("Identity", ["x"], ["e_out"])], "else",
                               [], [else_out])
    if_node = helper.make_node("If", ["cond"], ["y_if"], name="branch",
                               then_branch=then_g, else_branch=else_g)
    if_node.doc_string = "pick one"
    const = helper.make_node("Constant", [], ["c"], name="const",
                             value=helper.make_tensor("cval", TensorProto.FLOAT, [2],
                                                   np.array([1, 2], "<f4").tobytes(), raw=True))
    add = helper.make_node("Add", ["y_if", "x"], ["y"], name="add")
    vi = helper.make_tensor_value_info("y_if", TensorProto.FLOAT, ["batch", None])
    graph = helper.make_graph([if_node, const, add], "kept", [x, seq, cond], [y],
                              initializer=[w], value_info=[vi], doc_string="graph doc")
    fn = helper.make_function("custom", "Twice", ["a"], ["b"],
                              [helper.make_node("Add", ["a", "a"], ["b"])],
                              [helper.make_opsetid("", 17)])
    model = helper.make_model(graph, producer_name="make_fixtures", producer_version="1",
                              doc_string="model doc", functions=[fn],
                              opset_imports=[helper.make_opsetid("", 17),
                                             helper.make_opsetid("custom", 1)])
    model.model_version = 3
    helper.set_model_props(model, {"author": "nnpress", "license": "MIT"})
    data = model.SerializeToString()
    # an unknown field (number 1000, varint 7) at the end of the ModelProto
    return data + bytes([0xC0, 0x3E, 0x07])


def external_model():
    os.makedirs(os.path.join(HERE, "external", "sub"), exist_ok=True)
    w = np.arange(6, dtype="<f4").reshape(2, 3)
    v = np.array([-1, 1], dtype="<i8")
    with open(os.path.join(HERE, "external", "weights.bin"), "wb") as f:
        f.write(b"\0" * 8)            # 8 bytes of padding before w
        f.write(w.tobytes())          # offset 8, length 24
        f.write(v.tobytes())          # offset 32, to the end (no length)
    b = np.array([0.5, 0.25, 0.125], dtype="<f4")
    with open(os.path.join(HERE, "external", "sub", "bias.bin"), "wb") as f:
        f.write(b.tobytes())

    def ext(name, dtype, dims, **kv):
        t = tensor(name, dtype, dims)
        t.data_location = TensorProto.EXTERNAL
        for k, val in kv.items():
            e = t.external_data.add()
            e.key, e.value = k, val
        return t

    inits = [
        ext("w", TensorProto.FLOAT, [2, 3], location="weights.bin", offset="8", length="24"),
        ext("v", TensorProto.INT64, [2], location="weights.bin", offset="32"),
        ext("b", TensorProto.FLOAT, [3], location="sub/bias.bin"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])
    nodes = [helper.make_node("MatMul", ["x", "w"], ["xw"]),
             helper.make_node("Add", ["xw", "b"], ["y"])]
    graph = helper.make_graph(nodes, "external", [x], [y], initializer=inits)
    return helper.make_model(graph, producer_name="make_fixtures",
                             opset_imports=[helper.make_opsetid("", 17)])


def main():
    save(storage_model(), "storage.onnx")
    with open(os.path.join(HERE, "kept.onnx"), "wb") as f:
        f.write(kept_model())
    save(external_model(), os.path.join("external", "model.onnx"))
    t = numpy_helper.from_array(np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32), "input")
    with open(os.path.join(HERE, "tensor.pb"), "wb") as f:
        f.write(t.SerializeToString())


if __name__ == "__main__":
    main()
