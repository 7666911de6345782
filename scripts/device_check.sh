#!/usr/bin/env bash
# device_check.sh: hesscope's GPU checks (issue 15) in one run on a machine
# with an NVIDIA GPU, its driver and PyTorch, but no Go and no network.
#
#   scripts/device_check.sh build   here, with Go: builds .device/hesscope
#                                   (-tags cuda) and .device/cuda.test
#                                   (go test -c -tags cuda ./cuda)
#   scripts/device_check.sh         there, from the repository root with
#                                   .device carried along
#
# The run (under 3 minutes on an H100, every step under a timeout) prints:
#   1. the GPU tests, each in its own process so that one failure does not
#      hide the others: each backend operation alone (copies, a kernel, a
#      parallel reduction, the max-pool tie rule, cuBLAS GEMM in the four
#      transpose cases, cuDNN's three convolution products), then float64
#      loss, gradient and HVP against the CPU
#      engine for every zoo model (1e-10 relative), pass variants, float32
#      top eigenvalue of c1 and resnet20 against the CPU (1e-4), determinism;
#   2. hesscope bench -device cuda on c1 (the command line end to end);
#   3. BenchmarkHVP: one loss + gradient + HVP on the GPU for c1 and resnet20
#      at batch 128 and 1024, float32 and float64;
#   4. PyTorch's double-backprop HVP on the same GPU and sizes
#      (bench/torch_bench.py): float32 with PyTorch's defaults (TF32
#      convolutions allowed), float32 and float64 --strict (no TF32,
#      deterministic cuDNN: hesscope's rules);
#   5. one summary table: agreement numbers and times side by side.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=.device

if [ "${1:-}" = build ]; then
	set -e
	mkdir -p "$bin"
	CGO_ENABLED=0 go build -tags cuda -trimpath -ldflags="-s -w" -o "$bin/hesscope" ./cmd/hesscope
	CGO_ENABLED=0 go test -c -tags cuda -trimpath -ldflags="-s -w" -o "$bin/cuda.test" ./cuda
	ls -la "$bin"
	exit 0
fi

# The logs go to a temporary folder, packed at the end into one archive in
# $OUT (the device tool brings back only so many files).
out=$(mktemp -d)
if [ ! -x "$bin/cuda.test" ] || [ ! -x "$bin/hesscope" ]; then
	echo "device_check: $bin/cuda.test or $bin/hesscope missing: run 'scripts/device_check.sh build' where Go is, and carry $bin"
	exit 2
fi
py=$(scripts/torchpython.sh)
[ -n "$py" ] || echo "device_check: no Python with torch: PyTorch timings skipped"
nvidia-smi -L 2>&1 | head -2
[ -n "$py" ] && "$py" -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version())'

echo "== 1. GPU tests"
for t in TestOpenError TestLoadLibraries TestBackendOps TestHVPMatchesCPU TestPassVariants TestTopEigenvalueFloat32 TestDeterministic; do
	timeout 240 "$bin/cuda.test" -test.v -test.timeout 230s -test.run "^$t\$" >"$out/$t.log" 2>&1
	rc=$?
	grep -E -- '--- (PASS|FAIL|SKIP)|relative|panic|differs|no GPU|GPU ' "$out/$t.log" | head -40
	[ $rc -eq 0 ] || { echo "   $t: exit $rc, last lines:"; tail -15 "$out/$t.log"; }
done

echo "== 2. hesscope bench -device cuda"
timeout 120 "$bin/hesscope" bench -device cuda -model c1 -batch 128 -reps 5 2>&1 | tee "$out/bench_cli.txt"

echo "== 2b. hesscope spectrum, CPU and GPU: c1, float32, top 2 (20 Lanczos steps), 256 random images"
tiny=$out/tiny-cifar.safetensors
"${py:-python3}" - "$tiny" <<'PY'
# A safetensors dataset: x float32 [512, 3, 32, 32] uniform in [0, 1), y int64.
import array, json, random, struct, sys
random.seed(1)
n = 512
x = array.array("f", (random.random() for _ in range(n * 3 * 32 * 32)))
y = array.array("q", (random.randrange(10) for _ in range(n)))
xb, yb = x.tobytes(), y.tobytes()
head = json.dumps({"x": {"dtype": "F32", "shape": [n, 3, 32, 32], "data_offsets": [0, len(xb)]},
                   "y": {"dtype": "I64", "shape": [n], "data_offsets": [len(xb), len(xb) + len(yb)]}}).encode()
