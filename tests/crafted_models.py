"""Crafting model files the way an attacker or a careless editor would (for tests).

``rewrite`` edits a real model file's JSON header and arrays and writes a new
archive; ``raw_zip`` writes a zip archive by hand, with member sizes and CRCs
declared as given (true or not), which is how zip bombs are made without ever
holding their decompressed data.
"""

import hashlib
import io
import json
import struct
import zipfile
import zlib

import numpy as np


def npy_bytes(a):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(a), allow_pickle=False)
    return buf.getvalue()


def npy_header(shape, dtype):
    """Just the ``.npy`` header of an array of ``shape`` and ``dtype`` (no data)."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
              "shape": tuple(shape)})
    return buf.getvalue()


def members(path):
    """The raw bytes of each member of an archive, by member name (``w.npy``, ...)."""
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def header_of(path):
    return json.loads(np.load(io.BytesIO(members(path)["header.npy"])).tobytes())


def describe(a):
    a = np.ascontiguousarray(a)
    return {"dtype": a.dtype.str, "shape": list(a.shape),
            "sha256": hashlib.sha256(a.tobytes()).hexdigest(), "object": False}


def write_members(path, raw, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        for name, data in raw.items():
            z.writestr(name, data)
    return path


def rewrite(src, dst, edit=None, arrays=None, header_text=None, redescribe=True):
    """Copy model file ``src`` to ``dst`` with changes.

    ``arrays``: {name: ndarray or None} replaces (or, with None, removes) members,
    updating their descriptions in the header unless ``redescribe`` is False;
    ``edit(header)`` then changes the JSON header in place (or returns a new one);
    ``header_text`` replaces the header's bytes outright.
    """
    raw = members(src)
    header = json.loads(np.load(io.BytesIO(raw["header.npy"])).tobytes())
    for name, a in (arrays or {}).items():
        if a is None:
            raw.pop(name + ".npy", None)
            header["arrays"].pop(name, None)
            continue
        raw[name + ".npy"] = npy_bytes(a)
        if redescribe:
            header["arrays"][name] = describe(a)
    if edit is not None:
        header = edit(header) or header
    text = header_text if header_text is not None else json.dumps(header).encode()
    raw["header.npy"] = npy_bytes(np.frombuffer(text, dtype=np.uint8))
    return write_members(dst, raw)


def raw_zip(path, entries):
    """Write a zip archive by hand.

    ``entries``: list of ``(name, method, data, declared_size, crc)`` where
    ``data`` is the member's stored (or deflated, ``method=8``) bytes and
    ``declared_size`` and ``crc`` are what the headers claim; an entry may
    instead be ``(name, None, offset, declared_size, crc)`` to point its
    directory record at the local header of an earlier entry (overlapping
    members, as in the zip bombs that reuse one compressed body).
    """
    out = io.BytesIO()
    directory = []
    for name, method, data, size, crc in entries:
        name_b = name.encode()
        if method is None:                     # reuse an earlier local header
            offset, (method, csize) = data, directory[0][3:5]
        else:
            offset, csize = out.tell(), len(data)
            out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc, csize,
                                  size, len(name_b), 0))
            out.write(name_b)
            out.write(data)
        directory.append((name_b, crc, size, method, csize, offset))
    start = out.tell()
    for name_b, crc, size, method, csize, offset in directory:
        out.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0, crc,
                              csize, size, len(name_b), 0, 0, 0, 0, 0, offset))
        out.write(name_b)
    end = out.tell()
    n = len(directory)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, min(n, 0xFFFF), min(n, 0xFFFF),
                          end - start, start, 0))
    with open(path, "wb") as f:
        f.write(out.getvalue())
    return path


def deflate(chunks):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return b"".join(c.compress(x) for x in chunks) + c.flush()
