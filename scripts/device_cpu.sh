#!/usr/bin/env bash
# device_cpu.sh: issue 12's comparison with PyTorch on the CPU at many
# threads, in one run on a machine with PyTorch but no Go and no network
# (the accelerator machine: 16 cores, PyTorch preinstalled).
#
#   scripts/device_cpu.sh build   here, with Go: builds the static binary
#                                 .device/hesscope-cpu (CGO_ENABLED=0) and
#                                 the test binaries .device/hessian.test and
#                                 .device/workers.test,
#                                 and with BASE=REV set .device/hesscope-base
#                                 from that revision too
#   scripts/device_cpu.sh         there, from the repository root with
#                                 .device carried along
#
# The run alternates `hesscope bench -json` and bench/torch_bench.py
# (gradient, double-backprop HVP and PyHessian's product on a retained
# graph, float32, batch 128, BatchNorm in eval mode; and a training step;
# each in both memory formats, the faster counting) at $THREADS threads (default: every core), $ROUNDS rounds of $REPS
# timed runs each, for $MODELS (default: lenet5 c1 c2 resnet20 resnet18);
# then times hesscope alone at 1 thread on $SCALE_MODELS (default: c1
# resnet20 resnet18) for its speed-up, and prints bench/compare_summary.py's
# tables: ratios to PyTorch and the 1 → $THREADS-thread speed-up, and the
# parallel loops' own cost at $THREADS threads (internal/workers'
# BenchmarkRegions, .device/workers.test). About 5
# minutes on 16 cores when PyTorch ran one memory format (2026-12-05);
# both formats and the retained product take PyTorch's side about twice
# as long (a ResNet-20 step at 2 threads here: 21 s, 13 s in one format
# with the retained product), so allow about 8 minutes, or ROUNDS=1;
# every step under a timeout. With a base binary the
# rounds time it too, alternating, and the tables show its rows (a change
# measured against its base at many threads in one run). With TRACE=1 it
# then records, for $TRACE_MODELS (default: c1 resnet20 resnet18), an
# execution trace and a CPU profile of HVP passes at $THREADS threads
# (BenchmarkModels, .device/hessian.test) into $OUT/traces.tgz, to be read
# where Go is (bench/trace_idle.py's doc string has the commands): about a
# minute more. Before the traces, after the tables, it times
# (CURVE_MODELS, default resnet20; CURVE_MODELS=none skips it)
# BenchmarkModels' gradient and HVP at 1, 2, 4, … and $THREADS threads, each with its processor time per pass (cpu-s/op): where the
# speed-up falls short, cpu-s/op rising with the threads means each core
# does less per second (memory traffic; the helpers' 0.2-ms spin counts
# too), a flat one that cores wait. About half a minute for resnet20.
# Raw JSON lines go to $OUT (the device tool's result folder) or a
# temporary folder.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=.device/hesscope-cpu

