#!/usr/bin/env bash
# torch_compare.sh: hesscope against PyTorch on the same machine, in the same
# run. Development tooling only: never a dependency of hesscope or of CI.
#
#   bench/torch_compare.sh [-m "mlp lenet5 c1 resnet20"] [-b 128] [-t 2] [-r 10] [-n 3]
#
# Installs Debian's python3-torch if `import torch` fails (apt-get, as root),
# builds hesscope, then for every model alternates n rounds of
# `hesscope bench --json` and bench/torch_bench.py (PyTorch's gradient and
# double-backprop HVP, float32, BatchNorm in eval mode, torch.set_num_threads),
# each round timing r runs after a warm-up. It prints, per model, the median
# over rounds of every round's median, and the ratios hesscope/PyTorch (below
# 1: hesscope is faster), with the load average before and after: the
# machine may be shared, and both sides suffer alike only when they alternate.
# Raw JSON lines are kept in $OUT (default: a temporary file).
set -euo pipefail

models="mlp lenet5 c1 resnet20"
batch=128
threads=2
reps=10
rounds=3
while getopts "m:b:t:r:n:h" opt; do
	case $opt in
	m) models=$OPTARG ;;
	b) batch=$OPTARG ;;
	t) threads=$OPTARG ;;
	r) reps=$OPTARG ;;
	n) rounds=$OPTARG ;;
	*) sed -n '2,16p' "$0"; exit 2 ;;
	esac
done

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
# Debian's torch lives in the system Python, which may not be the first
# python3 on PATH.
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3)
if ! "$py" -c 'import torch' 2>/dev/null; then
	echo "torch_compare: installing python3-torch" >&2
	apt-get update -qq && apt-get install -y -qq python3-torch >&2
	py=/usr/bin/python3
fi

bin=$(mktemp -d)/hesscope
(cd "$root" && go build -o "$bin" ./cmd/hesscope)
out=${OUT:-$(mktemp)}
: >"$out"

echo "load before: $(uptime)"
for m in $models; do
	for ((i = 1; i <= rounds; i++)); do
		"$bin" bench --model "$m" --batch "$batch" --threads "$threads" --reps "$reps" --json |
			"$py" -c 'import json,sys; d=json.load(sys.stdin); d["side"]="hesscope"; print(json.dumps(d))' >>"$out"
		"$py" "$here/torch_bench.py" --model "$m" --batch "$batch" --threads "$threads" --reps "$reps" |
			"$py" -c 'import json,sys; d=json.load(sys.stdin); d["side"]="torch"; print(json.dumps(d))' >>"$out"
	done
done
echo "load after:  $(uptime)"
echo "raw results: $out"

"$py" - "$out" "$batch" "$threads" <<'PY'
import json, statistics, sys
path, batch, threads = sys.argv[1], sys.argv[2], sys.argv[3]
rows = [json.loads(l) for l in open(path)]
models = list(dict.fromkeys(r["model"] for r in rows))
def med(m, side, key):
    v = [r[key] for r in rows if r["model"] == m and r["side"] == side]
    return statistics.median(v) if v else float("nan")
torch_version = next((r["torch"] for r in rows if r["side"] == "torch"), "?")
print(f"\nbatch {batch}, {threads} threads, float32, median seconds; torch {torch_version}")
print(f"{'model':10} {'hs grad':>9} {'pt grad':>9} {'ratio':>6}   {'hs HVP':>9} {'pt HVP':>9} {'ratio':>6}")
for m in models:
    hg, pg = med(m, "hesscope", "grad_seconds"), med(m, "torch", "grad_seconds")
    hh, ph = med(m, "hesscope", "hvp_seconds"), med(m, "torch", "hvp_seconds")
    print(f"{m:10} {hg:9.4f} {pg:9.4f} {hg/pg:6.2f}   {hh:9.4f} {ph:9.4f} {hh/ph:6.2f}")
print("\nratio = hesscope / PyTorch; targets: gradient <= 0.7, HVP <= 0.5")
PY
