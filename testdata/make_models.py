#!/usr/bin/python3
"""Train the small Fashion-MNIST models nnpress's tests use and export them to ONNX.

Run from anywhere as

    /usr/bin/python3 testdata/make_models.py [--seed 0] [--out DIR]

It needs only Debian packages: python3-torch, python3-onnx, python3-numpy,
and dataset-fashion-mnist (gzip'd IDX files in /usr/share/datasets/
fashion-mnist/).  No network, no torchvision.  It writes, next to itself by default:

    mlp.onnx lenet5.onnx lenet5_bn.onnx resnet.onnx transformer.onnx mlp_wide.onnx
    lenet5_const.onnx lenet5_bn_const.onnx
                 lenet5 and lenet5_bn with every initializer rewritten into a
                 Constant node, as paddle2onnx stores weights (no training)
    models.tsv   one row of reference figures per model
    README       what the models are and the same figures as a table

Two steps run without training (seconds), from the .onnx files already in --out:

    make_models.py --constant-forms   rewrite the *_const models, then as --figures
    make_models.py --figures          recompute params, weight_bytes and file_bytes
                                      of models.tsv and README from the files,
                                      keeping the recorded correct/accuracy

The figures in models.tsv are what nnpress is checked against, so they are
computed the way nnpress will compute them: parameter counts and weight bytes
from the constants stored in the exported ONNX file (not from torch), accuracy on
all 10,000 test images with the only preprocessing nnpress applies, x/255.
"""

import argparse
import collections
import gzip
import os
import random
import re
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import helper

DATA_DIR = "/usr/share/datasets/fashion-mnist"
OPSET = 17  # LayerNormalization exists as one op only from opset 17 on.


# --------------------------------------------------------------------------
# Data

def read_idx(path):
    """Read a gzip'd IDX file into a numpy array.

    Parsed by hand rather than with torchvision so that the script depends only
    on Debian packages and reads exactly the bytes nnpress's own IDX reader
    reads.
    """
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: expected {dims}, found {data.size} bytes")
    return data.reshape(dims)


def load_split(name):
    x = read_idx(os.path.join(DATA_DIR, f"{name}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(DATA_DIR, f"{name}-labels-idx1-ubyte.gz"))
    # x/255 and nothing else: no mean/std normalisation, because the models
    # must be usable on raw IDX data by a tool that only knows this scaling.
    x = torch.from_numpy(x.astype(np.float32) / np.float32(255.0))
    y = torch.from_numpy(y.astype(np.int64))
    return x.reshape(-1, 1, 28, 28), y


# --------------------------------------------------------------------------
# Models

class MLP(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        sizes = [784] + list(hidden) + [10]
        self.layers = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i + 1 < len(self.layers):
                x = F.relu(x)
        return x


class LeNet5(nn.Module):
    """LeNet-5 layout; with bn=True a BatchNorm follows each conv and a
    Dropout precedes the last FC, so the export keeps ops nnpress must
    handle (BatchNormalization, and Dropout if torch emits it)."""

    def __init__(self, bn=False):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.bn1 = nn.BatchNorm2d(6) if bn else nn.Identity()
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.bn2 = nn.BatchNorm2d(16) if bn else nn.Identity()
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.drop = nn.Dropout(0.25) if bn else nn.Identity()
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = torch.flatten(x, 1)  # start_dim=1 exports as a single Flatten
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(self.drop(x))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        # A strided 1x1 projection, so the graph has a skip connection whose
        # two branches are both non-trivial.
        self.short = nn.Identity()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.short(x))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.block1 = BasicBlock(16, 16, 1)   # identity shortcut, 28x28
        self.block2 = BasicBlock(16, 32, 2)   # projection shortcut, 14x14
        self.block3 = BasicBlock(32, 64, 2)   # projection shortcut, 7x7
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.block3(self.block2(self.block1(self.stem(x))))
        # adaptive_avg_pool2d to 1x1 exports as GlobalAveragePool.
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(torch.flatten(x, 1))


class Attention(nn.Module):
    """Multi-head self-attention written out by hand: nn.MultiheadAttention
    exports with extra shape arithmetic and packed weights, and the tests
    want a plain MatMul/Softmax graph."""

    def __init__(self, dim, heads, tokens):
        super().__init__()
        self.heads, self.tokens, self.hd = heads, tokens, dim // heads
        self.scale = self.hd ** -0.5
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)

    def split(self, x):
        # -1 for the batch and Python ints elsewhere, so each Reshape gets a
        # constant shape instead of a Shape/Gather/Concat chain.
        return x.reshape(-1, self.tokens, self.heads, self.hd).transpose(1, 2)

    def forward(self, x):
        q, k, v = self.split(self.q(x)), self.split(self.k(x)), self.split(self.v(x))
        att = torch.softmax(torch.matmul(q, k.transpose(2, 3)) * self.scale, dim=-1)
        y = torch.matmul(att, v).transpose(1, 2)
        return self.out(y.reshape(-1, self.tokens, self.heads * self.hd))


class EncoderBlock(nn.Module):
    def __init__(self, dim, heads, tokens, mlp_dim):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.att = Attention(dim, heads, tokens)
        self.ln2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, mlp_dim)
        self.fc2 = nn.Linear(mlp_dim, dim)

    def forward(self, x):
        x = x + self.att(self.ln1(x))  # pre-norm
        # Exact (erf) GELU: the tanh approximation exports as a different
        # subgraph, and a runtime must match the exact one.
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="none"))


