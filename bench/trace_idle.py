"""Where the cores wait in a pass: idle time from a Go execution trace
(development tooling only, standard library only).

    go test -c -o hessian.test ./hessian
    ./hessian.test -test.run '^$' -test.bench 'Models/resnet20/^HVP$' \\
        -test.benchtime 2x -test.cpu 16 -test.trace t.out
    go tool trace -d=parsed t.out > t.txt
    python3 bench/trace_idle.py t.txt --procs 16 --last 0.24

It follows the goroutines that run BenchmarkModels (the "callers") and
every goroutine's running intervals, keeps the stretches where a caller is
inside Evaluator.Pass (blocked with Evaluator on its stack, or running
between two such blocks), and prints: the mean number of running
goroutines there, the share of wall time at each count, and the idle core
time (procs minus running) attributed to what the caller was doing — WAIT
<stack>: blocked at that parallel loop; SERIAL after <stack>: running
since it left that loop (with internal/workers the caller works in its own
loops too, so a SERIAL stretch with a busy count near procs is its share of
a loop, not serial code). --last keeps only the last seconds of pass time
(the timed passes; the first pass of each benchmark run allocates).
--ramp PATTERN prints, for the loops whose stack matches, how long they
took to reach procs − 1 running goroutines; --pairs N the largest
caller-running stretches by the loops before and after them.
"""
import argparse
import bisect
import collections
import re
import sys


def parse(path):
    """The trace's goroutine state transitions: (time, goroutine, from, to, stack)."""
    ev, cur = [], None
    hdr = re.compile(r"^M=\S+ P=\S+ G=\S+ StateTransition Time=(\d+) GoID=(\d+) (\w+)->(\w+)")
    for line in open(path):
        if line.startswith("M="):
            m = hdr.match(line)
            cur = None
            if m:
                cur = [int(m[1]), int(m[2]), m[3], m[4], []]
                ev.append(cur)
        elif cur is not None and line.startswith("\t\t") and cur[4]:
            cur[4][-1] += " " + line.strip().split("/")[-1]  # file:line of the frame
        elif cur is not None and line.startswith("\t") and " @ " in line:
            cur[4].append(line.strip().split(" @ ")[0])
    ev.sort(key=lambda e: e[0])
    return ev