head += b" " * (-len(head) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(head)) + head + xb + yb)
PY
for dev in cpu cuda; do
	t0=$(date +%s%N)
	timeout 240 "$bin/hesscope" spectrum -model c1 -dataset "$tiny" -samples 256 -batch-size 256 \
		-top-k 2 -max-iter 20 -tol 1e-3 -precision float32 -device "$dev" -json -quiet >"$out/spectrum_$dev.json" 2>"$out/spectrum_$dev.err"
	echo "   $dev: exit $?, $((($(date +%s%N) - t0) / 1000000)) ms"
	tail -2 "$out/spectrum_$dev.err"
done

echo "== 3. BenchmarkHVP"
timeout 300 "$bin/cuda.test" -test.run '^$' -test.bench BenchmarkHVP -test.benchtime 20x -test.timeout 290s 2>&1 | tee "$out/bench.txt" | grep -E 'Benchmark|FAIL|panic|ok'

echo "== 4. PyTorch double-backprop HVP"
: >"$out/torch.jsonl"
if [ -n "$py" ]; then
	for args in "" "--strict" "--strict --dtype float64"; do
		# shellcheck disable=SC2086 # args is a list of flags
		timeout 150 "$py" bench/torch_bench.py --device cuda --model c1 resnet20 --batch 128 1024 --reps 20 $args \
			2>>"$out/torch.err" | tee -a "$out/torch.jsonl"
		[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "   torch_bench.py $args failed:"; tail -3 "$out/torch.err"; }
	done
fi

echo "== 5. summary"
"${py:-python3}" - "$out" <<'EOF'
import json, os, re, sys
out = sys.argv[1]
print("agreement with the CPU engine (relative):")
for name in ("TestBackendOps", "TestHVPMatchesCPU", "TestPassVariants", "TestTopEigenvalueFloat32", "TestDeterministic"):
    try:
        log = open(os.path.join(out, name + ".log")).read()
    except OSError:
        continue
    status = "PASS" if re.search(r"^--- PASS: " + name, log, re.M) else ("SKIP" if "--- SKIP" in log else "FAIL")
    print(f"  {name}: {status}")
    for l in log.splitlines():
        if "pass 0:" in l or "λ1" in l:
            print("   ", l.strip())
go = {}
for l in open(os.path.join(out, "bench.txt")).read().splitlines() if os.path.exists(os.path.join(out, "bench.txt")) else []:
    m = re.match(r"BenchmarkHVP/(\w+)/batch=(\d+)/(float\d+)-?\d*\s+\d+\s+([\d.]+) ns/op", l)
    if m:
        go[(m[1], int(m[2]), m[3])] = float(m[4]) / 1e9
torch = {}
for l in open(os.path.join(out, "torch.jsonl")).read().splitlines():
    try:
        r = json.loads(l)
    except ValueError:
        continue
    torch[(r["model"], r["batch"], r["dtype"], r["strict"])] = r["hvp_seconds"]
sp = {}
for dev in ("cpu", "cuda"):
    try:
        sp[dev] = json.load(open(os.path.join(out, f"spectrum_{dev}.json")))
    except (OSError, ValueError):
        pass
if len(sp) == 2:
    a, b = sp["cpu"], sp["cuda"]
    rel = [abs(u - v) / abs(u) for u, v in zip(a["top_eigenvalues"], b["top_eigenvalues"])]
    print(f"\nspectrum c1 float32, 256 images: top eigenvalues CPU {a['top_eigenvalues']} GPU {b['top_eigenvalues']}")
    print(f"  relative differences {rel}; loss CPU {a['loss']} GPU {b['loss']}; seconds CPU {a.get('seconds')} GPU {b.get('seconds')}")
else:
    print("\nspectrum: the CPU or the GPU run failed (see spectrum_*.err)")
print("\nHVP seconds (loss + gradient + HVP w.r.t. all parameters), median:")
print(f"  {'model':9} {'batch':>5} {'dtype':8} {'hesscope':>9} {'torch':>9} {'strict':>9} {'h/torch':>8} {'h/strict':>8}")
for (m, b, d), s in sorted(go.items()):
    t0, t1 = torch.get((m, b, d, False)), torch.get((m, b, d, True))
    f = lambda v: f"{v:9.4f}" if v else f"{'-':>9}"
    rr = lambda v: f"{s / v:8.2f}" if v else f"{'-':>8}"
    print(f"  {m:9} {b:5d} {d:8} {f(s)} {f(t0)} {f(t1)} {rr(t0)} {rr(t1)}")
print("\n  torch: PyTorch defaults (TF32 convolutions allowed); strict: no TF32, deterministic cuDNN.")
print("  hesscope's time includes copying the batch and v to the GPU and g, Hv back; PyTorch's has its data on the GPU.")
EOF
if [ -n "${OUT:-}" ]; then
	tar czf "$OUT/device_check.tgz" -C "$out" . && echo "logs in \$OUT/device_check.tgz"
else
	echo "logs in $out"
fi
