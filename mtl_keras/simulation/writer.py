"""Writes a simulated dataset in chunked files and reads one back."""
from __future__ import annotations

import concurrent.futures
import json
import pathlib
import time
from typing import Any, Dict, Optional

import pandas as pd

from mtl_keras import example_codec, names
from mtl_keras.simulation.config import SimulationConfig
from mtl_keras.simulation.simulate import feature_spec, simulate_frames
from mtl_keras.simulation import config as sim_config

FORMATS = {"parquet": "parquet", "csv": "csv", "tfrecord": "tfrecord"}  # format -> file extension


def write_dataset(config: SimulationConfig, out_dir, format: str = "parquet", overwrite: bool = False,
                  progress: bool = False) -> Dict[str, Any]:
    """Writes `requests-00000.<ext>`, ... (one per chunk), `feature_spec.json` and `summary.json`.

    tfrecord files hold uncompressed tf.Examples written by mtl_keras.example_codec (labels int64;
    the market price of a lost request is absent). Returns the summary: observed and true rates,
    counts, throughput, the config.
    """
    if format not in FORMATS:
        raise ValueError(f"format={format!r} is not supported; use one of {sorted(FORMATS)}.")
    out = pathlib.Path(out_dir)
    if out.exists() and any(out.glob(f"{sim_config.SIM_FILE_PREFIX}-*")) and not overwrite:
        raise ValueError(f"out_dir {str(out)!r} already holds simulated files; pick a new directory or pass overwrite=True.")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob(f"{sim_config.SIM_FILE_PREFIX}-*"):
        old.unlink()
    spec = feature_spec(config)
    (out / sim_config.FEATURE_SPEC_FILE).write_text(spec.to_json())
    totals: Dict[str, float] = {}
    columns: Dict[str, str] = {}
    files = []
    if format == "tfrecord":  # import TensorFlow before the clock starts: requests_per_second is the writing
        import tensorflow  # noqa: F401
    start = time.perf_counter()
    chunks = simulate_frames(config)
    if progress:
        from tqdm.auto import tqdm

        chunks = tqdm(chunks, total=-(-config.num_requests // config.chunk_size), desc="simulate", unit="chunk")
    # One writer thread: chunk i is written (pyarrow / TF release the GIL) while chunk i + 1 is
    # generated, with at most two chunks in memory.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pending = None
        for i, frame in enumerate(chunks):
            path = out / f"{sim_config.SIM_FILE_PREFIX}-{i:05d}.{FORMATS[format]}"
            files.append(path.name)
            columns = {c: str(frame[c].dtype) for c in frame.columns}
            _accumulate(totals, frame)
            if pending is not None:
                pending.result()
            pending = pool.submit(_write_chunk, frame, path, format)
        if pending is not None:
            pending.result()
    seconds = time.perf_counter() - start
    summary = _summary(totals, config, format, files, columns, seconds)
    (out / sim_config.SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    return summary


def read_dataset(data_dir, max_rows: Optional[int] = None) -> pd.DataFrame:
    """Reads a directory written by `write_dataset` (any format) into one frame."""
    data = pathlib.Path(data_dir)
    summary_path = data / sim_config.SUMMARY_FILE
    if not summary_path.is_file():
        raise ValueError(f"{str(data)!r} has no {sim_config.SUMMARY_FILE}; give a directory written by write_dataset.")
    summary = json.loads(summary_path.read_text())
    dtypes = summary["columns"]
    frames, rows = [], 0
    for name in summary["files"]:
        frame = _read_chunk(data / name, summary["format"], dtypes)
        frames.append(frame)
        rows += len(frame)
        if max_rows is not None and rows >= max_rows:
            break
    frame = pd.concat(frames, ignore_index=True)
    return frame.iloc[:max_rows] if max_rows is not None else frame


def _write_chunk(frame: pd.DataFrame, path: pathlib.Path, format: str) -> None:
    if format == "tfrecord":
        import tensorflow as tf

        with tf.io.TFRecordWriter(str(path)) as writer:
            for record in example_codec.encode_frame(frame):
                writer.write(record)
        return
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)  # NaN market price becomes null
    if format == "parquet":
        import pyarrow.parquet as pq

        # Dictionary-encode only the int columns: on continuous floats the dictionary attempt
        # is wasted work (writing is then ~2x faster and the files smaller).
        ints = [c for c in frame.columns if frame[c].dtype.kind in "iu"]
        pq.write_table(table, path, compression="snappy", use_dictionary=ints)
    else:
        import pyarrow.csv as pcsv

        # pyarrow quotes header names, and TFX's CsvExampleGen keeps the quotes in the column names:
        # write a plain header, then the rows.
        with open(path, "wb") as f:
            f.write((",".join(frame.columns) + "\n").encode("utf-8"))
            pcsv.write_csv(table, f, write_options=pcsv.WriteOptions(include_header=False))


def _read_chunk(path: pathlib.Path, format: str, dtypes: Dict[str, str]) -> pd.DataFrame:
    if format == "parquet":
        frame = pd.read_parquet(path)
    elif format == "csv":
        frame = pd.read_csv(path)
    elif format == "tfrecord":
        frame = example_codec.read_tfrecords([str(path)], dtypes)  # ints int64, floats float32 or NaN
    else:
        raise ValueError(f"summary format {format!r} is unknown; expected one of {sorted(FORMATS)}.")
    return frame[list(dtypes)].astype(dtypes)


def _accumulate(totals: Dict[str, float], frame: pd.DataFrame) -> None:
    won, click = frame[names.WON].to_numpy() == 1, frame[names.CLICK].to_numpy() == 1
    p_ctr, p_cvr = frame[names.TRUE_P_CTR].to_numpy(), frame[names.TRUE_P_CVR].to_numpy()
    sums = {
        "requests": len(frame),
        "won": won.sum(),
        "clicks": click.sum(),
        "conversions": frame[names.CONVERSION].sum(),
        "true_p_win": frame[names.TRUE_P_WIN].sum(),
        "true_p_ctr": p_ctr.sum(),
        "true_p_cvr": p_cvr.sum(),
        "true_p_ctcvr": (p_ctr * p_cvr).sum(),
        "true_p_ctr_won": p_ctr[won].sum(),
        "true_p_cvr_clicked": p_cvr[click].sum(),
    }
    for key, value in sums.items():
        totals[key] = totals.get(key, 0.0) + float(value)


def _summary(t, config, format, files, columns, seconds) -> Dict[str, Any]:
    def ratio(a, b):
        return t[a] / t[b] if t[b] else None  # JSON has no NaN

    return {
        "num_requests": int(t["requests"]),
        "format": format,
        "files": files,
        "columns": columns,
        "counts": {k: int(t[k]) for k in ("won", "clicks", "conversions")},
        "observed": {  # what a log shows: CTR over impressions, CVR over clicks
            "win_rate": ratio("won", "requests"),
            "ctr": ratio("clicks", "won"),
            "cvr": ratio("conversions", "clicks"),
            "ctcvr": ratio("conversions", "won"),
        },
        "true": {  # request-space means of the ground truth
            "win_rate": ratio("true_p_win", "requests"),
            "ctr": ratio("true_p_ctr", "requests"),
            "cvr": ratio("true_p_cvr", "requests"),
            "ctcvr": ratio("true_p_ctcvr", "requests"),
            "ctr_on_won": ratio("true_p_ctr_won", "won"),
            "cvr_on_clicked": ratio("true_p_cvr_clicked", "clicks"),
        },
        "seconds": seconds,
        "requests_per_second": t["requests"] / seconds if seconds > 0 else None,
        "config": config.to_dict(),
    }

