#!/usr/bin/env bash
# Cluster checks, for real, on this machine:
#   - MPI: the MPI build's tests under 'mpirun -np 2' (dist's collectives;
#     the HVP and top eigenvalues of LeNet-5 over a sharded dataset against
#     one process; data-parallel training against one process), a default
#     build refusing to run as 2 ranks, and a rank killed mid-run failing
#     the job with a clear message and no half-written file;
#   - Slurm: a single-node Slurm (munged, slurmctld, slurmd under a temporary
#     folder, stopped by their PIDs) runs the script that 'hesscope sweep
#     -emit slurm' writes for a tiny sweep, whose summary must equal a local
#     sweep's bit for bit, and the MPI tests again under 'srun --mpi=pmix -n 2'.
# It installs Debian's slurm-wlm, munge, openmpi-bin and libopenmpi-dev when
# it can (as root, with apt-get) and skips, with a message and status 0,
# what it cannot run. Any check that runs and fails exits non-zero.
# .ci/run calls it; it takes about a minute on an idle 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

say() { echo "cluster_test: $*"; }
fail() { echo "cluster_test: FAIL: $*" >&2; exit 1; }
t0=$SECONDS

# --- install what is missing (best effort) ---------------------------------
need=()
command -v mpirun >/dev/null || need+=(openmpi-bin)
command -v mpicc >/dev/null || need+=(libopenmpi-dev)
dpkg -s libpmix2 >/dev/null 2>&1 || need+=(libpmix2)
command -v slurmctld >/dev/null || need+=(slurm-wlm)
command -v sbatch >/dev/null || need+=(slurm-client)
command -v munged >/dev/null || need+=(munge)
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		say "installing ${need[*]} (best effort)"
		(timeout 120 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq --no-install-recommends "${need[@]}") >/dev/null 2>&1 ||
			say "apt-get could not install them"
	else
		say "missing ${need[*]} and not root with apt-get: cannot install"
	fi
fi
if ! command -v mpirun >/dev/null || ! command -v mpicc >/dev/null; then
	say "SKIP: no Open MPI (mpirun, mpicc); install openmpi-bin and libopenmpi-dev"
	exit 0
fi

D=$(mktemp -d "${TMPDIR:-/tmp}/hesscope-cluster.XXXXXX")
pids=()  # daemons and jobs to stop on exit, in this order
cleanup() {
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
	done
	rm -rf "$D"
}
trap cleanup EXIT

# --- build ----------------------------------------------------------------
say "building (default and -tags mpi) in $D"
go build -o "$D/hesscope" ./cmd/hesscope
CC=mpicc go build -tags mpi -o "$D/hesscope-mpi" ./cmd/hesscope
for p in dist hessian train; do
	CC=mpicc go test -tags mpi -c -o "$D/$p.test" "./$p"
done

export OMPI_MCA_rmaps_base_oversubscribe=1 # 2 ranks also on one core
if [ "$(id -u)" = 0 ]; then
	export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

# mpitests LAUNCHER...: the MPI tests of dist, hessian and train on 2 ranks
# of 1 thread each; prints the differences they measured.
mpitests() {
	local name=$1; shift
	for p in dist hessian train; do
		local s=$SECONDS
		if ! (cd "$D" && HESSCOPE_TEST_RANKS=2 GOMAXPROCS=1 timeout 300 "$@" "$D/$p.test" -test.run 'World|MPI' -test.v) >"$D/$p-$name.log" 2>&1; then
			cat "$D/$p-$name.log"
			fail "$name: the $p tests on 2 ranks failed"
		fi
		[ "$(grep -c -- '^--- PASS' "$D/$p-$name.log")" -ge 2 ] || { cat "$D/$p-$name.log"; fail "$name: $p: not every rank passed"; }
		say "$name: $p on 2 ranks passed ($((SECONDS - s)) s)"
		grep -E 'ranks vs one process|λ[0-9] =' "$D/$p-$name.log" | sed 's/^ */    /' | sort -u || true
	done
}

# --- MPI ------------------------------------------------------------------
mpitests "mpirun -np 2" mpirun -np 2