class Transformer(nn.Module):
    def __init__(self, dim=48, heads=4, depth=2, mlp_dim=96, patch=7):
        super().__init__()
        self.dim = dim
        self.tokens = (28 // patch) ** 2
        self.embed = nn.Conv2d(1, dim, patch, stride=patch)
        self.pos = nn.Parameter(torch.zeros(1, self.tokens, dim))
        nn.init.normal_(self.pos, std=0.02)
        self.blocks = nn.ModuleList(
            EncoderBlock(dim, heads, self.tokens, mlp_dim) for _ in range(depth))
        self.ln = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, 10)

    def forward(self, x):
        x = self.embed(x)                                   # [B, dim, 4, 4]
        x = x.reshape(-1, self.dim, self.tokens).transpose(1, 2) + self.pos
        for b in self.blocks:
            x = b(x)
        return self.fc(self.ln(x.mean(dim=1)))


# --------------------------------------------------------------------------
# Training and evaluation

def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train(model, x, y, flat, epochs, lr, seed, batch):
    # Each model gets its own seed and its own shuffling generator, so that
    # its weights do not depend on which other models were trained before it.
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * ((len(x) + batch - 1) // batch)
    # Cosine decay to zero: a few epochs then reach the accuracy that a
    # constant rate needs many more for, which keeps the script fast.
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=steps, pct_start=0.1,
        anneal_strategy="cos", cycle_momentum=False)
    if flat:
        x = x.reshape(len(x), -1)
    model.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        print(f"    epoch {epoch + 1}/{epochs}  loss {total / len(x):.4f}",
              flush=True)
    model.eval()


