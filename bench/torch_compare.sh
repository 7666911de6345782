#!/usr/bin/env bash
# torch_compare.sh: hesscope against PyTorch on the same machine, in the same
# run. Development tooling only: never a dependency of hesscope or of CI.
#
#   bench/torch_compare.sh [-m "mlp lenet5 c1 resnet20"] [-b 128] [-t 2] [-r 10] [-n 3] [-x BASE] [-i avx2] [-c]
#
# PyTorch is run by $TORCH_PYTHON if set, else from a virtual environment
# outside the repository holding a current PyTorch from PyPI: $TORCH_VENV
# (default ~/.cache/hesscope/torch-venv), or /work/venv, the development
# machines' one; where neither imports torch, the script creates $TORCH_VENV
# and installs torch into it from PyPI (several GB, minutes). Only where
# that fails does it fall back to Debian's python3 and python3-torch (an
# older PyTorch; apt-get, as root), saying so. It builds
# hesscope, then for every model alternates n rounds of
# `hesscope bench --json` (and, with -x, of the hesscope binary BASE, say a
# build of main, so that a change is measured against its base and PyTorch
# in one run) and bench/torch_bench.py (PyTorch's gradient and
# double-backprop HVP, float32, BatchNorm in eval mode, and a training step,
# BatchNorm in train mode and SGD with momentum; torch.set_num_threads),
# each round timing r runs after a warm-up. It prints, per model, the median
# over rounds of every round's median, and the ratios hesscope/PyTorch (below
# 1: hesscope is faster), with the load average before and after: the
# machine may be shared, and both sides suffer alike only when they alternate.
# "hs Hv" is hesscope's product without the gradient on a kept pass
# (bench's hv_retained: what its eigensolvers repeat on one batch), "pt Hv"
# PyTorch's backward of a retained gradient graph (what PyHessian's
# eigensolvers repeat on one batch). Raw JSON lines are kept in $OUT (default: a temporary file). -i avx2 times both sides as on a machine without AVX-512:
# GODEBUG=cpu.avx512f=off for hesscope, ATEN_CPU_CAPABILITY=avx2,
# ONEDNN_MAX_CPU_ISA=AVX2 and MKL_ENABLE_INSTRUCTIONS=AVX2 for PyTorch.
# PyTorch is timed in both memory formats (contiguous and channels_last)
# and each quantity counts as its faster one's; its product alone is
# PyHessian's, on a retained graph. -c adds torch.compile's gradient and
# training step (about 30 s of compilation a model and format every round).
# Each timing step may take BENCH_TIMEOUT seconds (default 300; PyTorch's
# ResNet-18 in both formats takes about 50 s a rep on 2 threads, plus a
# rep of warm-up, so -r 5 wants BENCH_TIMEOUT=600).
set -euo pipefail

models="mlp lenet5 c1 resnet20"
batch=128
threads=2
reps=10
rounds=3
base=
isa= isaSet=
compile=
while getopts ":m:b:t:r:n:x:i:ch" opt; do
	case $opt in
	m) models=$OPTARG ;;
	b) batch=$OPTARG ;;
	t) threads=$OPTARG ;;
	r) reps=$OPTARG ;;
	n) rounds=$OPTARG ;;
	x) base=$OPTARG ;;
	i) isa=$OPTARG isaSet=1 ;;
	c) compile=--compile ;;
	h) sed -n '2,33p' "$0"; exit 0 ;;
	:) echo "torch_compare: -$OPTARG needs a value (see -h)" >&2; exit 2 ;;
	*) echo "torch_compare: unknown flag -$OPTARG (see -h)" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
if [ $# -gt 0 ]; then
	echo "torch_compare: unexpected argument $1: everything is a flag (see -h)" >&2
	exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
# Every flag checked before any work.
prog=torch_compare
. "$here/lib.sh"
want_models -m "$models"
want_count -b "$batch" 1000000
want_count -t "$threads" 1024
want_count -r "$reps" 1000
want_count -n "$rounds" 100
batch=$((10#$batch)) threads=$((10#$threads)) reps=$((10#$reps)) rounds=$((10#$rounds)) # 08 is 8
case $isa in
"") [ -z "$isaSet" ] || { echo "torch_compare: -i is empty: want avx2 (or no -i: the machine's widest)" >&2; exit 2; } ;;
avx2) export GODEBUG=cpu.avx512f=off ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 ;;
*)
	echo "torch_compare: -i $isa: want avx2 (or no -i: the machine's widest)" >&2
	exit 2
	;;
esac
if [ -n "$base" ] && ! [ -x "$base" ]; then
	echo "torch_compare: -x $base: want an executable hesscope binary" >&2
	exit 2
fi
# A current PyTorch in a virtual environment, made here from PyPI if there
# is none; else Debian's torch, which lives in the system Python (not
# necessarily the first python3 on PATH).
venv=${TORCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/hesscope/torch-venv}
py=${TORCH_PYTHON:-}
if [ -z "$py" ]; then
	for v in "$venv" /work/venv; do
		if [ -x "$v/bin/python" ] && "$v/bin/python" -c 'import torch' 2>/dev/null; then
			py=$v/bin/python
			break
		fi
	done
fi
if [ -z "$py" ]; then
	echo "torch_compare: installing a current PyTorch from PyPI into $venv (TORCH_VENV; several GB)" >&2
	if python3 -m venv "$venv" >&2 && "$venv/bin/pip" install -q torch numpy >&2 && "$venv/bin/python" -c 'import torch' 2>/dev/null; then
		py=$venv/bin/python
	else
		echo "torch_compare: could not install PyTorch from PyPI into $venv; falling back to Debian's python3-torch, an older PyTorch" >&2
	fi
fi
if [ -z "$py" ]; then
	py=/usr/bin/python3
	[ -x "$py" ] || py=$(command -v python3)
fi
if ! "$py" -c 'import torch' 2>/dev/null; then
	if [ -n "${TORCH_PYTHON:-}" ]; then
		echo "torch_compare: TORCH_PYTHON=$TORCH_PYTHON cannot import torch" >&2
		exit 1
	fi
	echo "torch_compare: installing python3-torch" >&2
	apt-get update -qq && apt-get install -y -qq python3-torch >&2
	py=/usr/bin/python3
fi

bin=$(mktemp -d)/hesscope
(cd "$root" && go build -o "$bin" ./cmd/hesscope)
res=${OUT:-$(mktemp)}
: >"$res"
trap 'echo "torch_compare: interrupted; results so far in $res" >&2; exit 130' INT TERM

[ -z "$isa" ] || echo "instruction sets: $isa ($GODEBUG; PyTorch: ATEN_CPU_CAPABILITY=$ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA=$ONEDNN_MAX_CPU_ISA)"
echo "load before: $(uptime)"
for m in $models; do
	for ((i = 1; i <= rounds; i++)); do
		bench_step hesscope "$bin" bench -model "$m" -batch "$batch" -threads "$threads" -reps "$reps" -json
		if [ -n "$base" ]; then
			bench_step base "$base" bench -model "$m" -batch "$batch" -threads "$threads" -reps "$reps" -json
		fi
		bench_step torch "$py" "$here/torch_bench.py" --model "$m" --batch "$batch" --threads "$threads" --reps "$reps" $compile
	done
done
echo "load after:  $(uptime)"
echo "raw results: $res"

"$py" "$here/compare_summary.py" "$res"
