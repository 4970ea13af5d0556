#!/usr/bin/python3
"""Write the small data files nnpress's data-format tests use.

Run from anywhere as

    /usr/bin/python3 tests/data/make_data.py

It needs python3-numpy (and, for the .pb fixture, python3-onnx; without it the
committed .pb is left alone). The output is deterministic: running it again
gives the same bytes. It writes

  tests/data/      fixtures that nnpress must read, most written by NumPy itself
                   (np.save, numpy.lib.format.write_array), so the tests check
                   against the reference writer rather than against our reader;
  tests/corpus/    malformed files, prefixed `data-`, that nnpress must refuse
                   with the error listed in tests/corpus/README (the lines for
                   `data-` files are rewritten, other lines are kept).
"""

import gzip
import io
import os
import struct
import sys

import numpy as np
from numpy.lib import format as npf

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = HERE
CORPUS = os.path.join(os.path.dirname(HERE), "corpus")


def save(path, a, version=None):
    b = io.BytesIO()
    if version is None:
        np.save(b, a)
    else:
        npf.write_array(b, a, version=version)
    with open(path, "wb") as f:
        f.write(b.getvalue())
    return b.getvalue()


def npy_bytes(a):
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


def raw_npy(header_dict_text, data=b"", version=1):
    """A .npy file with a header we write by hand (NumPy would not write it),
    padded the way NumPy pads, so that only the dict is wrong."""
    h = header_dict_text.encode("latin1")
    fixed = 10 if version == 1 else 12
    pad = 64 - (fixed + len(h) + 1) % 64
    h = h + b" " * pad + b"\n"
    fmt = "<H" if version == 1 else "<I"
    return b"\x93NUMPY" + bytes([version, 0]) + struct.pack(fmt, len(h)) + h + data


def idx_bytes(a, type_byte):
    dims = b"".join(struct.pack(">I", d) for d in a.shape)
    head = b"\x00\x00" + bytes([type_byte, a.ndim]) + dims
    return head + a.astype(a.dtype.newbyteorder(">")).tobytes()


def gz(data):
    # mtime=0 and no file name: the same input gives the same bytes
    return gzip.compress(data, compresslevel=9, mtime=0)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def fixtures():
    rng = np.random.default_rng(20240601)
    d = lambda name: os.path.join(DATA, name)

    a = (np.arange(6, dtype=np.float32).reshape(2, 3) * 0.5 - 1.0)
    save(d("f32_2x3_v1.npy"), a)
    save(d("f32_2x3_v2.npy"), a, version=(2, 0))
    save(d("f32_2x3_v3.npy"), a, version=(3, 0))
    # float16 edge values: subnormal, max, inf, -0, nan-free so memcmp works
    save(d("f16_7.npy"), np.array([0, 1, -2.5, 6.1035e-05, 5.96e-08, 65504, -0.0], np.float16))
    save(d("bool_33.npy"), (np.arange(33) % 3 == 0))
    i8 = (np.arange(12, dtype=np.int64) - 6).astype(np.int8)
    save(d("i8_rank7.npy"), i8.reshape(1, 2, 1, 3, 1, 1, 2))
    save(d("u8_scalar.npy"), np.array(200, np.uint8))
    save(d("i32_1.npy"), np.array([-123456789], np.int32))
    save(d("i64_labels.npy"), np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3], np.int64))
    save(d("f64_3.npy"), np.array([1.0 / 3, -1e300, 2.5], np.float64))
    save(d("u8_0x3.npy"), np.zeros((0, 3), np.uint8))
    # a small image set for the streaming reader: 20 samples of [3, 5]
    save(d("u8_images.npy"), rng.integers(0, 256, size=(20, 3, 5), dtype=np.uint8))
    save(d("f32_labels.npy"), np.array([0, 2, 1, 7], np.float32))
    save(d("f32_bad_labels.npy"), np.array([0, 2.5], np.float32))
    # what our reader must refuse even though NumPy wrote it
    save(d("f32_be.npy"), np.arange(4, dtype=">f4"))
    save(d("f32_fortran.npy"), np.asfortranarray(a))
    # NumPy never writes fortran_order True for 1-D data, but it is the same bytes
    write(d("f32_fortran_1d.npy"),
          raw_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (3,), }",
                  np.array([1, 2, 3], np.float32).tobytes()))
    # Python 2 era header: 'L' suffixes on the dims
    write(d("f32_py2_long.npy"),
          raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 1L), }",
                  np.array([7, 8], np.float32).tobytes()))
    # IDX, both spellings, with a non-uint8 type
    imgs = rng.integers(-30000, 30000, size=(4, 2, 3)).astype(np.int16)
    write(d("i16_4x2x3.idx"), idx_bytes(imgs, 0x0B))
    write(d("i16_4x2x3.idx.gz"), gz(idx_bytes(imgs, 0x0B)))
    write(d("f32_3x2.idx"), idx_bytes(np.array([[1.5, -2], [0, 1e-3], [3, 4]], np.float32), 0x0D))
    np.save(d("i16_4x2x3.npy"), imgs)  # the same numbers, for comparison

    try:
        from onnx import numpy_helper
    except ImportError:
        print("make_data.py: python3-onnx missing, leaving the .pb fixture as it is",
              file=sys.stderr)
    else:
        t = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(3, 4) / 4, "input_0")
        write(d("f32_3x4.pb"), t.SerializeToString())


