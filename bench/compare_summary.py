"""Summarise hesscope-against-PyTorch timings (development tooling only).

    python3 bench/compare_summary.py RESULTS.jsonl

RESULTS.jsonl holds one JSON object per line: `hesscope bench -json` output
or bench/torch_bench.py output, each with a "side" field added (hesscope,
base or torch). For every thread count and model it prints the medians over
rows of gradient, HVP, product-alone (hesscope's Hv) and training-step
seconds and the ratios hesscope / PyTorch, then the same from each
side's fastest row (a machine whose speed moves from second to second is nearest its own in
its quiet moments, and the medians of a few rounds then differ from run
to run by more than a change); with rows at more than one thread count,
also hesscope's speed-up from the fewest threads to every other count.
bench/torch_compare.sh and scripts/device_cpu.sh call it.
"""
import json
import statistics
import sys


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    nan = float("nan")

    def values(m, t, side, key):
        # A base binary older than a key (hv_seconds) has no value.
        return [r[key] for r in rows if r["model"] == m and r["threads"] == t and r["side"] == side and key in r]

    def med(m, t, side, key):
        v = values(m, t, side, key)
        return statistics.median(v) if v else nan

    def fastest(m, t, side, key):
        v = values(m, t, side, key)
        return min(v) if v else nan

    def ratio(a, b):
        return a / b if b == b and b > 0 else nan

    models = list(dict.fromkeys(r["model"] for r in rows))
    threads = sorted({r["threads"] for r in rows})
    torch_version = next((r["torch"] for r in rows if r["side"] == "torch"), "?")
    batch = rows[0]["batch"] if rows else "?"
    for t in threads:
        for stat, what in ((med, "median seconds"), (fastest, "fastest row's seconds")):
            print(f"\nbatch {batch}, {t} threads, float32, {what}; torch {torch_version}")
            print(f"{'model':10} {'hs grad':>9} {'pt grad':>9} {'ratio':>6}   {'hs HVP':>9} {'pt HVP':>9} {'ratio':>6}   {'hs Hv':>9} {'ratio':>6}   {'hs train':>9} {'pt train':>9} {'ratio':>6}")
            for m in models:
                pg, ph, pt = stat(m, t, "torch", "grad_seconds"), stat(m, t, "torch", "hvp_seconds"), stat(m, t, "torch", "train_seconds")
                for side, label in (("hesscope", m), ("base", "  base")):
                    if not any(r["side"] == side and r["model"] == m and r["threads"] == t for r in rows):
                        continue
                    g, h, v = stat(m, t, side, "grad_seconds"), stat(m, t, side, "hvp_seconds"), stat(m, t, side, "hv_seconds")
                    tr = stat(m, t, side, "train_step_seconds")
                    print(f"{label:10} {g:9.4f} {pg:9.4f} {ratio(g, pg):6.2f}   {h:9.4f} {ph:9.4f} {ratio(h, ph):6.2f}   {v:9.4f} {ratio(v, ph):6.2f}   {tr:9.4f} {pt:9.4f} {ratio(tr, pt):6.2f}")
    print("\nratio = hesscope / PyTorch (base: the -x binary; hs Hv: against PyTorch's HVP;")
    print("train: a training step, BatchNorm in train mode, SGD with momentum);")
    print("targets: gradient <= 0.8, HVP <= 0.5")
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
