"""Manual cross-check of hesscope/checkpoint against PyTorch (not run by go test).

    python3 torch_crosscheck.py load FILE   # load a Go-written state dict of
                                            # Sequential(Linear(3,2), BatchNorm1d(2))
                                            # with load_state_dict(strict=True)
    python3 torch_crosscheck.py save FILE   # write such a state dict from PyTorch

It uses safetensors.torch when installed; otherwise an independent
implementation of the format that follows the reference implementation
(validation of offsets, order by decreasing dtype alignment then name, header
padded with spaces to 8 bytes). pyref_bn.safetensors was written by "save"
with that fallback and torch 1.13 (Debian python3-torch).
"""
import json
import struct
import sys

import torch

DT = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}
NAME = {v: k for k, v in DT.items()}
SIZE = {"F32": 4, "F64": 8, "I64": 8}
RANK = {"F32": 11, "F64": 12, "I64": 13}  # order of the reference Dtype enum


def load(path):
    b = open(path, "rb").read()
    (n,) = struct.unpack("<Q", b[:8])
    assert n % 8 == 0 and n <= 100_000_000 and 8 + n <= len(b)
    hdr = json.loads(b[8 : 8 + n].decode("utf-8"))
    meta = hdr.pop("__metadata__", None)
    data = b[8 + n :]
    pos, out = 0, {}
    for name, info in sorted(hdr.items(), key=lambda kv: kv[1]["data_offsets"]):
        s, e = info["data_offsets"]
        assert s == pos and e >= s, name
        numel = 1
        for d in info["shape"]:
            numel *= d
        size = SIZE[info["dtype"]]
        assert e - s == numel * size and s % size == 0, name
        dtype = DT[info["dtype"]]
        if e > s:
            out[name] = torch.frombuffer(bytearray(data[s:e]), dtype=dtype).reshape(info["shape"])
        else:
            out[name] = torch.zeros(info["shape"], dtype=dtype)
        pos = e
    assert pos == len(data)
    return out, meta


def save(tensors, path, metadata=None):
    items = sorted(tensors.items(), key=lambda kv: (-RANK[NAME[kv[1].dtype]], kv[0]))
    hdr, off, blobs = {}, 0, []
    if metadata is not None:
        hdr["__metadata__"] = metadata
    for name, t in items:
        raw = t.contiguous().numpy().tobytes()
        hdr[name] = {"dtype": NAME[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blobs.append(raw)
    h = json.dumps(hdr, separators=(",", ":"), ensure_ascii=False).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


try:
    from safetensors.torch import load_file, save_file

    def load(path):  # noqa: F811
        return load_file(path), None

    def save(tensors, path, metadata=None):  # noqa: F811
        save_file(tensors, path, metadata)

    print("using safetensors.torch")
except ImportError:
    print("safetensors not installed: using the built-in reader/writer")


def model():
    return torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))


if sys.argv[1] == "load":
    sd, meta = load(sys.argv[2])
    print("metadata", meta)
    sd = {k: v for k, v in sd.items() if not k.startswith("extra.")}
    m = model()
    print(m.load_state_dict(sd, strict=True))
    for k, v in m.state_dict().items():
        print(k, v.dtype, tuple(v.shape), v.flatten().tolist())
elif sys.argv[1] == "save":
    torch.manual_seed(0)
    m = model()
    m.train()
    m(torch.randn(5, 3))  # running stats move, num_batches_tracked = 1
    sd = m.state_dict()
    for k, v in sd.items():
        print(k, v.dtype, tuple(v.shape), v.flatten().tolist())
    save(sd, sys.argv[2], {"format": "pt"})