@torch.no_grad()
def count_correct(model, x, y, flat):
    model.eval()
    if flat:
        x = x.reshape(len(x), -1)
    correct = 0
    for i in range(0, len(x), 1000):
        correct += int((model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum())
    return correct


def percent(correct, total):
    """Accuracy in percent with exactly two decimals, rounded half up in
    integer arithmetic so that no float formatting can disagree with it."""
    hundredths = (correct * 10000 * 2 + total) // (2 * total)
    return f"{hundredths // 100}.{hundredths % 100:02d}"


# --------------------------------------------------------------------------
# Export and inspection

def export(model, path, flat, keep_bn):
    model.eval()
    dummy = torch.zeros(1, 784) if flat else torch.zeros(1, 1, 28, 28)
    # torch's default EVAL export folds BatchNorm into the preceding Conv.
    # PRESERVE (with the model in eval mode) skips that peephole pass, so the
    # graph keeps inference-mode BatchNormalization nodes with the trained
    # running statistics.  torch warns that constant folding may alter
    # parameters in that mode; the CNN has nothing to fold, so it is off.
    training = (torch.onnx.TrainingMode.PRESERVE if keep_bn
                else torch.onnx.TrainingMode.EVAL)
    torch.onnx.export(
        model, dummy, path,
        opset_version=OPSET,
        training=training,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        do_constant_folding=not keep_bn)
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    return m


def stored_tensors(m):
    """Every constant tensor the file stores, in either form an exporter uses:
    initializers, and the `value` tensor of Constant nodes.  The same rule as
    nnpress's nnp_value_data() (kernels/graph.h): a Constant counts when it is
    in the default domain and has exactly one value attribute, `value`;
    value_float(s)/value_int(s)/value_string(s) and sparse_value do not."""
    yield from m.graph.initializer
    for n in m.graph.node:
        if n.op_type != "Constant" or n.domain not in ("", "ai.onnx"):
            continue
        values = [a for a in n.attribute if a.name.startswith("value") or a.name == "sparse_value"]
        if len(values) == 1 and values[0].name == "value":
            yield values[0].t


def weight_figures(m):
    """params and weight_bytes summed over every stored constant of the file,
    whatever its type (shape constants are int64 tensors too)."""
    params = weight_bytes = 0
    for t in stored_tensors(m):
        if t.data_location == onnx.TensorProto.EXTERNAL:
            raise ValueError(f"{t.name}: external data not expected")
        n = int(np.prod(t.dims, dtype=np.int64))  # dims == [] is a scalar: 1
        size = np.dtype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[t.data_type]).itemsize
        params += n
        weight_bytes += n * size
    return params, weight_bytes


def op_histogram(m):
    return collections.Counter(n.op_type for n in m.graph.node)


def constant_form(src, dst):
    """Rewrite the model at src with every initializer stored as a Constant
    node instead (paddle2onnx, and older PyTorch and TensorFlow converters,
    store weights that way), and save it at dst.

    The Constants come first, in initializer order, each writing the value the
    initializer was called by and holding that same TensorProto (its name
    included, as paddle2onnx writes it).  Nothing else changes: the network
    computes exactly what src computes.  No randomness, no timestamps: the same
    src gives the same bytes."""
    m = onnx.load(src)
    g = m.graph
    consts = [helper.make_node("Constant", [], [t.name], name=f"Constant_{i}", value=t)
              for i, t in enumerate(g.initializer)]
    nodes = consts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    del g.initializer[:]
    m.doc_string = (f"{os.path.basename(src)} with every initializer stored as a "
                    "Constant node, by testdata/make_models.py --constant-forms")
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, dst)
    return m


def check_graph(name, m, hist):
    """Fail loudly if an export lost what the model is in the set for."""
    if name == "lenet5_bn":
        bns = [n for n in m.graph.node if n.op_type == "BatchNormalization"]
        if len(bns) != 2:
            sys.exit(f"{name}: expected 2 BatchNormalization nodes, found {len(bns)}")
        for n in bns:
            modes = [a.i for a in n.attribute if a.name == "training_mode"]
            if modes and modes[0] != 0 or len(n.output) != 1:
                sys.exit(f"{name}: BatchNormalization exported in training mode")
    if name == "transformer":
        if hist["LayerNormalization"] == 0:
            sys.exit(f"{name}: no LayerNormalization node")
        if hist["Softmax"] == 0 or hist["Erf"] == 0:
            sys.exit(f"{name}: attention Softmax or erf GELU missing")
    if name == "resnet" and hist["GlobalAveragePool"] != 1:
        sys.exit(f"{name}: expected one GlobalAveragePool")
    io = [(v.name, [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim])
          for v in list(m.graph.input) + list(m.graph.output)]
    if io[0][0] != "input" or io[-1][0] != "logits" or len(io) != 2:
        sys.exit(f"{name}: unexpected graph inputs/outputs {io}")
    if io[0][1][0] != "batch" or io[1][1] != ["batch", 10]:
        sys.exit(f"{name}: batch axis not dynamic: {io}")


