"""Summarise hesscope-against-PyTorch timings (development tooling only).

    python3 bench/compare_summary.py RESULTS.jsonl

RESULTS.jsonl holds one JSON object per line: `hesscope bench -json` output
or bench/torch_bench.py output, each with a "side" field added (hesscope,
base or torch). For every thread count and model it prints the medians over
rows of gradient, HVP, product-alone and training-step seconds and the
ratios hesscope / PyTorch (the product alone: hesscope's on a kept pass,
bench's hv_retained, what its eigensolvers repeat on one batch, against
PyTorch's backward of a retained gradient graph, what PyHessian's repeat;
rows without these compare hesscope's whole-pass hv with PyTorch's HVP),
then the same from each
side's fastest row (a machine whose speed moves from second to second is nearest its own in
its quiet moments, and the medians of a few rounds then differ from run
to run by more than a change); with rows at more than one thread count,
also hesscope's speed-up from the fewest threads to every other count.
PyTorch's rows timed in both memory formats (torch_bench.py's default)
count as the faster format's, per quantity: the statistic over the rows is
taken for each format and the lower one kept, and the format that gave it
is printed below the table; torch.compile's gradient and training step
(torch_bench.py --compile), where present, on a line of their own.
bench/torch_compare.sh and scripts/device_cpu.sh call it.
"""
import json
import statistics
import sys


FMT = {"contiguous": "NCHW", "channels_last": "NHWC"}


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    nan = float("nan")

    def values(m, t, side, key, fmt=None):
        # A base binary older than a key (hv_seconds) has no value. fmt
        # picks one memory format of PyTorch's rows timed in both.
        out = []
        for r in rows:
            if r["model"] != m or r["threads"] != t or r["side"] != side:
                continue
            if fmt is not None:
                r = r.get("by_format", {}).get(fmt, {})
            if key in r:
                out.append(r[key])
        return out

    def formats(m, t, side):
        fs = {f for r in rows if r["model"] == m and r["threads"] == t and r["side"] == side for f in r.get("by_format", {})}
        return sorted(fs)

    def by_format(reduce):
        # PyTorch timed in several memory formats: its best peer is the
        # format whose statistic over the rows is the lower, per quantity.
        def stat(m, t, side, key):
            fs = formats(m, t, side)
            if not fs:
                v = values(m, t, side, key)
                return (reduce(v) if v else nan), ""
            best = (nan, "")
            for f in fs:
                v = values(m, t, side, key, f)
                if v and not reduce(v) >= best[0]:
                    best = (reduce(v), f)
            return best

        return stat

    med2, fastest2 = by_format(statistics.median), by_format(min)

    def med(m, t, side, key):
        return med2(m, t, side, key)[0]

    def fastest(m, t, side, key):
        return fastest2(m, t, side, key)[0]

    def ratio(a, b):
        return a / b if b == b and b > 0 else nan

    models = list(dict.fromkeys(r["model"] for r in rows))
    threads = sorted({r["threads"] for r in rows})
    torch_version = next((r["torch"] for r in rows if r["side"] == "torch"), "?")
    batch = rows[0]["batch"] if rows else "?"
    for t in threads:
        for stat, stat2, what in ((med, med2, "median seconds"), (fastest, fastest2, "fastest row's seconds")):
            print(f"\nbatch {batch}, {t} threads, float32, {what}; torch {torch_version}")
            print(f"{'model':10} {'hs grad':>9} {'pt grad':>9} {'ratio':>6}   {'hs HVP':>9} {'pt HVP':>9} {'ratio':>6}   {'hs Hv':>9} {'pt Hv':>9} {'ratio':>6}   {'hs train':>9} {'pt train':>9} {'ratio':>6}")
            for m in models:
                pg, ph, pt = stat(m, t, "torch", "grad_seconds"), stat(m, t, "torch", "hvp_seconds"), stat(m, t, "torch", "train_seconds")
                # PyTorch's product on a retained graph (PyHessian's); rows
                # from before it was timed compare with the whole HVP.
                pv = stat(m, t, "torch", "hv_retained_seconds")
                if pv != pv:
                    pv = ph
                for side, label in (("hesscope", m), ("base", "  base")):
                    if not any(r["side"] == side and r["model"] == m and r["threads"] == t for r in rows):
                        continue
                    g, h = stat(m, t, side, "grad_seconds"), stat(m, t, side, "hvp_seconds")
                    # The product on a kept pass, what hesscope's
                    # eigensolvers repeat on one batch (a binary older
                    # than it: the whole pass).
                    v = stat(m, t, side, "hv_retained_seconds")
                    if v != v:
                        v = stat(m, t, side, "hv_seconds")
                    tr = stat(m, t, side, "train_step_seconds")
                    print(f"{label:10} {g:9.4f} {pg:9.4f} {ratio(g, pg):6.2f}   {h:9.4f} {ph:9.4f} {ratio(h, ph):6.2f}   {v:9.4f} {pv:9.4f} {ratio(v, pv):6.2f}   {tr:9.4f} {pt:9.4f} {ratio(tr, pt):6.2f}")
            picks = []
            for m in models:
                got = [(q, stat2(m, t, "torch", q + "_seconds")[1]) for q in ("grad", "hvp", "hv_retained", "train")]
                if any(f for _, f in got):
                    picks.append(f"{m} " + ", ".join(f"{q} {FMT.get(f, f)}" for q, f in got if f))
            if picks:
                print("PyTorch's faster memory format: " + "; ".join(picks))
            comp = []
            for m in models:
                pgc, ptc = stat(m, t, "torch", "grad_compiled_seconds"), stat(m, t, "torch", "train_compiled_seconds")
                if pgc == pgc or ptc == ptc:
                    g, tr = stat(m, t, "hesscope", "grad_seconds"), stat(m, t, "hesscope", "train_step_seconds")
                    comp.append(f"{m} gradient {pgc:.4f} s (ratio {ratio(g, pgc):.2f}), training step {ptc:.4f} s (ratio {ratio(tr, ptc):.2f})")
            if comp:
                print("torch.compile: " + "; ".join(comp))
    print("\nratio = hesscope / PyTorch (base: the -x binary; Hv: the product without the")
    print("gradient on a kept pass, hesscope's bench hv_retained, PyTorch's on a retained")
    print("graph as PyHessian's;")
    print("train: a training step, BatchNorm in train mode, SGD with momentum);")
    print("targets: gradient <= 0.8, HVP <= 0.5; PyTorch's time of each quantity is")
    print("its faster memory format's where it was timed in both (torch_bench.py's default)")
    if len(threads) > 1:
        t0 = threads[0]
        print(f"\nhesscope's speed-up from {t0} thread(s) (gradient / HVP / Hv):")
        for m in models:
            parts = []
            for t in threads[1:]:
                s = [ratio(med(m, t0, "hesscope", k), med(m, t, "hesscope", k)) for k in ("grad_seconds", "hvp_seconds", "hv_seconds")]
                parts.append(f"{t} threads {s[0]:.1f}× / {s[1]:.1f}× / {s[2]:.1f}×")
            print(f"{m:10} " + ", ".join(parts))


if __name__ == "__main__":
    main()