def label(stack):
    """The innermost three frames of hesscope's code, compactly."""
    out = []
    for f in [f for f in stack if "hesscope/" in f and "BenchmarkModels" not in f][:3]:
        name, _, loc = f.partition(" ")
        out.append(name.replace("hesscope/", "").replace("[go.shape.float32]", "").replace("[...]", "") + "@" + loc)
    return " < ".join(out) or "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("trace", help="output of go tool trace -d=parsed")
    ap.add_argument("--procs", type=int, default=16, help="GOMAXPROCS of the traced run")
    ap.add_argument("--last", type=float, help="keep only the last seconds of pass time")
    ap.add_argument("--top", type=int, default=20, help="places to list")
    ap.add_argument("--ramp", help="loops (stack substring) whose start-up to print")
    ap.add_argument("--pairs", type=int, default=0, help="caller-running stretches to list")
    a = ap.parse_args()
    if not 1 <= a.procs <= 65536:
        ap.error(f"--procs {a.procs}: want the traced run's GOMAXPROCS, 1 to 65536")
    if a.last is not None and not a.last > 0:
        ap.error(f"--last {a.last}: want a positive number of seconds")
    if a.top < 0 or a.pairs < 0:
        ap.error(f"--top {a.top}, --pairs {a.pairs}: want 0 or more")
    P = a.procs
    try:
        ev = parse(a.trace)
    except (OSError, UnicodeDecodeError) as e:
        raise SystemExit(f"trace_idle: {a.trace}: {e}")
    callers = {e[1] for e in ev if e[2] == "Running" and e[3] != "NotExist" and any("BenchmarkModels.func1" in f for f in e[4])}
    if not callers:
        raise SystemExit(f"trace_idle: {a.trace}: no goroutine running BenchmarkModels (a trace of hessian's BenchmarkModels?)")

    # The callers' blocks: (blocked at, resumed at, where, inside a pass).
    blocks, open_ = [], {}
    for t, g, frm, to, st in ev:
        if g not in callers:
            continue
        if frm == "Running" and to in ("Waiting", "Runnable", "Syscall"):
            open_[g] = (t, label(st), any("Evaluator" in f for f in st))
        elif to == "Running" and g in open_:
            tb, lb, ip = open_.pop(g)
            blocks.append((tb, t, lb, ip))
    blocks.sort()
    iv = []  # (start, end, key) inside passes
    for i, (tb, tr, lb, ip) in enumerate(blocks):
        if ip:
            iv.append((tb, tr, "WAIT " + lb))
        if ip and i + 1 < len(blocks) and blocks[i + 1][3]:
            iv.append((tr, blocks[i + 1][0], "SERIAL after " + lb))
    iv.sort()
    if not iv:
        raise SystemExit(f"trace_idle: {a.trace}: no Evaluator.Pass in the trace")
    tstart = None
    if a.last:
        tend = max(b for _, b, _ in iv)
        tstart = tend - a.last * 1e9
        iv = [(max(s, tstart), e, k) for s, e, k in iv if e > tstart]

    # Running goroutines over time, as a step function.
    changes = sorted((t, +1 if to == "Running" else -1) for t, g, frm, to, st in ev
                     if (to == "Running") != (frm == "Running"))
    ts, level, n = [], [], 0
    for t, d in changes:
        n += d
        ts.append(t)
        level.append(n)

    def integrate(s, e):
        """Busy core-seconds in [s, e) and the time at each running count."""
        i = bisect.bisect_right(ts, s) - 1
        cnt = level[i] if i >= 0 else 0
        i += 1
        t, busy, at = s, 0.0, collections.Counter()
        while t < e:
            nt = ts[i] if i < len(ts) and ts[i] < e else e
            dt = (nt - t) / 1e9
            busy += min(cnt, P) * dt
            at[min(cnt, P)] += dt
            t = nt
            if i < len(ts) and nt == ts[i]:
                cnt = level[i]
                i += 1
        return busy, at

    idle, busyk, wall, hist = collections.Counter(), collections.Counter(), collections.Counter(), collections.Counter()
    for s, e, key in iv:
        busy, at = integrate(s, e)
        dt = (e - s) / 1e9
        wall[key] += dt
        busyk[key] += busy
        idle[key] += P * dt - busy
        hist.update(at)
    total, tb, ti = sum(wall.values()), sum(busyk.values()), sum(idle.values())
    print(f"in passes: wall {total:.3f} s, mean running {tb / total:.2f} of {P}, idle {ti:.3f} core-s ({ti / (total * P) * 100:.0f} %)")
    print("wall time by running goroutines:", " ".join(f"{k}:{v / total * 100:.0f}%" for k, v in sorted(hist.items())))
    print(f"{'idle':>8} {'%idle':>6} {'wall':>7} {'busy':>5}  where")
    for key, v in idle.most_common(a.top):
        print(f"{v:8.4f} {v / ti * 100:5.1f}% {wall[key]:7.4f} {busyk[key] / wall[key]:5.1f}  {key}")

    if a.ramp:
        rows = []
        for s, e, key in iv:
            if key.startswith("WAIT") and a.ramp in key:
                i = bisect.bisect_right(ts, s)
                while i < len(ts) and ts[i] < e and level[i] < P - 1:
                    i += 1
                full = ts[i] if i < len(ts) and ts[i] < e else e
                rows.append(((e - s) / 1e9, (full - s) / 1e9))
        rows.sort()
        print(f"\n{len(rows)} loops matching {a.ramp}: duration and time to {P - 1} running goroutines, ms")
        for d, r in rows[:: max(1, len(rows) // 12)]:
            print(f"  {d * 1e3:7.3f}  {r * 1e3:7.3f}")

    if a.pairs:
        pairs, cnt = collections.Counter(), collections.Counter()
        for i in range(len(blocks) - 1):
            tb, tr, lb, ip = blocks[i]
            nxt = blocks[i + 1]
            if ip and nxt[3] and (tstart is None or tr > tstart):
                key = lb + "  ==>  " + nxt[2]
                pairs[key] += (nxt[0] - tr) / 1e9
                cnt[key] += 1
        print(f"\ncaller running between loops: {sum(pairs.values()):.4f} s")
        for k, v in pairs.most_common(a.pairs):
            print(f"{v * 1e3:8.2f} ms {cnt[k]:4d}x  {k}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        raise SystemExit("trace_idle: interrupted") from None
    except BrokenPipeError:  # the reader (head, less) stopped early
        sys.stderr.close()