# --------------------------------------------------------------------------

# name, constructor, flat input?, epochs, batch size, peak learning rate,
# keep BN in export?, description for the README.  Epochs are chosen to keep
# the whole script near ten minutes on two cores; larger batches for the
# transformer and the wide MLP because their step overhead dominates.
MODELS = [
    ("mlp", lambda: MLP([300, 100]), True, 8, 128, 2e-3, False,
     "LeNet-300-100 MLP: Gemm 784-300-100-10, ReLU between. Input [batch,784]."),
    ("lenet5", lambda: LeNet5(bn=False), False, 6, 128, 3e-3, False,
     "LeNet-5 CNN: Conv 6x5x5 pad 2, ReLU, MaxPool 2, Conv 16x5x5, ReLU,\n"
     "MaxPool 2, Flatten, Gemm 400-120-84-10. Input [batch,1,28,28]."),
    ("lenet5_bn", lambda: LeNet5(bn=True), False, 6, 128, 3e-3, True,
     "The same CNN with BatchNormalization after each Conv (kept as separate\n"
     "inference-mode nodes with trained running statistics, not folded into\n"
     "the Conv) and Dropout 0.25 before the last Gemm (dropped by the export,\n"
     "as it is an identity at inference). Input [batch,1,28,28]."),
    ("resnet", ResNet, False, 3, 128, 3e-3, False,
     "Small ResNet: stem Conv 16x3x3, three basic blocks (Conv-BN-ReLU-Conv-BN\n"
     "plus skip, Add, ReLU) of 16, 32 and 64 channels, the last two strided\n"
     "with a 1x1 strided projection shortcut, GlobalAveragePool, Gemm 64-10.\n"
     "BatchNorm is folded into the Convs by the export. Input [batch,1,28,28]."),
    ("transformer", Transformer, False, 8, 256, 3e-3, False,
     "Tiny pre-norm transformer encoder: 7x7 patches embedded by a stride-7\n"
     "Conv to 16 tokens of dim 48, learned positional embedding (Add), two\n"
     "blocks of LayerNormalization, hand-written 4-head self-attention (MatMul\n"
     "q/k/v, scaled MatMul, Softmax, MatMul, output projection) and an MLP\n"
     "48-96-48 with exact erf GELU, then mean over tokens (ReduceMean),\n"
     "LayerNormalization and a 48-10 classifier. Input [batch,1,28,28]."),
    ("mlp_wide", lambda: MLP([1200, 1200]), True, 4, 256, 1e-3, False,
     "Wide MLP 784-1200-1200-10 with ReLU, meant as a distillation teacher.\n"
     "Input [batch,784]."),
]

# name, the trained model it is rewritten from, description for the README.
# Not trained: the same network and weights with every initializer moved into
# a Constant node (constant_form), so its correct/accuracy are the source's.
CONSTANT_FORMS = [
    ("lenet5_const", "lenet5",
     "lenet5.onnx with every initializer stored as a Constant node instead,\n"
     "as paddle2onnx and older converters write weights. Same outputs."),
    ("lenet5_bn_const", "lenet5_bn",
     "lenet5_bn.onnx the same way: Conv weights and BatchNormalization\n"
     "parameters all come from Constant nodes. Same outputs."),
]


