#!/bin/sh
# collect.sh SWEEP DEST — summarize a reproduction sweep with this checkout's
# code and copy what documents it into DEST: results.json, results.csv,
# report.html, sweep.json, the figures and the printed summary (no
# checkpoints or model files). Run from the repository root, e.g.
#
#	docs/reproduction/collect.sh /work/repro/mnist docs/reproduction/mnist
set -eu
if [ $# -ne 2 ]; then
	echo "usage: $0 SWEEP-FOLDER DEST-FOLDER" >&2
	exit 2
fi
src=$1 dst=$2
mkdir -p "$dst/figures"
go run ./cmd/hesscope sweep -out "$src" -summarize -quiet > "$dst/summary.txt"
cp "$src/results.json" "$src/results.csv" "$src/report.html" "$src/sweep.json" "$dst/"
cp "$src"/figures/*.svg "$src"/figures/*.png "$dst/figures/"
cat "$dst/summary.txt"