def corpus():
    """Malformed files and the message nnpress must give (after '<path>: ')."""
    c = lambda name: os.path.join(CORPUS, name)
    ok = npy_bytes(np.arange(12, dtype=np.float32).reshape(3, 4))
    rows = []

    write(c("data-bad-magic.npy"), b"\x93NUMPZ" + ok[6:])
    rows.append(("data-bad-magic.npy", "not a .npy file (no \\x93NUMPY magic)"))

    write(c("data-header-truncated.npy"), ok[:40])
    rows.append(("data-header-truncated.npy",
                 "truncated .npy header: header length says 118 bytes, the file ends after 30"))

    write(c("data-big-endian.npy"), npy_bytes(np.arange(4, dtype=">f4")))
    rows.append(("data-big-endian.npy",
                 "big-endian data ('>f4') is not supported; save with dtype '<f4'"))

    write(c("data-fortran.npy"), npy_bytes(np.asfortranarray(np.zeros((2, 3), np.float32))))
    rows.append(("data-fortran.npy",
                 "Fortran-order arrays are not supported; save np.ascontiguousarray(a) instead"))

    write(c("data-short.npy"), ok[:-8])
    rows.append(("data-short.npy",
                 "truncated: header says (3, 4) float32, 48 bytes of data; "
                 "file ends after 40 bytes of data"))

    bad = raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4 }", b"\0" * 48)
    write(c("data-bad-dict.npy"), bad)
    rows.append(("data-bad-dict.npy",
                 "malformed .npy header: expected ',' or ')' in the shape at byte %d"
                 % (bad.index(b" }") + 1)))

    write(c("data-huge-dims.npy"),
          raw_npy("{'descr': '<f4', 'fortran_order': False, "
                  "'shape': (4294967296, 4294967296, 4294967296), }"))
    rows.append(("data-huge-dims.npy",
                 "shape (4294967296, 4294967296, 4294967296) in the .npy header is too large: "
                 "its size in bytes overflows"))

    neg = raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, -4), }", b"\0" * 48)
    write(c("data-negative-dim.npy"), neg)
    rows.append(("data-negative-dim.npy",
                 "malformed .npy header: negative dimension at byte %d" % neg.index(b"-4")))

    # MNIST test-image header, 123 bytes of data
    trunc = b"\x00\x00\x08\x03" + struct.pack(">III", 10000, 28, 28) + bytes(range(123))
    write(c("data-truncated.idx3-ubyte"), trunc)
    rows.append(("data-truncated.idx3-ubyte",
                 "truncated: header says 10000 images of 28x28, file ends after 123 bytes of data"))
    write(c("data-truncated.idx3-ubyte.gz"), gz(trunc))
    rows.append(("data-truncated.idx3-ubyte.gz",
                 "truncated: header says 10000 images of 28x28, file ends after 123 bytes of data"))

    # the magic written little-endian, a common slip
    write(c("data-bad-magic.idx"), b"\x03\x08\x00\x00" + struct.pack(">III", 1, 2, 2) + bytes(4))
    rows.append(("data-bad-magic.idx",
                 "not an IDX file (magic 0x03080000; IDX files start 00 00 <type> <rank>)"))
    return rows


def update_readme(rows):
    path = os.path.join(CORPUS, "README")
    keep = []
    if os.path.exists(path):
        with open(path) as f:
            keep = [line.rstrip("\n") for line in f if not line.startswith("data-")]
    if not keep:
        keep = ["# tests/corpus: malformed inputs nnpress must refuse cleanly, replayed by",
                "# `make check`. One line per file: the file name, a tab, then the error",
                "# message that must follow \"<path>: \" (exit status 1, no crash, no output).",
                ]
    lines = keep + ["%s\t%s" % r for r in rows]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    os.makedirs(DATA, exist_ok=True)
    os.makedirs(CORPUS, exist_ok=True)
    fixtures()
    update_readme(corpus())


if __name__ == "__main__":
    main()
