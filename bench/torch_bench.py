#!/usr/bin/env python3
"""Time PyTorch's gradient and double-backprop Hessian-vector product on the
architectures of hesscope's model zoo: development tooling for
bench/torch_compare.sh, never a dependency of hesscope or of its CI.

    python3 bench/torch_bench.py --model lenet5 --batch 128 --threads 2 --reps 10
    python3 bench/torch_bench.py --device cuda --model c1 resnet20 --batch 128 1024 --strict

For one model it builds an equivalent torch.nn.Module (float32, BatchNorm in
eval mode, random initialisation: timings do not depend on the weights), a
random batch and a random direction v, and prints one JSON object with the
median seconds of

  forward   loss = cross_entropy(model(x), y) under torch.no_grad()
  grad      g = torch.autograd.grad(loss, params)
  hvp       g = torch.autograd.grad(loss, params, create_graph=True), then
            Hv = torch.autograd.grad(<g, v>, params): double backprop
  train     a training step on the CPU, as hesscope bench's train_step:
            BatchNorm in train mode (batch statistics, running averages
            updated), loss.backward() and torch.optim.SGD (momentum 0.9)

Double backprop is PyTorch's fastest HVP here: forward-over-reverse
(torch.func.jvp of torch.func.grad over functional_call) gave the same Hv
(to 1e-5) and took 0.98-1.13x as long on lenet5, c1, c2 and resnet20 and
1.34x on resnet18 (2 threads, batch 128, PyTorch 2.15, 2026-12-05).

each run reps times after one warm-up run, with torch.set_num_threads(threads).
Several models and batch sizes give one JSON line per pair.

With --device cuda everything runs on the GPU (the batch and v are there
already; each timed run ends with torch.cuda.synchronize()). PyTorch's
defaults then let cuDNN use TF32 tensor cores for float32 convolutions and
pick nondeterministic algorithms; --strict turns both off
(torch.backends.cudnn.allow_tf32 = False, torch.backends.cuda.matmul.allow_tf32
= False, torch.backends.cudnn.deterministic = True), the rules hesscope's GPU
evaluator follows. --dtype float64 times double precision.
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


def median_seconds(fn, reps, sync=lambda: None):
    fn()  # warm-up
    sync()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, nargs="+", choices=sorted(MODELS))
    ap.add_argument("--batch", type=int, nargs="+", default=[128])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--strict", action="store_true", help="on cuda: no TF32, deterministic cuDNN")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    sync = lambda: None  # noqa: E731
    if a.device == "cuda":
        sync = torch.cuda.synchronize
        if a.strict:
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.deterministic = True
    for name in a.model:
        for batch in a.batch:
            run(a, name, batch, sync)


def run(a, name, batch, sync):
    dtype = getattr(torch, a.dtype)
    torch.manual_seed(1)
    model = MODELS[name]().to(device=a.device, dtype=dtype).eval()
    params = [p for p in model.parameters() if p.requires_grad]
    x = torch.rand(batch, *model.input, device=a.device, dtype=dtype)
    y = torch.randint(0, 10, (batch,), device=a.device)
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
        "model": name,
        "batch": batch,
        "threads": torch.get_num_threads(),
        "device": a.device if a.device == "cpu" else torch.cuda.get_device_name(),
        "dtype": a.dtype,
        "strict": a.strict,
        "torch": torch.__version__,
        "forward_seconds": median_seconds(forward, a.reps, sync),
        "grad_seconds": median_seconds(grad, a.reps, sync),
        "hvp_seconds": median_seconds(hvp, a.reps, sync),
    }
    if a.device == "cpu":
        # Last: it moves the weights and the BatchNorm statistics.
        model.train()
        opt = torch.optim.SGD(params, lr=1e-6, momentum=0.9)

        def train():
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()

        res["train_seconds"] = median_seconds(train, a.reps, sync)
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