if mpirun -np 2 "$D/hesscope" version >"$D/refuse.log" 2>&1; then
	fail "a default build under mpirun -np 2 ran"
fi
grep -q "launcher started 2 processes" "$D/refuse.log" || { cat "$D/refuse.log"; fail "a default build under mpirun -np 2: no clear message"; }
say "a default build under mpirun -np 2 refuses: $(grep -m1 'launcher started' "$D/refuse.log")"

# A rank killed mid-run: the job fails, the files are whole, the run resumes.
kill_run() {
	GOMAXPROCS=1 mpirun -np 2 "$D/hesscope-mpi" train -model lenet5 -epochs 1 -train-samples 2048 -test-samples 200 \
		-batch-size 32 -checkpoint-every 2 -out "$D/killed" -resume -quiet
}
kill_run >"$D/kill.log" 2>&1 &
job=$!
pids+=("$job")
deadline=$((SECONDS + 120))
until [ -f "$D/killed/state.safetensors" ]; do
	[ $SECONDS -lt $deadline ] || fail "the run to kill wrote no checkpoint in 120 s"
	kill -0 "$job" 2>/dev/null || { cat "$D/kill.log"; fail "the run to kill ended early"; }
	sleep 0.2
done
victim=""
for p in $(pgrep -f "hesscope-mpi train" || true); do
	if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then victim=$p; fi
done
[ -n "$victim" ] || fail "rank 1 of the run to kill not found"
kill -KILL "$victim"
if wait "$job"; then fail "the job went on after rank 1 was killed"; fi
grep -qiE "signal 9|killed" "$D/kill.log" || { cat "$D/kill.log"; fail "no clear message after rank 1 was killed"; }
say "rank 1 killed: mpirun reports: $(grep -m1 -iE 'signal 9|killed' "$D/kill.log" | sed 's/^ *//')"
if ls -a "$D/killed" | grep -q '\.tmp'; then fail "a temporary file was left in the run folder: $(ls -a "$D/killed")"; fi
kill_run >"$D/resume.log" 2>&1 || { cat "$D/resume.log"; fail "the killed run did not resume"; }
[ -f "$D/killed/final.json" ] || fail "the resumed run did not finish"
say "the killed run's files were whole: it resumed on 2 ranks and finished"

# --- Slurm ----------------------------------------------------------------
if [ "$(id -u)" != 0 ]; then
	say "SKIP Slurm: a private slurmctld/slurmd needs root (SlurmUser=root)"
	exit 0
fi
for c in munged slurmctld slurmd sbatch squeue sinfo srun; do
	command -v "$c" >/dev/null || { say "SKIP Slurm: no $c; install slurm-wlm and munge"; exit 0; }
done
host=$(hostname -s)
mkdir -p "$D/state" "$D/spool" "$D/out"
head -c 1024 /dev/urandom >"$D/munge.key"
chmod 0400 "$D/munge.key"
munged --force --key-file="$D/munge.key" --socket="$D/munge.sock" --pid-file="$D/munged.pid" \
	--log-file="$D/munged.log" --seed-file="$D/munged.seed" </dev/null >/dev/null 2>&1
for _ in $(seq 50); do [ -s "$D/munged.pid" ] && break; sleep 0.1; done
[ -s "$D/munged.pid" ] || fail "munged did not start (see $D/munged.log)"
pids=("$(cat "$D/munged.pid")" "${pids[@]}")
cpus=$(nproc)
mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
export SLURM_CONF=$D/slurm.conf
cat >"$SLURM_CONF" <<EOF
ClusterName=hesscope
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$D/munge.sock
CredType=cred/munge
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
MinJobAge=600
AccountingStorageType=accounting_storage/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
# Daemons first in the list: stopped before anything else is removed.
slurmctld -D -c -f "$SLURM_CONF" </dev/null >"$D/slurmctld.out" 2>&1 &
pids=("$!" "${pids[@]}")
slurmd -D -f "$SLURM_CONF" </dev/null >"$D/slurmd.out" 2>&1 &
pids=("$!" "${pids[@]}")
deadline=$((SECONDS + 30))
until [ "$(timeout 5 sinfo -h -o %T 2>/dev/null | head -1)" = idle ]; do
	[ $SECONDS -lt $deadline ] || { tail "$D/slurmctld.log" "$D/slurmd.log" 2>/dev/null; fail "Slurm did not come up in 30 s"; }
	sleep 0.2
