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
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from hesscope_zoo import MODELS  # noqa: E402 (after the path is set)


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
