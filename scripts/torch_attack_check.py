#!/usr/bin/python3
"""Cross-check hesscope's attacks against an independent PyTorch computation.

Development tooling only: not a dependency of hesscope, not run by its tests.

    hesscope attack -weights W -method fgsm -eps 0.1 -samples 1000 \
        -save-examples /tmp/adv.safetensors
    python3 scripts/torch_attack_check.py W /tmp/adv.safetensors [float64]

(float64: for examples made with hesscope attack -precision float64; the
saved images are float32 either way, so float64 runs compare the labels and
the images to float32 rounding.)

The examples file holds the clean images (x_clean), the labels (y), hesscope's
adversarial examples (x) and its predictions on them (pred, clean_pred), and
the attack's settings in its metadata. This script rebuilds the model in
PyTorch from the same safetensors weights, reruns the attack on the same
images following torchattacks' formulas (FGSM, PGD/BIM without random start,
whose start point cannot be reproduced; DeepFool as Foolbox's
L2DeepFoolAttack with hesscope's candidate rule), and reports how often the
two agree on the adversarial label, and how far the images are apart.

Only correctly classified images are attacked (as hesscope does); the others
keep x = x_clean. Needs torch (1.13 works); the safetensors package is not
needed: files are read with json + struct + torch.frombuffer.
"""

import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

import hesscope_zoo as zoo
from hesscope_zoo import read_safetensors

class Normalized(nn.Module):
    def __init__(self, net, mean, std):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x):
        return self.net((x - self.mean) / self.std)


def load_model(path):
    """The model of a hesscope model file with its normalisation folded in:
    attacks work on raw pixels."""
    net, meta = zoo.load_model(path)
    if "norm_mean" in meta:
        net = Normalized(net, json.loads(meta["norm_mean"]), json.loads(meta["norm_std"])).eval()
    return net


def grad_loss(model, x, y):
    """Per-sample gradients of the cross-entropy (sum reduction)."""
    x = x.clone().requires_grad_(True)
    loss = F.cross_entropy(model(x), y, reduction="sum")
    (g,) = torch.autograd.grad(loss, x)
    return g


def l2_per_sample(t):
    return t.flatten(1).norm(dim=1).view(-1, *([1] * (t.dim() - 1)))


def fgsm(model, x, y, eps, norm):
    g = grad_loss(model, x, y)
    if norm == "linf":
        return torch.clamp(x + eps * g.sign(), 0, 1)
    return torch.clamp(x + eps * g / (l2_per_sample(g) + 1e-10), 0, 1)


def pgd(model, x, y, eps, alpha, steps, norm):
    """torchattacks.PGD / PGDL2 without random start (BIM in L-inf)."""
    adv = x.clone()
    for _ in range(steps):
        g = grad_loss(model, adv, y)
        if norm == "linf":
            adv = adv + alpha * g.sign()
            delta = torch.clamp(adv - x, -eps, eps)
        else:
            adv = adv + alpha * g / (l2_per_sample(g) + 1e-10)
            delta = adv - x
            n = l2_per_sample(delta)
            delta = delta * torch.clamp(eps / n, max=1.0)
        adv = torch.clamp(x + delta, 0, 1)
    return adv


