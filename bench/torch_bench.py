#!/usr/bin/env python3
"""Time PyTorch's gradient and double-backprop Hessian-vector product on the
architectures of hesscope's model zoo: development tooling for
bench/torch_compare.sh, never a dependency of hesscope or of its CI.

    python3 bench/torch_bench.py --model lenet5 --batch 128 --threads 2 --reps 10

For one model it builds an equivalent torch.nn.Module (float32, BatchNorm in
eval mode, random initialisation: timings do not depend on the weights), a
random batch and a random direction v, and prints one JSON object with the
median seconds of

  forward   loss = cross_entropy(model(x), y) under torch.no_grad()
  grad      g = torch.autograd.grad(loss, params)
  hvp       g = torch.autograd.grad(loss, params, create_graph=True), then
            Hv = torch.autograd.grad(<g, v>, params): double backprop

each run reps times after one warm-up run, with torch.set_num_threads(threads).
"""

import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class MLP(nn.Module):
    """flatten fc1(784,512) relu fc2(512,512) relu fc3."""

    input = (1, 28, 28)

    def __init__(self, classes=10):
        super().__init__()
        self.fc1 = nn.Linear(784, 512)
        self.fc2 = nn.Linear(512, 512)
        self.fc3 = nn.Linear(512, classes)

    def forward(self, x):
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class LeNet5(nn.Module):
    """conv1(5,20) relu pool2 conv2(5,50) relu pool2 fc1(800,500) relu fc2."""

    input = (1, 28, 28)

    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5)
        self.conv2 = nn.Conv2d(20, 50, 5)
        self.fc1 = nn.Linear(800, 500)
        self.fc2 = nn.Linear(500, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2, 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2, 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


class C1(nn.Module):
    """conv1(5,64,pad 2) relu bn1 pool(3,2,1) conv2(5,64,pad 2) relu bn2
    pool(3,2,1) fc1(4096,384) relu fc2(384,192) relu fc3."""

    input = (3, 32, 32)

    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 5, padding=2)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = nn.Conv2d(64, 64, 5, padding=2)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc1 = nn.Linear(4096, 384)
        self.fc2 = nn.Linear(384, 192)
        self.fc3 = nn.Linear(192, classes)

    def forward(self, x):
        x = F.max_pool2d(self.bn1(F.relu(self.conv1(x))), 3, 2, 1)
        x = F.max_pool2d(self.bn2(F.relu(self.conv2(x))), 3, 2, 1)
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class BasicBlock(nn.Module):
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        s = x if self.downsample is None else self.downsample(x)
        return F.relu(h + s)


class ResNet(nn.Module):
    """conv1(3,w) bn1 relu, stages of basic blocks (widths w·2^i, stride 2
    at the start of every stage after the first), global average pool, fc."""

    input = (3, 32, 32)

    def __init__(self, width, blocks, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        layers, cin = [], width
        for s, n in enumerate(blocks):
            cout = width << s
            for i in range(n):
                layers.append(BasicBlock(cin, cout, 2 if i == 0 and s > 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layers(x)
        return self.fc(x.mean((2, 3)))


MODELS = {
    "mlp": MLP,
    "lenet5": LeNet5,
    "c1": C1,
    "resnet20": lambda: ResNet(16, [3, 3, 3]),
}


def median_seconds(fn, reps):
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, choices=sorted(MODELS))
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=10)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = MODELS[a.model]().float().eval()
    params = [p for p in model.parameters() if p.requires_grad]
    x = torch.rand(a.batch, *model.input)
    y = torch.randint(0, 10, (a.batch,))
    v = [torch.randn_like(p) for p in params]

    def forward():
        with torch.no_grad():
            F.cross_entropy(model(x), y)

    def grad():
        loss = F.cross_entropy(model(x), y)
        torch.autograd.grad(loss, params)

    def hvp():
        loss = F.cross_entropy(model(x), y)
        g = torch.autograd.grad(loss, params, create_graph=True)
        gv = sum((gi * vi).sum() for gi, vi in zip(g, v))
        torch.autograd.grad(gv, params)

    res = {
        "model": a.model,
        "batch": a.batch,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "forward_seconds": median_seconds(forward, a.reps),
        "grad_seconds": median_seconds(grad, a.reps),
        "hvp_seconds": median_seconds(hvp, a.reps),
    }
    print(json.dumps(res))


if __name__ == "__main__":
    main()
