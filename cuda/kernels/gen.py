#!/usr/bin/env python3
"""Compile kernels.cu to kernels.ptx (compute_90) with NVRTC and check it with ptxas.

Run from anywhere with the Python of a venv (outside the repository) that has
PyPI's nvidia-cuda-nvrtc-cu12 and nvidia-cuda-nvcc-cu12 (ptxas), both 12.9:

    python3 -m venv /work/venv-cuda
    /work/venv-cuda/bin/pip install nvidia-cuda-nvrtc-cu12==12.9.86 nvidia-cuda-nvcc-cu12==12.9.86
    /work/venv-cuda/bin/python cuda/kernels/gen.py

CUDA 12.9 writes PTX ISA 8.8, which every driver from CUDA 12.9 on (the
accelerator machine has 13.0) JIT-compiles; a CUDA 13.x NVRTC would write an
ISA that older drivers refuse. The output depends only on kernels.cu and the
NVRTC version, so the script is reproducible: rerunning it leaves
kernels.ptx unchanged.
"""
import ctypes
import os
import subprocess
import sys

import nvidia  # the namespace package of the nvidia-* wheels

here = os.path.dirname(os.path.abspath(__file__))
root = [p for p in nvidia.__path__][0]
nvrtc = ctypes.CDLL(os.path.join(root, "cuda_nvrtc", "lib", "libnvrtc.so.12"))
ptxas = os.path.join(root, "cuda_nvcc", "bin", "ptxas")

ARCH = "compute_90"
OPTIONS = [b"--gpu-architecture=" + ARCH.encode(), b"--std=c++17", b"--fmad=false"]


def check(status, prog=None):
    if status != 0:
        nvrtc.nvrtcGetErrorString.restype = ctypes.c_char_p
        msg = nvrtc.nvrtcGetErrorString(status).decode()
        if prog is not None:
            size = ctypes.c_size_t()
            nvrtc.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
            log = ctypes.create_string_buffer(size.value)
            nvrtc.nvrtcGetProgramLog(prog, log)
            msg += "\n" + log.value.decode()
        sys.exit("gen.py: NVRTC: " + msg)


def main():
    src = open(os.path.join(here, "kernels.cu"), "rb").read()
    prog = ctypes.c_void_p()
    check(nvrtc.nvrtcCreateProgram(ctypes.byref(prog), src, b"kernels.cu", 0, None, None))
    opts = (ctypes.c_char_p * len(OPTIONS))(*OPTIONS)
    check(nvrtc.nvrtcCompileProgram(prog, len(OPTIONS), opts), prog)
    size = ctypes.c_size_t()
    check(nvrtc.nvrtcGetPTXSize(prog, ctypes.byref(size)))
    ptx = ctypes.create_string_buffer(size.value)
    check(nvrtc.nvrtcGetPTX(prog, ptx))
    nvrtc.nvrtcDestroyProgram(ctypes.byref(prog))
    out = os.path.join(here, "kernels.ptx")
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(ptx.value)
    # The PTX must assemble for the H200 (sm_90).
    subprocess.run([ptxas, "-arch=sm_90", tmp, "-o", os.devnull], check=True)
    os.replace(tmp, out)
    print("gen.py: wrote", out, len(ptx.value), "bytes")


main()