if [ "${1:-}" = build ]; then
	if [ -n "${BASE:-}" ] && ! git rev-parse -q --verify "$BASE^{commit}" >/dev/null; then
		echo "device_cpu: BASE=$BASE: want a revision of this repository (a commit, branch or tag)" >&2
		exit 2
	fi
	set -e
	mkdir -p .device
	rm -f .device/*.test # stale test binaries would travel too (carry's 64 MiB)
	CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$bin" ./cmd/hesscope
	CGO_ENABLED=0 go test -c -trimpath -ldflags="-s -w" -o .device/hessian.test ./hessian
	CGO_ENABLED=0 go test -c -trimpath -ldflags="-s -w" -o .device/workers.test ./internal/workers
	rm -f .device/hesscope-base
	if [ -n "${BASE:-}" ]; then
		wt=$(mktemp -d)
		trap 'git worktree remove --force "$wt" 2>/dev/null; rm -rf "$wt"' EXIT
		git worktree add --detach "$wt" "$BASE" >/dev/null
		(cd "$wt" && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$OLDPWD/.device/hesscope-base" ./cmd/hesscope)
	fi
	ls -la .device/hesscope-* .device/*.test
	exit 0
fi
base=.device/hesscope-base

if [ ! -x "$bin" ]; then
	echo "device_cpu: $bin missing: run 'scripts/device_cpu.sh build' where Go is, and carry .device"
	exit 2
fi
threads=${THREADS:-$(nproc)}
models=${MODELS:-lenet5 c1 c2 resnet20 resnet18}
scale=${SCALE_MODELS:-c1 resnet20 resnet18}
trace=${TRACE:-0}
traceModels=${TRACE_MODELS:-c1 resnet20 resnet18}
curve=${CURVE_MODELS:-resnet20}
reps=${REPS:-3}
rounds=${ROUNDS:-2}
# Every setting checked before any work: one line naming it and what was
# expected.
prog=device_cpu
. bench/lib.sh
want_count THREADS "$threads" 1024
want_count REPS "$reps" 1000
want_count ROUNDS "$rounds" 100
threads=$((10#$threads)) reps=$((10#$reps)) rounds=$((10#$rounds)) # 08 is 8
want_models MODELS "$models"
want_models SCALE_MODELS "$scale"
[ "$curve" = none ] || want_models CURVE_MODELS "$curve"
case $trace in
0 | 1) ;;
*) echo "device_cpu: TRACE=$trace: want 0 or 1" >&2; exit 2 ;;
esac
if [ "$trace" = 1 ]; then
	want_models TRACE_MODELS "$traceModels"
	if [ ! -x .device/hessian.test ]; then
		echo "device_cpu: TRACE=1 needs .device/hessian.test: run 'scripts/device_cpu.sh build' where Go is, and carry .device" >&2
		exit 2
	fi
fi
py=$(scripts/torchpython.sh) || {
	echo "device_cpu: no Python with torch (set TORCH_PYTHON): nothing to compare against"
	exit 2
}
out=${OUT:-$(mktemp -d)}
tdir= # the traces' scratch folder, while TRACE=1 records them
trap 'rm -rf "$tdir"; echo "device_cpu: interrupted; results so far in $out/cpu.jsonl"; exit 130' INT TERM
res=$out/cpu.jsonl
: >"$res"

lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core|Socket|L2|L3|NUMA)'
echo "vector units: $(grep -m1 -o -w -E 'avx512f|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')"
"$py" -c 'import torch; print("torch", torch.__version__, "threads", torch.get_num_threads(), torch.__config__.parallel_info().splitlines()[0:3])'
echo "load before: $(uptime)"
for m in $models; do
	for ((i = 1; i <= rounds; i++)); do
		bench_step hesscope "$bin" bench -model "$m" -batch 128 -threads "$threads" -reps "$reps" -json
		if [ -x "$base" ]; then
			bench_step base "$base" bench -model "$m" -batch 128 -threads "$threads" -reps "$reps" -json
		fi
		bench_step torch "$py" bench/torch_bench.py --model "$m" --batch 128 --threads "$threads" --reps "$reps"
	done
done
if [ "$threads" -gt 1 ]; then
	for m in $scale; do
		bench_step hesscope "$bin" bench -model "$m" -batch 128 -threads 1 -reps 2 -json
	done
fi
echo "load after:  $(uptime)"
echo "raw results: $res"
"$py" bench/compare_summary.py "$res"
if [ -x .device/workers.test ]; then
	echo "parallel loops at $threads threads (ns/op: one loop of 32 tasks of about 6 µs; internal/workers):"
	timeout 60 .device/workers.test -test.run '^$' -test.bench 'Regions' -test.cpu "$threads" -test.count 3 | grep Benchmark
fi
if [ "$curve" != none ] && [ "$threads" -gt 1 ] && [ -x .device/hessian.test ]; then
	cpus=1
	for ((c = 2; c < threads; c *= 2)); do cpus="$cpus,$c"; done
	cpus="$cpus,$threads"
	echo "hesscope's passes at $cpus threads (BenchmarkModels, batch 128, float32: wall ns/op and processor seconds per pass, cpu-s/op):"
	for m in $curve; do
		timeout 300 .device/hessian.test -test.run '^$' -test.bench "Models/$m/^(Gradient|HVP)\$" -test.benchtime 3x \
			-test.cpu "$cpus" | grep Benchmark || echo "device_cpu: BenchmarkModels/$m at $cpus threads failed or timed out" >&2
	done
fi
if [ "$trace" = 1 ]; then
	# Two passes after the benchmark's warm-up pass (one for resnet18): the
	# trace's last seconds are the timed passes (trace_idle.py --last).
	tdir=$(mktemp -d)
	for m in $traceModels; do
		n=2
		[ "$m" = resnet18 ] && n=1
		if ! timeout 120 .device/hessian.test -test.run '^$' -test.bench "Models/$m/^HVP\$" -test.benchtime ${n}x \
			-test.cpu "$threads" -test.trace "$tdir/$m.trace" -test.cpuprofile "$tdir/$m.prof" >"$tdir/$m.txt" 2>&1; then
			echo "device_cpu: the traced $m pass failed (its output in traces.tgz, $m.txt)" >&2
		fi
		grep Benchmark "$tdir/$m.txt"
	done
	tar czf "$out/traces.tgz" -C "$tdir" . && echo "traces: $out/traces.tgz ($(du -h "$out/traces.tgz" | cut -f1))"
	rm -rf "$tdir"
fi
