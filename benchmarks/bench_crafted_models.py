"""Crafted model files: how each ends, and the memory that loading the bombs takes.

Crafts every case of ``tests/test_modelfile_crafted.py`` (malformed headers,
files with a wrong meaning, zip bombs) and loads each in a fresh child process
under an address-space limit (``resource.setrlimit``), printing the outcome,
the file's size, the child's peak resident memory above its start (after the
imports) and the traced peak of NumPy's allocations during the load. With
``--before PATH`` the same files are also loaded by the prmlnet at ``PATH/src``
(an older checkout, say) for comparison.

    python benchmarks/bench_crafted_models.py [--limit-gib 2] [--before ../old-checkout]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import warnings
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

CHILD = textwrap.dedent("""
    import json, resource, sys, tracemalloc
    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from prmlnet import estimators

    def status(field):
        for line in open("/proc/self/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024

    with open("/proc/self/clear_refs", "w") as f:     # reset the peak (VmHWM) to now
        f.write("5")
    rss0 = status("VmRSS")
    out = {}
    tracemalloc.start()
    try:
        estimators.load(sys.argv[2])
        out["outcome"] = "LOADED"
    except MemoryError as e:
        out["outcome"] = "MemoryError"
    except (ValueError, OSError) as e:
        out["outcome"] = "refused"
        out["message"] = str(e)
    except BaseException as e:
        out["outcome"] = type(e).__name__
        out["message"] = str(e)[:200]
    out["traced_peak"] = tracemalloc.get_traced_memory()[1]
    out["rss_delta"] = status("VmHWM") - rss0
    print(json.dumps(out))
""")


def load_in_child(path, limit, src):
    env = dict(os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-c", CHILD, str(limit), str(path)], capture_output=True,
                       text=True, env=env, timeout=600)
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"outcome": f"died (rc {r.returncode})", "traced_peak": 0, "rss_delta": 0,
                "message": r.stderr.strip().splitlines()[-1][:200] if r.stderr.strip() else ""}


def real_bombs(real, d):
    """Bombs whose compressed data really expand to what they declare (built here only:
    compressing gigabytes takes seconds)."""
    import numpy as np
    from crafted_models import header_of, npy_bytes, npy_header, raw_zip

    def stream(chunks):
        c = zlib.compressobj(1, zlib.DEFLATED, -15)
        out, crc = [], 0
        for chunk in chunks:
            out.append(c.compress(chunk))
            crc = zlib.crc32(chunk, crc)
        out.append(c.flush())
        return b"".join(out), crc

    def zero_chunks(n, block=16 * 2 ** 20):
        for start in range(0, n, block):
            yield bytes(min(block, n - start))

    paths = {}
    # a real header followed by 1 GiB of spaces: valid JSON, 1 GiB of text
    text = json.dumps(header_of(real["reg"])).encode()
    head = npy_header((len(text) + 2 ** 30,), np.uint8)
    body, crc = stream([head, text] + [b" " * 2 ** 24] * 64)
    hdr_size = len(head) + len(text) + 2 ** 30
    paths["real_header_1GiB"] = raw_zip(d / "real_header_1GiB.npz",
                                        [("header.npy", 8, body, hdr_size, crc)])
    # a consistent model of W = 167,772,161 weights: 1.25 GiB of zeros, 1.3 MB on disk
    h = header_of(real["reg"])
    h["network"]["sizes"] = [3, 2 ** 25, 1]
    W = 4 * 2 ** 25 + 2 ** 25 + 1
    h["arrays"] = {"w": {"dtype": "<f8", "shape": [W], "sha256": "0" * 64, "object": False}}
    hbytes = npy_bytes(np.frombuffer(json.dumps(h).encode(), np.uint8))
    whead = npy_header((W,), np.float64)
    wbody, wcrc = stream([whead, *zero_chunks(8 * W)])
    paths["real_weights_1.25GiB"] = raw_zip(
        d / "real_weights.npz", [("header.npy", 0, hbytes, len(hbytes), zlib.crc32(hbytes)),
                                 ("w.npy", 8, wbody, len(whead) + 8 * W, wcrc)])
    return paths


def mib(n):
    return f"{n / 2 ** 20:8.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit-gib", type=float, default=2.0, help="address-space limit per child")
    ap.add_argument("--before", default=None, help="another prmlnet checkout to compare")
    args = ap.parse_args()
    limit = int(args.limit_gib * 2 ** 30)
    import test_modelfile_crafted as crafted_cases

    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tmp = Path(tmp)
        (tmp / "real").mkdir()
        (tmp / "crafted").mkdir()
        real = crafted_cases.make_real(tmp / "real")
        files = crafted_cases.make_crafted(real, tmp / "crafted")
        files.update(real_bombs(real, tmp / "crafted"))
        groups = {"header": crafted_cases.HEADER_CASES, "meaning": crafted_cases.MEANING_CASES,
                  "bomb": {**crafted_cases.BOMB_CASES,
                           **dict.fromkeys(["real_header_1GiB", "real_weights_1.25GiB"])}}
        print(f"address-space limit per child: {args.limit_gib:g} GiB; memory in MiB")
        head = f"{'case':24s} {'group':8s} {'file':>8s} {'rss+':>8s} {'traced':>8s}  outcome"
        print(head + ("   | before: outcome, rss+" if args.before else ""))
        tally = {}
        largest = max(files, key=lambda n: files[n].stat().st_size)
        for group, cases in groups.items():
            for name in cases:
                r = load_in_child(files[name], limit, HERE.parent / "src")
                key = (group, r["outcome"])
                tally[key] = tally.get(key, 0) + 1
                line = (f"{name:24s} {group:8s} {mib(files[name].stat().st_size)} "
                        f"{mib(r['rss_delta'])} {mib(r['traced_peak'])}  {r['outcome']}")
                if args.before:
                    b = load_in_child(files[name], limit, Path(args.before) / "src")
                    line += f"   | {b['outcome']}, {mib(b['rss_delta']).strip()}"
                print(line + ("   <- largest file" if name == largest else ""))
        print("\noutcomes:", ", ".join(f"{g} {o}: {n}" for (g, o), n in sorted(tally.items())))


if __name__ == "__main__":
    main()