done
say "Slurm up: $cpus CPUs, $mem MiB ($((SECONDS - t0)) s so far)"

# The tiny sweep: 2 units of seconds each, run by Slurm from the emitted
# scripts and locally, with 1 thread both ways.
cat >"$D/sweep.json" <<'EOF'
{
  "model": "mlp", "dataset": "mnist", "batch_sizes": [32, 128], "seeds": 1,
  "train": {"epochs": 1, "lr": 0.05, "lr_scaling": "none", "momentum": 0.9, "train_samples": 512, "test_samples": 500},
  "measure": {"hessian_samples": 64, "top_k": 1, "lanczos_iters": 10, "trace_probes": 2, "density_probes": 1, "density_steps": 5,
    "input_samples": 4, "attack_samples": 50, "deepfool_samples": 10, "saddle_samples": 2, "saddle_steps": 2, "landscape_points": 3}
}
EOF
"$D/hesscope" sweep -config "$D/sweep.json" -out "$D/slurm-sweep" -emit slurm -cpus 1 -mem 800 -time 10m -parallel 2 \
	-sbatch --partition=debug -binary "$D/hesscope" >"$D/emit.log"
s=$SECONDS
sh "$D/slurm-sweep/slurm/submit.sh" >"$D/submit.log" || { cat "$D/submit.log"; fail "submit.sh failed"; }
say "$(head -1 "$D/submit.log")"
"$D/hesscope" sweep -config "$D/sweep.json" -out "$D/local-sweep" -threads 1 -quiet >/dev/null
deadline=$((SECONDS + 300))
while [ -n "$(timeout 5 squeue -h 2>/dev/null || echo busy)" ]; do
	[ $SECONDS -lt $deadline ] || { timeout 5 squeue; fail "the Slurm jobs did not finish in 300 s"; }
	sleep 0.5
done
[ -f "$D/slurm-sweep/results.json" ] || { tail -n 20 "$D"/slurm-sweep/slurm/logs/*.log; fail "the summary job wrote no results.json"; }
say "Slurm ran the emitted array and summary in $((SECONDS - s)) s (the local sweep included); logs: $(cd "$D/slurm-sweep/slurm/logs" && echo *)"
# Equal bit for bit but for the times and the date: JSON and CSV print
# every float in full.
strip_json() { grep -vE '"(created|seconds|train_seconds|measure_seconds)":' "$1"; }
strip_csv() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i ~ /_seconds$/) drop[i] = 1 } { s = ""; for (i = 1; i <= NF; i++) if (!drop[i]) s = s $i ","; print s }' "$1"; }
diff <(strip_json "$D/local-sweep/results.json") <(strip_json "$D/slurm-sweep/results.json") || fail "results.json of the Slurm sweep differs from the local sweep's"
diff <(strip_csv "$D/local-sweep/results.csv") <(strip_csv "$D/slurm-sweep/results.csv") || fail "results.csv of the Slurm sweep differs from the local sweep's"
say "the Slurm sweep's results.json and results.csv equal the local sweep's bit for bit ($(grep -c '"name"' "$D/local-sweep/results.json") runs; times and date excepted)"

# MPI under Slurm's own launcher.
if srun --mpi=list 2>&1 | grep -q pmix; then
	mpitests "srun --mpi=pmix -n 2" srun --mpi=pmix -n 2 -c 1
	if srun -n 2 "$D/hesscope" version >"$D/srun-refuse.log" 2>&1; then fail "a default build under srun -n 2 ran"; fi
	grep -q "launcher started 2 processes" "$D/srun-refuse.log" || { cat "$D/srun-refuse.log"; fail "a default build under srun -n 2: no clear message"; }
	say "a default build under srun -n 2 refuses: $(grep -m1 'launcher started' "$D/srun-refuse.log")"
else
	say "SKIP srun: this Slurm has no pmix plugin (srun --mpi=list)"
fi
say "all checks passed in $((SECONDS - t0)) s"
