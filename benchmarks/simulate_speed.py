"""Speed of the funnel simulator and of the win-propensity models, written as JSON.

Simulator: requests per second written to Parquet (target >= 500k/s on 2 cores), to CSV and to
TFRecord, and generated in memory without writing. Codec: rows per second that
mtl_keras.example_codec encodes to and decodes from tf.Examples. Propensity: fit time of each model on a
simulated log of --propensity-requests rows (fitted on a subsample of --max-fit-rows, the models'
documented default), scoring time of P(win | x, bid) on every row, and the MAE against the true
p_win. The machine may be shared: simulator numbers are the best of --repeats runs, with the
process CPU time beside the wall clock, and the load average at the start is recorded.

    python benchmarks/simulate_speed.py --out simulate_speed.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time

import mtl_keras  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
import numpy as np

from mtl_keras import names
from mtl_keras.simulation import SimulationConfig, simulate_frame, simulate_frames, write_dataset
from mtl_keras.propensity.factory import WIN_MODEL_KINDS


def _simulator(requests: int, tfrecord_requests: int, seed: int, repeats: int) -> dict:
    config = SimulationConfig(num_requests=requests, seed=seed)
    for format in ("parquet", "csv", "tfrecord"):  # imports (TensorFlow for tfrecord) outside the timing
        with tempfile.TemporaryDirectory() as out:
            write_dataset(SimulationConfig(num_requests=1_000), out, format)
    start = time.perf_counter()
    rows = sum(len(f) for f in simulate_frames(config))
    generate_s = time.perf_counter() - start
    result = {"requests": requests, "chunk_size": config.chunk_size,
              "generate_only_requests_per_s": rows / generate_s}
    for format, n in (("parquet", requests), ("csv", requests), ("tfrecord", tfrecord_requests)):
        walls, cpus = [], []
        for _ in range(repeats):  # the best of a few runs: other jobs on a shared machine only slow it
            with tempfile.TemporaryDirectory() as out:
                wall, cpu = time.perf_counter(), time.process_time()
                summary = write_dataset(SimulationConfig(num_requests=n, seed=seed), out, format)
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
                size = sum(os.path.getsize(os.path.join(out, f)) for f in summary["files"])
        result[format] = {"requests": n, "repeats": repeats, "seconds_best": min(walls),
                          "seconds_median": float(np.median(walls)), "requests_per_s": n / min(walls),
                          "requests_per_cpu_s": n / min(cpus), "bytes_per_request": size / n}
    result["parquet_target_requests_per_s"] = 500_000
    result["parquet_meets_target"] = result["parquet"]["requests_per_s"] >= 500_000
    return result


def _codec(requests: int, seed: int, repeats: int) -> dict:
    """tf.Example encoding (numpy, mtl_keras.example_codec) and decoding (tf.io.parse_example) of
    one simulated frame, best of `repeats`."""
    from mtl_keras.example_codec import decode_frame, encode_frame

    frame = simulate_frame(SimulationConfig(num_requests=requests, seed=seed))
    kinds = {c: str(d) for c, d in frame.dtypes.items()}
    decode_frame(encode_frame(frame.iloc[:10]), kinds)  # TensorFlow's import outside the timing
    encode_s, decode_s = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        records = encode_frame(frame)
        encode_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        decode_frame(records, kinds)
        decode_s.append(time.perf_counter() - start)
    return {"requests": requests, "columns": frame.shape[1], "encode_rows_per_s": requests / min(encode_s),
            "decode_rows_per_s": requests / min(decode_s), "bytes_per_request": sum(map(len, records)) / requests}


def _propensity(requests: int, max_fit_rows: int, kinds, seed: int) -> dict:
    from mtl_keras.propensity import make_win_model
    from mtl_keras.propensity.datasets import default_segment

    frame = simulate_frame(SimulationConfig(num_requests=requests, seed=seed))
    truth = frame[names.TRUE_P_WIN].to_numpy()
    result = {"requests": requests, "max_fit_rows": max_fit_rows, "models": {}}
    for kind in kinds:
        kwargs = {"segment": default_segment(frame)} if kind == "km_segment" else {}
        model = make_win_model(kind, max_fit_rows=max_fit_rows, seed=seed, **kwargs)
        start = time.perf_counter()
        model.fit(frame)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        p = model.predict_p_win(frame)
        score_s = time.perf_counter() - start
        result["models"][kind] = {
            "fit_seconds": fit_s,
            "fit_rows": model.fit_info["fit_rows"],
            "design_columns": getattr(getattr(model, "encoder", None), "num_columns", None),
            "score_seconds": score_s,
            "score_rows_per_s": len(frame) / score_s,
            "p_win_mae": float(np.mean(np.abs(p - truth))),
        }
        print(kind, json.dumps(result["models"][kind]), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--requests", type=int, default=2_000_000, help="simulator: Parquet/CSV requests")
    parser.add_argument("--tfrecord-requests", type=int, default=200_000)
    parser.add_argument("--propensity-requests", type=int, default=1_000_000)
    parser.add_argument("--max-fit-rows", type=int, default=200_000)
    parser.add_argument("--models", default=",".join(WIN_MODEL_KINDS))
    parser.add_argument("--skip-propensity", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="simulator runs per format; the best is reported")
    args = parser.parse_args()
    report = {
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "simulator": _simulator(args.requests, args.tfrecord_requests, args.seed, args.repeats),
        "example_codec": _codec(args.tfrecord_requests, args.seed, args.repeats),
        "load_average_at_start": os.getloadavg(),
    }
    print("simulator", json.dumps(report["simulator"]), flush=True)
    print("example_codec", json.dumps(report["example_codec"]), flush=True)
    if not args.skip_propensity:
        kinds = [k for k in args.models.split(",") if k]
        report["propensity"] = _propensity(args.propensity_requests, args.max_fit_rows, kinds, args.seed)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
