"""Data files named on the command line: checked before any work starts, read with errors that name
the file (empty, truncated or corrupt files, a `.gz` that is not gzip) instead of a reader's traceback."""
from __future__ import annotations

import glob
import os
import sys
from typing import List, Optional, Sequence

import pandas as pd

KINDS = {".csv": "csv", ".parquet": "parquet", ".tfrecord": "tfrecord", ".tfrecords": "tfrecord", ".gz": "tfrecord"}
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"


def data_files(path: str, flag: str = "--data") -> List[str]:
    """The files `path` names (itself, or the data files of a directory), all of one format."""
    if os.path.isdir(path):
        files = sorted(f for f in glob.glob(os.path.join(path, "*")) if os.path.splitext(f)[1] in KINDS)
        if not files:
            raise ValueError(f"{flag} {path!r} is a directory without .csv, .parquet or .tfrecord files.")
    elif not os.path.exists(path):
        raise ValueError(f"{flag} {path!r} does not exist; give a CSV, Parquet or TFRecord file or a directory.")
    elif os.path.splitext(path)[1] not in KINDS:
        raise ValueError(f"{flag} {path!r}: unknown format; use a .csv, .parquet, .tfrecord or .tfrecord.gz file.")
    else:
        files = [path]
    kinds = {KINDS[os.path.splitext(f)[1]] for f in files}
    if len(kinds) > 1:
        raise ValueError(f"{flag} {path!r} mixes formats {sorted(kinds)}; keep one format per directory.")
    return files


def check_file(path: str, flag: str = "--data") -> None:
    """Raises a ValueError naming `path` when it is not a readable, non-empty file whose first (and, for
    Parquet, last) bytes fit its extension. Reads at most 8 bytes."""
    if not os.path.isfile(path):
        raise ValueError(f"{flag}: {path!r} is not a file.")
    size = os.path.getsize(path)
    if size == 0:
        raise ValueError(f"{flag}: file {path!r} is empty (0 bytes). Fix: write it again or remove it.")
    try:
        with open(path, "rb") as f:
            head = f.read(4)
            tail = b""
            if path.endswith(".parquet") and size >= 8:
                f.seek(-4, os.SEEK_END)
                tail = f.read(4)
    except OSError as err:
        raise ValueError(f"{flag}: cannot read {path!r}: {err.strerror}.") from None
    if path.endswith(".gz") and not head.startswith(_GZIP_MAGIC):
        raise ValueError(f"{flag}: {path!r} ends in .gz but is not gzip-compressed. Fix: rename it to "
                         ".tfrecord if it holds plain TFRecords, or compress it with gzip.")
    if path.endswith(".parquet") and (head != _PARQUET_MAGIC or tail != _PARQUET_MAGIC):
        raise ValueError(f"{flag}: {path!r} is not a complete Parquet file (no PAR1 "
                         f"{'header' if head != _PARQUET_MAGIC else 'footer'}: truncated or not Parquet). "
                         "Fix: write or copy it again.")


def file_columns(path: str) -> Optional[List[str]]:
    """The column names of a CSV (its header) or Parquet file (its schema); None for TFRecords."""
    kind = KINDS.get(os.path.splitext(path)[1])
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        if kind == "csv":
            return list(pd.read_csv(path, nrows=0).columns)
    except Exception as err:  # pyarrow and pandas raise many types for unreadable files
        raise ValueError(f"cannot read the columns of {path!r}: {err}") from None
    return None


def read_data(path: str, flag: str = "--data") -> pd.DataFrame:
    """`mtl_keras.data.read_table(path)` after `check_file` on each file; reader errors become a
    ValueError naming the file, and a file set without rows is an error."""
    from mtl_keras.data import read_table

    files = data_files(path, flag)
    for name in files:
        check_file(name, flag)
    try:
        frame = read_table(path)
    except Exception as err:
        if not _is_reader_error(err):
            raise
        raise ValueError(_locate(files, flag, err)) from None
    if len(frame) == 0:
        raise ValueError(f"{flag} {path!r} holds no rows" + (f" ({len(files)} files)" if len(files) > 1 else "")
                         + ". Fix: give a log with at least one row.")
    return frame


def _is_reader_error(err: Exception) -> bool:
    if isinstance(err, (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, OSError)):
        return True
    if type(err).__module__.startswith("pyarrow"):
        return True
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(err, tf.errors.OpError)


def _locate(files: Sequence[str], flag: str, err: Exception) -> str:
    """The message for the first of `files` that fails to read on its own (the error path only)."""
    from mtl_keras import example_codec

    for name in files:
        kind = KINDS[os.path.splitext(name)[1]]
        if kind == "tfrecord":
            message = example_codec.unreadable_file([name])
            if message:
                return f"{flag}: {message}"
            continue
        try:
            pd.read_csv(name) if kind == "csv" else pd.read_parquet(name)
        except Exception as file_err:
            return f"{flag}: cannot read {kind.upper()} file {name!r}: {_first_line(file_err)}"
    return f"{flag}: cannot read {files[0] if len(files) == 1 else files}: {_first_line(err)}"


def _first_line(err: Exception) -> str:
    text = getattr(err, "message", None) or str(err) or type(err).__name__
    return text.split("}} ", 1)[-1].split(" [Op:", 1)[0].strip().splitlines()[0]
