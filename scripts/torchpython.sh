#!/usr/bin/env bash
# torchpython.sh: prints the first Python that imports torch among
# $TORCH_PYTHON, python3, /usr/bin/python3 and /usr/local/bin/python3, and
# exits 1, printing nothing, if none does. device_check.sh and
# device_cpu.sh use it on the accelerator machine.
for c in ${TORCH_PYTHON:-} python3 /usr/bin/python3 /usr/local/bin/python3; do
	if command -v "$c" >/dev/null && "$c" -c 'import torch' 2>/dev/null; then
		echo "$c"
		exit 0
	fi
done
exit 1
