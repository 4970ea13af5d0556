"""tests/bench/make_torchvision.py — torchvision networks for the benchmark, made at bench time.

    /usr/bin/python3 tests/bench/make_torchvision.py NAME OUT.onnx [--seed 0]

NAME is resnet18 or mobilenet_v2: torchvision's architecture with random
weights (weights=None, nothing is downloaded), exported in eval mode by
torch.onnx.export at opset 17. Input `input` [batch, 3, 224, 224], output
`logits` [batch, 1000]; only the batch dimension is symbolic.

The weights are torchvision's own initialisation after torch.manual_seed(SEED),
except for the BatchNormalization layers, which are given what training would
give them: a random scale and shift, and the mean and variance of one batch of
random images (standard normal) run through the network in training mode.
Without that, every bias of the exported model (BatchNormalization folded into
Conv) would be zero, and mobilenet_v2's activations would shrink to about 1e-9
(its depthwise weights are initialised for 9 x channels inputs, not 9), so that
ReLU6's upper bound is never reached: a weaker test of a runtime than a trained
network is. With it, activations stay of order 1 from layer to layer.

The same NAME and SEED give the same bytes on every run (checked with cmp).
Uses Debian's python3-torch and python3-torchvision through /usr/bin/python3
(tests/bench/deps.sh); takes a few seconds.
"""
import argparse
import os
import sys

import torch
import torchvision

NETWORKS = {
    "resnet18": torchvision.models.resnet18,
    "mobilenet_v2": torchvision.models.mobilenet_v2,
}
CALIBRATION_BATCH = 16  # images whose statistics the BatchNormalization layers keep


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("name", choices=sorted(NETWORKS))
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    # one thread and deterministic algorithms: the export traces the model once,
    # and nothing it writes may depend on how that run was scheduled
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(args.seed)
    model = NETWORKS[args.name](weights=None)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.2)
                m.reset_running_stats()
                m.momentum = None  # a plain average over the batches seen: here, one
        model.train()
        model(torch.randn(CALIBRATION_BATCH, 3, 224, 224))
    model.eval()
    example = torch.zeros(1, 3, 224, 224)

    tmp = args.out + ".tmp"
    with torch.no_grad():
        torch.onnx.export(model, example, tmp, opset_version=17,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                          do_constant_folding=True, export_params=True)
    os.replace(tmp, args.out)  # never a partial model


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # one line, not a traceback, as the other bench scripts fail
        print(f"make_torchvision: error: {e}", file=sys.stderr)
        sys.exit(1)
