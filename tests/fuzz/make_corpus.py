"""Write a small seed corpus for fuzz_safetensors: valid files of every dtype, metadata,
0-d / empty tensors, and a few near-valid corruptions (python3 make_corpus.py DIR)."""
import json
import os
import struct
import sys


def st(header, data=b""):
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def main(out):
    os.makedirs(out, exist_ok=True)
    seeds = {
        "f32": st({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}, struct.pack("<4f", 1, 2, 3, 4)),
        "mixed": st({"__metadata__": {"format": "pt"},
                     "a": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]},
                     "b": {"dtype": "I64", "shape": [1], "data_offsets": [16, 24]},
                     "c": {"dtype": "BOOL", "shape": [3], "data_offsets": [24, 27]}},
                    struct.pack("<2dq", 0.5, -1.0, 7) + b"\x01\x00\x01"),
        "scalar_empty": st({"s": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]},
                            "e": {"dtype": "F32", "shape": [0, 5], "data_offsets": [4, 4]}}, struct.pack("<f", 3.5)),
        "empty": st({}),
        "overlap": st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                       "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12)),
        "bad_dtype": st({"a": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}}, bytes(4)),
        "truncated": st({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, bytes(9)),
        "long_header": struct.pack("<Q", 1 << 40) + b"{}",
    }
    for name, raw in seeds.items():
        with open(os.path.join(out, name + ".safetensors"), "wb") as f:
            f.write(raw)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build-fuzz/corpus")