def write_readme(path, rows, seed):
    # the section `make quant-table` writes at the end is kept as it is
    kept = []
    if os.path.exists(path):
        with open(path) as f:
            old = f.read().split("\n")
        for i, line in enumerate(old):
            if line.startswith("Quantized, by make quant-table"):
                kept = old[i:]
                break
    lines = [
        "testdata/ — small real models for nnpress's tests",
        "",
        "Six classifiers for Fashion-MNIST (28x28 grey images, 10 classes),",
        "trained with PyTorch and exported to ONNX (opset 17) by make_models.py,",
        "and two of them again with their weights stored as Constant nodes",
        "(the *_const files, rewritten from the exports, not trained).",
        "Every model takes `input` with a dynamic first axis `batch` and returns",
        "`logits` [batch,10] (no softmax). Preprocessing is x/255 to float32 and",
        "nothing else: no mean/std normalisation. Labels are 0..9.",
        "",
    ]
    for name, *_, desc in MODELS + CONSTANT_FORMS:
        lines.append(f"{name}.onnx")
        lines += ["    " + d for d in desc.split("\n")]
        lines.append("")
    lines += [
        "Figures (models.tsv holds the same, tab-separated):",
        "  params        element count summed over all constants stored in the",
        "                file, initializers and Constant node values alike (so",
        "                the transformer's Reshape shapes and scalar factors,",
        "                which are Constant nodes, count too)",
        "  weight_bytes  element count x element size summed over the same",
        "  file_bytes    size of the .onnx file",
        "  correct       right answers on the 10,000 t10k test images (fp32,",
        "                computed by the trained torch model in eval mode; for a",
        "                *_const model copied from the model it was rewritten",
        "                from, as it is the same network with the same weights:",
        "                this python3-onnx has no reference evaluator to",
        "                recompute it, and tests/ort/agree.sh checks it by",
        "                running the file)",
        "  accuracy      correct/10000 in percent, two decimals",
        "",
    ]
    header = ["model", "params", "weight_bytes", "file_bytes", "correct", "accuracy"]
    table = [header] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for j, r in enumerate(table):
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        lines.append("  " + "  ".join(cells).rstrip())
        if j == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    lines += [
        "",
        "To regenerate (about ten minutes on two cores, no network needed):",
        "",
        "    /usr/bin/python3 testdata/make_models.py",
        "",
        "It needs the Debian packages python3-torch, python3-onnx,",
        "python3-numpy and dataset-fashion-mnist (the IDX files in",
        f"{DATA_DIR}/). Seeds are fixed (these files: --seed {seed}) and",
        "torch runs deterministic algorithms on 2 threads, so a rerun with the",
        "same package versions gives the same weights; it rewrites every file",
        "here, so commit them together.",
        "Without training, in seconds, from the .onnx files here:",
        "",
        "    /usr/bin/python3 testdata/make_models.py --constant-forms",
        "    /usr/bin/python3 testdata/make_models.py --figures",
        "",
        "The first rewrites the *_const files (byte-identical on every run)",
        "and then does what the second does: recompute params, weight_bytes",
        "and file_bytes of models.tsv and this table from the files, keeping",
        "correct and accuracy as recorded.",
        "Use /usr/bin/python3: another python3 earlier on PATH may not see",
        "Debian's packages.",
        "",
    ] + kept
    with open(path, "w") as f:
        f.write("\n".join(lines))


def write_tables(out, rows, seed):
    with open(os.path.join(out, "models.tsv"), "w") as f:
        f.write("model\tparams\tweight_bytes\tfile_bytes\tcorrect\taccuracy\n")
        for r in rows:
            f.write("\t".join(str(c) for c in r) + "\n")
    write_readme(os.path.join(out, "README"), rows, seed)


def figure_rows(out, results):
    """One models.tsv row per model: params, weight_bytes and file_bytes from the
    file as it is now, correct and accuracy from results (name -> (correct,
    accuracy)); a constant form takes those of the model it was rewritten from."""
    rows = []
    names = [(m[0], m[0]) for m in MODELS] + [(name, src) for name, src, _ in CONSTANT_FORMS]
    for name, src in names:
        path = os.path.join(out, f"{name}.onnx")
        params, wbytes = weight_figures(onnx.load(path))
        correct, acc = results[src]
        rows.append((name, params, wbytes, os.path.getsize(path), correct, acc))
    return rows


