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
  hv_retained  Hv = torch.autograd.grad(g, params, grad_outputs=v,
            retain_graph=True) on a g built once: PyHessian's product on
            one batch, what its eigensolvers repeat (hesscope's, on a kept
            pass: bench's hv_retained_seconds)
  train     a training step on the CPU, as hesscope bench's train_step:
            BatchNorm in train mode (batch statistics, running averages
            updated), loss.backward() and torch.optim.SGD (momentum 0.9)

Double backprop is PyTorch's fastest HVP here: forward-over-reverse
(torch.func.jvp of torch.func.grad over functional_call) gave the same Hv
(to 1e-5) and took 0.98-1.13x as long on lenet5, c1, c2 and resnet20 and
1.34x on resnet18 (2 threads, batch 128, PyTorch 2.15, 2026-12-05).

each run reps times after warm-up runs (at least one, for at least 0.2 s, as
hesscope bench), with torch.set_num_threads(threads).
Several models and batch sizes give one JSON line per pair.

PyTorch's speed depends on the memory format: on this CPU channels_last
(oneDNN's blocked convolutions) made ResNet-20's gradient 0.68-0.80x and its
HVP 1.17-1.19x the contiguous time (2 threads, 2026-12-06). The default,
--memory-format best, times every quantity in both formats, one after the
other in this process, and reports the faster median as <quantity>_seconds
(the best peer), with both formats' medians under "by_format" and the
winner of each under "formats". --memory-format contiguous or channels_last
times one format.

--compile adds torch.compile's gradient and training step
(grad_compiled_seconds, train_compiled_seconds; each format's warm-up
compiles, about 30 s a model). The HVP cannot be compiled: double backprop
through a compiled graph is refused by PyTorch ("compiled with non-empty
donated buffers which requires create_graph=False").

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


WARMUP_SECONDS = 0.2  # as hesscope bench: each quantity runs this long (at least once) before it is timed


def median_seconds(fn, reps, sync=lambda: None):
    t0 = time.perf_counter()
    while True:  # warm-up
        fn()
        sync()
        if time.perf_counter() - t0 >= WARMUP_SECONDS:
            break
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def positive(v):
    """A whole number of at least 1, for argparse: 0 or less is refused in
    one line, before any work."""
    try:
        n = int(v)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{v}: want a whole number of at least 1")
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, nargs="+", choices=sorted(MODELS))
    ap.add_argument("--batch", type=positive, nargs="+", default=[128])
    ap.add_argument("--threads", type=positive, default=2)
    ap.add_argument("--reps", type=positive, default=10)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--strict", action="store_true", help="on cuda: no TF32, deterministic cuDNN")
    ap.add_argument("--memory-format", default="best", choices=["best"] + FORMATS,
                    help="best: both formats, the faster of each quantity")
    ap.add_argument("--compile", action="store_true", help="also torch.compile's gradient and training step")
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


FORMATS = ["contiguous", "channels_last"]
QUANTITIES = ["forward", "grad", "hvp", "hv_retained", "train", "grad_compiled", "train_compiled"]


def run(a, name, batch, sync):
    formats = FORMATS if a.memory_format == "best" else [a.memory_format]
    by_format = {f: measure(a, name, batch, sync, f) for f in formats}
    res = {
        "model": name,
        "batch": batch,
        "threads": torch.get_num_threads(),
        "device": a.device if a.device == "cpu" else torch.cuda.get_device_name(),
        "dtype": a.dtype,
        "strict": a.strict,
        "torch": torch.__version__,
        "memory_format": a.memory_format,
        "formats": {},
    }
    for q in QUANTITIES:
        key = q + "_seconds"
        have = [f for f in formats if key in by_format[f]]
        if have:
            best = min(have, key=lambda f: by_format[f][key])
            res[key] = by_format[best][key]
            res["formats"][q] = best
    if len(formats) > 1:
        res["by_format"] = by_format
    print(json.dumps(res), flush=True)


def measure(a, name, batch, sync, fmt):
    """Median seconds of every quantity with the model and batch in memory
    format fmt (a fresh model from the same seed, so that the training step
    of an earlier format has not moved its weights)."""
    dtype = getattr(torch, a.dtype)
    mf = torch.channels_last if fmt == "channels_last" else torch.contiguous_format
    torch.manual_seed(1)
    model = MODELS[name]().to(device=a.device, dtype=dtype).eval()
    x = torch.rand(batch, *model.input, device=a.device, dtype=dtype)
    if x.dim() == 4:
        model = model.to(memory_format=mf)
        x = x.contiguous(memory_format=mf)
    params = [p for p in model.parameters() if p.requires_grad]
    y = torch.randint(0, 10, (batch,), device=a.device)
    v = [torch.randn_like(p) for p in params]

    def loss_of(x, y):
        return F.cross_entropy(model(x), y)

    def forward():
        with torch.no_grad():
            loss_of(x, y)

    def grad_with(f):
        return lambda: torch.autograd.grad(f(x, y), params)

    def hvp():
        g = torch.autograd.grad(loss_of(x, y), params, create_graph=True)
        gv = sum((gi * vi).sum() for gi, vi in zip(g, v))
        torch.autograd.grad(gv, params)

    res = {
        "forward_seconds": median_seconds(forward, a.reps, sync),
        "grad_seconds": median_seconds(grad_with(loss_of), a.reps, sync),
        "hvp_seconds": median_seconds(hvp, a.reps, sync),
    }
    # PyHessian's product on one batch: the gradient's graph is built once
    # and every product is its backward alone (retain_graph).
    g = torch.autograd.grad(loss_of(x, y), params, create_graph=True)

    def hv_retained():
        torch.autograd.grad(g, params, grad_outputs=v, retain_graph=True)

    res["hv_retained_seconds"] = median_seconds(hv_retained, a.reps, sync)
    del g
    if a.compile:
        compiled = torch.compile(loss_of)
        res["grad_compiled_seconds"] = median_seconds(grad_with(compiled), a.reps, sync)
    if a.device == "cpu":
        # Last: it moves the weights and the BatchNorm statistics.
        model.train()
        opt = torch.optim.SGD(params, lr=1e-6, momentum=0.9)

        def train_with(f):
            def train():
                opt.zero_grad(set_to_none=True)
                f(x, y).backward()
                opt.step()

            return train

        res["train_seconds"] = median_seconds(train_with(loss_of), a.reps, sync)
        if a.compile:
            compiled = torch.compile(loss_of)
            res["train_compiled_seconds"] = median_seconds(train_with(compiled), a.reps, sync)
    return res


if __name__ == "__main__":
    main()