def deepfool(model, x, y, steps, overshoot, candidates):
    """Foolbox's L2DeepFoolAttack, candidates the top-K clean logits."""
    with torch.no_grad():
        logits = model(x)
    k = min(candidates, logits.shape[1])
    cls = logits.argsort(dim=1, descending=True)[:, :k]
    rows = torch.arange(len(x))
    x0, adv = x.clone(), x.clone()
    r_tot = torch.zeros_like(x, dtype=torch.float64)
    active = torch.ones(len(x), dtype=torch.bool)
    for _ in range(steps):
        xa = adv.clone().requires_grad_(True)
        z = model(xa)
        active &= z.argmax(1) == y
        if not active.any():
            break
        best_d = torch.full((len(x),), float("inf"), dtype=torch.float64)
        best_w = torch.zeros_like(r_tot)
        for j in range(1, k):
            f = z[rows, cls[:, j]] - z[rows, y]
            (w,) = torch.autograd.grad(f.sum(), xa, retain_graph=True)
            w = w.double()
            d = f.detach().double().abs() / (w.flatten(1).norm(dim=1) + 1e-8)
            better = d < best_d
            best_d = torch.where(better, d, best_d)
            best_w[better] = w[better]
        s = (best_d + 1e-4) / (best_w.flatten(1).norm(dim=1) + 1e-8)
        step = s.view(-1, *([1] * (x.dim() - 1))) * best_w
        r_tot = torch.where(active.view(-1, *([1] * (x.dim() - 1))), r_tot + step, r_tot)
        new = torch.clamp(x0.double() + (1 + overshoot) * r_tot, 0, 1).to(x.dtype)
        adv = torch.where(active.view(-1, *([1] * (x.dim() - 1))), new, adv)
    return adv


def main():
    if len(sys.argv) not in (3, 4) or (len(sys.argv) == 4 and sys.argv[3] != "float64"):
        sys.exit(__doc__)
    dt = torch.float64 if len(sys.argv) == 4 else torch.float32
    model = load_model(sys.argv[1]).to(dt)
    t, meta = read_safetensors(sys.argv[2])
    x, y, go_adv, go_pred = t["x_clean"].to(dt), t["y"], t["x"].to(dt), t["pred"]
    method, norm = meta["method"], meta["norm"]
    with torch.no_grad():
        clean = model(x).argmax(1)
    agree_clean = (clean == t["clean_pred"]).float().mean().item()
    ok = clean == y
    xa, ya = x[ok], y[ok]
    if method == "fgsm":
        adv = fgsm(model, xa, ya, float(meta["eps"]), norm)
    elif method == "pgd":
        if meta.get("random_start") == "true":
            print("note: hesscope's PGD used a random start, which PyTorch cannot reproduce; "
                  "rerun with -random-start=false for an image-level comparison")
        adv = pgd(model, xa, ya, float(meta["eps"]), float(meta["step_size"]), int(meta["steps"]), norm)
    else:
        adv = deepfool(model, xa, ya, int(meta["steps"]), float(meta["overshoot"]), int(meta["candidates"]))
    with torch.no_grad():
        pred = model(adv).argmax(1)
    full_pred = clean.clone()
    full_pred[ok] = pred
    same_label = (full_pred == go_pred).float().mean().item()
    diff = (adv - go_adv[ok]).abs()
    torch_acc = (full_pred == y).float().mean().item()
    go_acc = (go_pred == y).float().mean().item()
    print(f"{method} {norm} {meta.get('eps', '')}: {len(y)} images, {int(ok.sum())} attacked")
    print(f"clean predictions agree:        {100 * agree_clean:.2f}%")
    print(f"adversarial labels agree:       {100 * same_label:.2f}% ({int((full_pred != go_pred).sum())} differ)")
    print(f"robust accuracy torch / Go:     {100 * torch_acc:.2f}% / {100 * go_acc:.2f}%")
    print(f"max |x_torch - x_go|:           {diff.max().item():.3g}")
    print(f"pixels differing by > 1e-5:     {int((diff > 1e-5).sum())} of {diff.numel()}")
    if method == "fgsm" and (diff > 1e-5).any():
        g = grad_loss(model, xa, ya)
        rel = g.abs() / g.flatten(1).abs().max(dim=1).values.view(-1, 1, 1, 1)
        worst = rel[diff > 1e-5].max().item()
        print(f"largest relative |gradient| at a differing pixel: {worst:.3g} (a sign of rounding noise when tiny)")
    if method == "deepfool":
        rt = (adv - xa).flatten(1).norm(dim=1) / xa.flatten(1).norm(dim=1)
        rg = (go_adv[ok] - xa).flatten(1).norm(dim=1) / xa.flatten(1).norm(dim=1)
        print(f"rho_adv torch / Go:             {rt.mean().item():.5f} / {rg.mean().item():.5f}")


if __name__ == "__main__":
    main()