def recorded_results(out):
    """correct and accuracy of every trained model, as models.tsv records them."""
    path = os.path.join(out, "models.tsv")
    results = {}
    with open(path) as f:
        for line in f.read().splitlines()[1:]:
            name, _, _, _, correct, acc = line.split("\t")
            results[name] = (int(correct), acc)
    missing = [m[0] for m in MODELS if m[0] not in results]
    if missing:
        sys.exit(f"{path}: no row for {', '.join(missing)}; train them first")
    return results


def recorded_seed(out, default):
    """The seed the README says the trained files were made with."""
    try:
        with open(os.path.join(out, "README")) as f:
            found = re.search(r"these files: --seed (\d+)\)", f.read())
    except FileNotFoundError:
        found = None
    return int(found.group(1)) if found else default


def make_constant_forms(out, only=None):
    for name, src, _ in CONSTANT_FORMS:
        if only and src not in only:
            continue
        src_path = os.path.join(out, f"{src}.onnx")
        m = constant_form(src_path, os.path.join(out, f"{name}.onnx"))
        n_init = len(onnx.load(src_path).graph.initializer)
        hist = op_histogram(m)
        if m.graph.initializer or hist["Constant"] != n_init:
            sys.exit(f"{name}: expected {n_init} Constant nodes and no initializer")
        check_graph(name, m, hist)
        print(f"{name}: {n_init} initializers of {src} as Constant nodes", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--only", nargs="*", help="train and export only these models (and "
                      "their constant forms), without models.tsv and README (for trying changes)")
    mode.add_argument("--constant-forms", action="store_true", help="no training: rewrite "
                      "the *_const models from the exported files, then as --figures")
    mode.add_argument("--figures", action="store_true", help="no training: recompute params, "
                      "weight_bytes and file_bytes of models.tsv and README from the files")
    args = ap.parse_args()

    if args.constant_forms or args.figures:
        if args.constant_forms:
            make_constant_forms(args.out)
        rows = figure_rows(args.out, recorded_results(args.out))
        write_tables(args.out, rows, recorded_seed(args.out, args.seed))
        for r in rows:
            print("\t".join(str(c) for c in r))
        return

    # Same thread count and deterministic kernels on every run: CPU reductions
    # split across threads, so a different count can change the last bits.
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)

    start = time.time()
    xtr, ytr = load_split("train")
    xte, yte = load_split("t10k")

    results, hists = {}, {}
    for k, (name, make, flat, epochs, batch, lr, keep_bn, _) in enumerate(MODELS):
        if args.only and name not in args.only:
            continue
        t0 = time.time()
        print(f"{name}: training {epochs} epochs", flush=True)
        seed_everything(args.seed * 1000 + k)
        model = make()
        train(model, xtr, ytr, flat, epochs, lr, args.seed * 1000 + k, batch)
        correct = count_correct(model, xte, yte, flat)
        path = os.path.join(args.out, f"{name}.onnx")
        m = export(model, path, flat, keep_bn)
        hists[name] = op_histogram(m)
        check_graph(name, m, hists[name])
        params, _ = weight_figures(m)
        results[name] = (correct, percent(correct, len(yte)))
        print(f"{name}: {results[name][1]}% ({correct}/{len(yte)}), {params} params, "
              f"{time.time() - t0:.1f} s", flush=True)

    # the constant forms of what was trained, so that they never disagree with it
    make_constant_forms(args.out, args.only)
    if args.only:
        # A partial run must not leave a models.tsv or README that lists only
        # some of the models.
        return
    write_tables(args.out, figure_rows(args.out, results), args.seed)

    for name, h in hists.items():
        print(f"{name} ops: " + ", ".join(f"{op} {n}" for op, n in sorted(h.items())))
    print(f"total {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
