# bench/lib.sh: checks and the timing step shared by bench/torch_compare.sh
# and scripts/device_cpu.sh (sourced, not run; development tooling only).
# $prog names the calling script in messages and must be set before this
# file is sourced (it checks BENCH_TIMEOUT then); $py is a Python with
# torch and $res the JSON-lines results file when bench_step runs.

# want_count NAME VALUE MAX: VALUE must be a whole number from 1 to MAX;
# else one line and exit 2. Prints nothing.
want_count() {
	if ! [[ $2 =~ ^[0-9]{1,9}$ ]] || ((10#$2 < 1 || 10#$2 > $3)); then
		echo "$prog: $1=$2: want a whole number from 1 to $3" >&2
		exit 2
	fi
}

# want_models NAME MODELS: MODELS must name at least one model of the zoo
# and nothing else; else one line and exit 2.
want_models() {
	local m
	[ -n "${2// /}" ] || { echo "$prog: $1 is empty: want at least one model" >&2; exit 2; }
	for m in $2; do
		case $m in
		mlp | lenet5 | c1 | c2 | resnet20 | resnet18) ;;
		*)
			echo "$prog: model $m in $1: want mlp, lenet5, c1, c2, resnet20 or resnet18" >&2
			exit 2
			;;
		esac
	done
}

# bench_timeout: the seconds a timing step may take, $BENCH_TIMEOUT (default
# 300), checked when this file is sourced, before any work.
bench_timeout=${BENCH_TIMEOUT:-300}
want_count BENCH_TIMEOUT "$bench_timeout" 86400
bench_timeout=$((10#$bench_timeout)) # 08 is 8

# bench_step SIDE CMD...: runs one timing command (at most $bench_timeout
# seconds) and appends its JSON object, with "side": SIDE added, to $res; a
# failing or timed-out command ends the run with one line after its own
# message.
bench_step() {
	local name=$1 json rc=0
	shift
	json=$(timeout "$bench_timeout" "$@") || rc=$?
	if ((rc == 124)); then
		echo "$prog: the $name step took more than $bench_timeout s and was stopped (fewer reps, or BENCH_TIMEOUT=seconds): $*" >&2
		exit 1
	elif ((rc != 0)); then
		echo "$prog: the $name step failed (its message above): $*" >&2
		exit 1
	fi
	printf '%s\n' "$json" | "$py" -c 'import json,sys; d=json.load(sys.stdin); d["side"]=sys.argv[1]; print(json.dumps(d))' "$name" >>"$res"
}
