#!/usr/bin/env python3
"""Write a small seed corpus for build/fuzz/fuzz_gguf: the header region of
each GGUF given, with every array cut to 8 elements (tensor data is not
included: the fuzzer also parses each input as the header of a 64 GiB file).

usage: tests/fuzz/gguf_seeds.py OUT_DIR file.gguf...
"""
import os
import struct
import sys

SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "B", 10: "Q", 11: "q", 12: "d"}


class Reader:
    def __init__(self, f):
        self.f = f

    def raw(self, n):
        b = self.f.read(n)
        if len(b) != n:
            raise EOFError
        return b

    def u32(self):
        return struct.unpack("<I", self.raw(4))[0]

    def u64(self):
        return struct.unpack("<Q", self.raw(8))[0]

    def str(self):
        return self.raw(self.u64())

    def value(self, t, cut):
        """Return the value re-serialized, arrays cut to `cut` elements."""
        if t == 8:
            s = self.str()
            return struct.pack("<Q", len(s)) + s
        if t == 9:
            et, n = self.u32(), self.u64()
            items = [self.value(et, cut) for _ in range(n)]
            keep = items[:cut]
            return struct.pack("<IQ", et, len(keep)) + b"".join(keep)
        fmt = "<" + SCALAR[t]
        return self.raw(struct.calcsize(fmt))


def shrink(path, cut=8):
    with open(path, "rb") as f:
        r = Reader(f)
        magic, version, n_t, n_kv = struct.unpack("<4sIQQ", r.raw(24))
        out = [struct.pack("<4sIQQ", magic, version, n_t, n_kv)]
        for _ in range(n_kv):
            k = r.str()
            t = r.u32()
            out.append(struct.pack("<Q", len(k)) + k + struct.pack("<I", t) + r.value(t, cut))
        for _ in range(n_t):
            name = r.str()
            nd = r.u32()
            dims = r.raw(8 * nd)
            typ_off = r.raw(12)
            out.append(struct.pack("<Q", len(name)) + name + struct.pack("<I", nd) + dims + typ_off)
        blob = b"".join(out)
        return blob + b"\0" * (-len(blob) % 32)


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    for p in sys.argv[2:]:
        blob = shrink(p)
        name = os.path.join(out_dir, os.path.basename(p) + ".hdr")
        with open(name, "wb") as f:
            f.write(blob)
        print(f"{name}: {len(blob)} bytes")


if __name__ == "__main__":
    main()
