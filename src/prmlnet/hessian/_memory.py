"""The memory guard: refuse to form a W×W matrix the machine cannot hold."""

from __future__ import annotations

import os

from ..archive import _fmt_bytes

__all__ = ["HessianMemoryError", "available_memory", "check_matrix_memory", "PEAK_COPIES",
           "WORKSPACE_BYTES"]

#: fraction of the available memory a W×W computation (with its workspace) may take
SAFETY_FRACTION = 0.5

#: Peak memory of each W×W computation in W×W matrices: the result and the
#: temporaries beside it, as measured with tracemalloc (the largest ratio over
#: dense architectures; ``tests/test_hessian_memory.py`` checks that the guard
#: covers the peak). ``exact`` peaks while its per-layer-pair blocks are
#: unpacked into H (about 3.5 for a network with one wide layer);
#: ``laplace`` holds H, its eigenvectors and A = βH + diag(α) at once.
PEAK_COPIES = {"exact": 4.0, "outer_product": 4.0, "finite_difference": 1.5,
               "inverse_outer_product": 2.5, "laplace": 5.0}

#: bytes of per-chunk workspace beside the W×W matrices (the chunked sums over patterns)
WORKSPACE_BYTES = 256 * 2 ** 20


class HessianMemoryError(MemoryError, ValueError):
    """Forming a W×W matrix would exceed the memory this machine has available.

    A ``MemoryError`` (and, so that input validation catches it too, a
    ``ValueError``); raised *before* any work is done.
    """


def available_memory() -> int:
    """Bytes of memory available to this process now (MemAvailable on Linux)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2 ** 40                                   # unknown: do not block


def check_matrix_memory(W: int, itemsize: int = 8, copies: float = 1.0,
                        what: str = "the Hessian", max_bytes=None, workspace: int = 0) -> int:
    """Raise :class:`HessianMemoryError` unless ``copies`` W×W matrices and
    ``workspace`` bytes fit (see :data:`PEAK_COPIES`).

    ``max_bytes`` overrides the limit (default: :data:`SAFETY_FRACTION` of the
    available memory). Returns the bytes needed.
    """
    need = int(copies * W * W * itemsize) + int(workspace)
    limit = int(SAFETY_FRACTION * available_memory()) if max_bytes is None else int(max_bytes)
    if need > limit:
        raise HessianMemoryError(
            f"forming {what} for W = {W} weights needs {_fmt_bytes(need)}, more than the "
            f"{_fmt_bytes(limit)} this machine can spare; use prmlnet.hessian.hvp (H·v) or "
            "prmlnet.hessian.linear_operator (a scipy LinearOperator) instead"
        )
    return need
