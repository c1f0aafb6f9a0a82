"""Data files for the command line: CSV tables with a header, or ``.npz`` archives.

A CSV file (``.csv``; tab-separated for ``.tsv``) must start with a header line
naming its columns. Numeric columns become float64 arrays; a column with any
cell that is not a number stays a column of strings (useful only as class
labels). A ``.npz`` archive holds one 1-D array per column, the member names
being the column names; it is read with ``allow_pickle=False``.

Every problem is reported as a one-line :class:`ValueError` that names the
file, the column and the line numbers (as an editor shows them: the header is
line 1), and says how to fix it. Nothing here imports scikit-learn.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass

import numpy as np

from ..archive import ArchiveError, NpzReader, open_regular
from ..hessian._memory import available_memory

__all__ = ["Table", "read_table"]


def _lines_text(lines, limit=5):
    lines = [int(v) for v in lines]
    head = ", ".join(str(v) for v in lines[:limit])
    more = f" and {len(lines) - limit} more" if len(lines) > limit else ""
    return f"line{'s' if len(lines) > 1 else ''} {head}{more}"


@dataclass
class Table:
    """Columns read from a data file.

    Attributes
    ----------
    path : str
    columns : list of str
        Column names in file order.
    values : dict of str -> ndarray of shape (N,)
        float64 for numeric columns (empty cells are NaN), strings otherwise.
    lines : ndarray of shape (N,)
        The file line of each row (CSV), or the row number + 1 (``.npz``).
    """

    path: str
    columns: list
    values: dict
    lines: np.ndarray

    @property
    def n_rows(self) -> int:
        return int(self.lines.shape[0])

    def require(self, names, what="column"):
        """Raise ValueError unless every name in ``names`` is a column."""
        missing = [n for n in names if n not in self.values]
        if missing:
            have = ", ".join(repr(c) for c in self.columns[:20])
            more = ", ..." if len(self.columns) > 20 else ""
            raise ValueError(
                f"{self.path} has no {what}{'s' if len(missing) > 1 else ''} "
                f"{', '.join(repr(m) for m in missing)}; its columns are {have}{more}")

    def numeric(self, names, role="input", leave_out=None):
        """The named columns as a finite float64 matrix (N, len(names)), or ValueError.

        ``leave_out``: the command-line option that leaves a column out (``--ignore``),
        named in the message about a column that is not numeric.
        """
        self.require(names)
        for n in names:
            v = self.values[n]
            if v.dtype.kind not in "fiub":
                bad = np.flatnonzero([c.strip() != "" and not _is_number(c) for c in v])
                fix = (f"fix those cells, or leave the column out with {leave_out} {n}"
                       if leave_out else "fix those cells or drop the column")
                raise ValueError(
                    f"{role} column {n!r} of {self.path} must be numeric but "
                    f"{_lines_text(self.lines[bad])} hold{'s' if bad.size == 1 else ''} "
                    f"non-numbers such as {str(v[bad[0]])!r}; {fix}")
        X = np.column_stack([self.values[n].astype(np.float64) for n in names]) if names \
            else np.empty((self.n_rows, 0))
        finite = np.isfinite(X)
        if not finite.all():
            parts = []
            for j in np.flatnonzero(~finite.all(axis=0)):
                parts.append(f"column {names[j]!r} ({_lines_text(self.lines[~finite[:, j]])})")
            raise ValueError(
                f"{self.path} has missing, NaN or infinite values in {'; '.join(parts)}; "
                "remove or fill those rows")
        return X

    def labels(self, name):
        """A column of class labels: strings, or integers when every value is whole."""
        self.require([name], "target column")
        v = self.values[name]
        if v.dtype.kind == "f":
            bad = ~np.isfinite(v)
            if bad.any():
                raise ValueError(
                    f"target column {name!r} of {self.path} has missing, NaN or infinite "
                    f"labels on {_lines_text(self.lines[bad])}; remove or fill those rows")
            if np.all(v == np.round(v)) and np.all(np.abs(v) < 2**53):
                return v.astype(np.int64)
            return v
        empty = np.flatnonzero(np.char.str_len(v.astype(str)) == 0)
        if empty.size:
            raise ValueError(f"target column {name!r} of {self.path} has empty labels on "
                             f"{_lines_text(self.lines[empty])}; remove or fill those rows")
        return v


def _is_number(cell) -> bool:
    try:
        float(cell)
        return True
    except (TypeError, ValueError):
        return False


def _column(cells):
    """float64 if every non-empty cell is a number (empty -> NaN), else strings."""
    try:
        return np.asarray(cells, dtype=np.float64)
    except ValueError:
        pass
    out = np.empty(len(cells), dtype=np.float64)
    for i, c in enumerate(cells):
        c = c.strip()
        if c == "":
            out[i] = np.nan
            continue
        try:
            out[i] = float(c)
        except ValueError:
            return np.array([c.strip() for c in cells], dtype=str)
    return out


def _read_csv(path):
    delimiter = "\t" if path.lower().endswith(".tsv") else ","
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, delimiter=delimiter)
        header = None
        rows, lines = [], []
        try:
            for row in reader:
                if not row or all(c.strip() == "" for c in row):
                    continue
                if header is None:
                    header = [c.strip() for c in row]
                    header_line = reader.line_num
                    continue
                if len(row) != len(header):
                    raise ValueError(
                        f"line {reader.line_num} of {path} has {len(row)} cells but the "
                        f"header (line {header_line}) names {len(header)} columns; "
                        "every row needs one cell per column")
                rows.append(row)
                lines.append(reader.line_num)
        except csv.Error as e:
            raise ValueError(f"{path} is not a readable CSV file (line {reader.line_num}: "
                             f"{e})") from None
        except UnicodeDecodeError:
            raise ValueError(f"{path} is not a text CSV file (it is not UTF-8); "
                             "give a CSV file with a header line") from None
    if header is None:
        raise ValueError(f"{path} is empty; give a CSV file with a header line and data rows")
    if all(_is_number(c) for c in header):
        raise ValueError(
            f"{path} has no header: its first line {delimiter.join(header)[:60]!r} holds "
            "numbers; add a first line naming the columns (for example x1,x2,y)")
    for j, c in enumerate(header):
        if c == "":
            raise ValueError(f"column {j + 1} of {path} has an empty name in the header; "
                             "name every column")
    dup = sorted({c for c in header if header.count(c) > 1})
    if dup:
        raise ValueError(f"{path} names columns {', '.join(map(repr, dup))} more than once; "
                         "give every column a distinct name")
    if not rows:
        raise ValueError(f"{path} has a header but no data rows")
    columns = list(zip(*rows))
    values = {name: _column(list(cells)) for name, cells in zip(header, columns)}
    return Table(path, header, values, np.asarray(lines, dtype=np.int64))


def _read_npz(path):
    """The columns of a ``.npz`` archive, read within bounds (:class:`NpzReader`): every
    header is checked — 1-D, one length, numbers or strings, and together smaller than
    the memory available — before any array is decompressed."""
    try:
        with open_regular(path, "data file") as f, NpzReader(f, path) as z:
            headers = {k: z.header(k) for k in z.members}
            n = {sh[0] if len(sh) == 1 else None for _, sh in headers.values()}
            if None in n or len(n) > 1:
                shapes = {k: sh for k, (_, sh) in headers.items()}
                raise ValueError(f"{path} must hold 1-D arrays of one length, one per column; "
                                 f"got shapes {shapes}")
            need = sum(math.prod(sh) * max(dt.itemsize, 8) for dt, sh in headers.values())
            memory = available_memory()
            if need > memory:
                raise ValueError(f"{path} declares columns that would take {need / 2 ** 30:.1f} "
                                 f"GiB, more than this machine's {memory / 2 ** 30:.1f} GiB of "
                                 "available memory; refusing it")
            arrays = {k: z.read(k)[0] for k in headers}
    except ArchiveError as e:
        msg = str(e)
        if "pickled" in msg:
            raise ValueError(f"refusing to read {path}: it holds pickled Python objects, "
                             "which can run code when loaded") from None
        raise ValueError(msg) from None
    if not arrays:
        raise ValueError(f"{path} holds no arrays; store one 1-D array per column")
    N = n.pop()
    if N == 0:
        raise ValueError(f"{path} has no data rows (its arrays are empty)")
    values = {}
    for k, a in arrays.items():
        if a.dtype.kind in "biuf":
            values[k] = a.astype(np.float64)
        elif a.dtype.kind in "US":
            values[k] = a.astype(str)
        else:
            raise ValueError(f"array {k!r} of {path} has dtype {a.dtype}; use numbers or strings")
    return Table(path, list(arrays), values, np.arange(1, N + 1))


def read_table(path) -> Table:
    """Read a CSV file with a header line, or a ``.npz`` archive of columns.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        Empty file, no header, ragged rows, unreadable content — with a
        one-line message.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"{path} is a folder; give a CSV or .npz file")
    if not os.path.exists(path):
        raise FileNotFoundError(f"data file {path} does not exist")
    if os.path.getsize(path) == 0:
        raise ValueError(f"{path} is empty; give a CSV file with a header line and data rows")
    with open(path, "rb") as f:
        magic = f.read(4)
    if path.lower().endswith(".npz") or magic == b"PK\x03\x04":
        return _read_npz(path)
    return _read_csv(path)
