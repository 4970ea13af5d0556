#!/usr/bin/python3
"""Write the two small quantized models tests/ort/run.sh holds nnpress to ONNX Runtime on.

    /usr/bin/python3 tests/ort/models/make_quant_ops.py

Needs python3-onnx and python3-numpy (Debian). Seeded: the same files every time.
Both take Fashion-MNIST images [N,1,28,28] (x/255) and return logits [N,10]; the
weights are random integers, not trained: what is tested is the arithmetic.

    qop.onnx  QOperator form: QuantizeLinear to uint8, QLinearConv 8x5x5 stride 2 with
              int8 weights quantized per output channel and an int32 bias, Reshape of
              the uint8 tensor, QLinearMatMul to 10, DequantizeLinear
    dyn.onnx  dynamic form, as ONNX Runtime's quantize_dynamic writes it:
              DynamicQuantizeLinear, ConvInteger (int8 weights, a zero point of 3),
              Cast to float, Mul by the two scales, Relu, Reshape, DynamicQuantizeLinear,
              MatMulInteger (uint8 weights, zero point 128), Cast, Mul
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
FLAT = 8 * 12 * 12  # the convolution's output, flattened


def const(name, value):
    return numpy_helper.from_array(np.asarray(value), name)


def save(name, nodes, inits):
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, ['batch', 1, 28, 28])],
        [helper.make_tensor_value_info('logits', TensorProto.FLOAT, ['batch', 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)],
                              producer_name='nnpress tests')
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, name + '.onnx'))


def qop(rng):
    inits = [
        const('xs', np.float32(1 / 255)), const('xz', np.uint8(0)),
        const('w', rng.integers(-127, 128, (8, 1, 5, 5)).astype(np.int8)),
        const('ws', (rng.random(8) * 0.02 + 0.001).astype(np.float32)),
        const('wz', np.zeros(8, np.int8)),
        const('ys', np.float32(0.0371)), const('yz', np.uint8(7)),
        const('b', rng.integers(-500, 500, 8).astype(np.int32)),
        const('w2', rng.integers(-127, 128, (FLAT, 10)).astype(np.int8)),
        const('w2s', np.float32(0.0123)), const('w2z', np.int8(0)),
        const('zs', np.float32(0.21)), const('zz', np.uint8(128)),
        const('flat', np.array([-1, FLAT], np.int64)),
    ]
    nodes = [
        helper.make_node('QuantizeLinear', ['input', 'xs', 'xz'], ['xq']),
        helper.make_node('QLinearConv', ['xq', 'xs', 'xz', 'w', 'ws', 'wz', 'ys', 'yz', 'b'],
                         ['yq'], strides=[2, 2]),
        helper.make_node('Reshape', ['yq', 'flat'], ['yf']),
        helper.make_node('QLinearMatMul', ['yf', 'ys', 'yz', 'w2', 'w2s', 'w2z', 'zs', 'zz'],
                         ['zq']),
        helper.make_node('DequantizeLinear', ['zq', 'zs', 'zz'], ['logits']),
    ]
    save('qop', nodes, inits)


def dyn(rng):
    inits = [
        const('w', rng.integers(-127, 128, (8, 1, 5, 5)).astype(np.int8)),
        const('wz', np.int8(3)), const('ws', np.float32(0.01)),
        const('w2', rng.integers(0, 256, (FLAT, 10)).astype(np.uint8)),
        const('w2z', np.uint8(128)), const('w2s', np.float32(0.003)),
        const('flat', np.array([-1, FLAT], np.int64)),
    ]
    nodes = [
        helper.make_node('DynamicQuantizeLinear', ['input'], ['xq', 'xs', 'xz']),
        helper.make_node('ConvInteger', ['xq', 'w', 'xz', 'wz'], ['ci'], strides=[2, 2]),
        helper.make_node('Cast', ['ci'], ['cf'], to=TensorProto.FLOAT),
        helper.make_node('Mul', ['xs', 'ws'], ['s1']),
        helper.make_node('Mul', ['cf', 's1'], ['y1']),
        helper.make_node('Relu', ['y1'], ['r1']),
        helper.make_node('Reshape', ['r1', 'flat'], ['f']),
        helper.make_node('DynamicQuantizeLinear', ['f'], ['fq', 'fs', 'fz']),
        helper.make_node('MatMulInteger', ['fq', 'w2', 'fz', 'w2z'], ['mi']),
        helper.make_node('Cast', ['mi'], ['mf'], to=TensorProto.FLOAT),
        helper.make_node('Mul', ['fs', 'w2s'], ['s2']),
        helper.make_node('Mul', ['mf', 's2'], ['logits']),
    ]
    save('dyn', nodes, inits)


if __name__ == '__main__':
    rng = np.random.default_rng(7)
    qop(rng)
    dyn(rng)
