"""Win-propensity benchmark, written as JSON: the neural model's fit on a large simulated log and
every model's metrics on the iPinYou 2259 test split.

Simulated: --requests auctions (default 1M), the neural model fitted on all of them with
TensorFlow limited to --threads threads; fit seconds (TensorFlow's one-off warm-up, a tiny Keras
fit, is timed apart), epochs, and the MAE of P(win | x, bid) against the true p_win on --holdout
further requests. iPinYou (--ipinyou DIR): each model fitted on train, scored on test (c-index
by median and restricted mean, ANLP, Brier at the bid, integrated Brier, calibration), plus
km_segment as it was before the fix (the finest id column with <= 50 levels, raw per-segment KM).

    python benchmarks/win_propensity.py --out win_propensity.json --ipinyou ../shared/data/ipinyou_2259_dlf
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Optional, Sequence

import mtl_keras  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
import numpy as np

from mtl_keras import names
from mtl_keras.propensity import make_win_model
from mtl_keras.propensity.factory import WIN_MODEL_KINDS

_METRICS = ("c_index", "c_index_restricted", "anlp", "anlp_zero_mass_fraction", "brier", "integrated_brier",
            "calibration_error")


def _warm_up_tensorflow(threads: int) -> float:
    import tensorflow as tf
    import tf_keras as keras

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow already running in this process (e.g. under pytest): keep its threads
        pass
    start = time.perf_counter()
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    model.fit(np.zeros((8, 2), np.float32), np.zeros((8, 1), np.float32), verbose=0)
    return time.perf_counter() - start


def simulated(requests: int, holdout: int, seed: int, neural_args: dict) -> dict:
    from mtl_keras.simulation import SimulationConfig, simulate_frame

    start = time.perf_counter()
    frame = simulate_frame(SimulationConfig(num_requests=requests + holdout, seed=seed))
    simulate_s = time.perf_counter() - start
    train, test = frame.iloc[:requests].reset_index(drop=True), frame.iloc[requests:].reset_index(drop=True)
    model = make_win_model("neural", seed=seed, **neural_args)
    start = time.perf_counter()
    model.fit(train)
    wall = time.perf_counter() - start
    start = time.perf_counter()
    p = model.predict_p_win(test)
    score_s = time.perf_counter() - start
    return {"requests": requests, "holdout": holdout, "simulate_seconds": simulate_s, "fit_wall_seconds": wall,
            "fit": model.fit_info, "fit_rows_per_second_per_epoch": requests * model.fit_info["epochs"] / wall,
            "score_rows_per_second": len(test) / score_s,
            "p_win_mae": float(np.mean(np.abs(p - test[names.TRUE_P_WIN].to_numpy()))),
            "config": model.get_config()}


def ipinyou(data_dir: str, kinds: Sequence[str], feature_args: dict, penalizer) -> dict:
    from mtl_keras.propensity.datasets import default_segment
    from mtl_keras.propensity.evaluation import evaluate_model
    from mtl_keras.propensity.ipinyou import read_ipinyou

    parts = read_ipinyou(data_dir)
    train, test = parts["train"], parts["test"]
    specs = {kind: {} if kind in ("km", "km_segment") else dict(feature_args) for kind in kinds}
    for kind in ("cox", "weibull_aft", "lognormal_aft"):
        if kind in specs:
            specs[kind]["penalizer"] = penalizer
    specs["km_segment_before_fix"] = {"segment": default_segment(train), "prior_strength": 0.0, "min_events": 50,
                                      "min_count": 1}
    result = {"train_rows": len(train), "test_rows": len(test), "models": {}}
    for name, kwargs in specs.items():
        kind = "km_segment" if name == "km_segment_before_fix" else name
        model = make_win_model(kind, **({"segment": "auto"} if name == "km_segment" else kwargs))
        start = time.perf_counter()
        model.fit(train)
        entry = {"fit_wall_seconds": time.perf_counter() - start, "settings": kwargs}
        report = evaluate_model(model, test)
        entry.update({k: report[k] for k in _METRICS})
        if kind == "km_segment":
            entry.update({"segment": model.column, "prior_strength": model.strength, "segments": len(model.levels)})
        if getattr(model, "penalizer_", None) is not None:
            entry.update({"penalizer": model.penalizer_, "penalizer_cv": model.penalizer_cv})
        if kind == "neural":
            entry["training"] = model.training
        result["models"][name] = entry
        print(name, json.dumps({k: entry[k] for k in _METRICS}), flush=True)
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--requests", type=int, default=1_000_000, help="simulated requests (0: skip)")
    parser.add_argument("--holdout", type=int, default=50_000)
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow intra/inter-op threads")
    parser.add_argument("--ipinyou", default=None, help="an iPinYou DLF directory (e.g. ipinyou_2259_dlf)")
    parser.add_argument("--models", default=",".join(WIN_MODEL_KINDS))
    parser.add_argument("--max-levels", type=int, default=200)
    parser.add_argument("--min-count", type=int, default=10)
    parser.add_argument("--penalizer", default="cv", help="'cv' or a number (Cox / AFT L2 penalty)")
    parser.add_argument("--max-epochs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    report = {"machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                          "python": platform.python_version(), "load_average_at_start": os.getloadavg()},
              "tensorflow_warm_up_seconds": _warm_up_tensorflow(args.threads)}
    import tensorflow as tf

    report["tensorflow_threads"] = {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                                    "inter_op": tf.config.threading.get_inter_op_parallelism_threads()}
    if args.requests:
        report["simulated"] = simulated(args.requests, args.holdout, args.seed,
                                        {"max_epochs": args.max_epochs})
        print("simulated", json.dumps({k: v for k, v in report["simulated"].items() if k != "config"}), flush=True)
    if args.ipinyou:
        penalizer = args.penalizer if args.penalizer == "cv" else float(args.penalizer)
        kinds = [k for k in args.models.split(",") if k]
        report["ipinyou"] = ipinyou(args.ipinyou, kinds, {"max_levels": args.max_levels, "min_count": args.min_count,
                                                          "seed": args.seed}, penalizer)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
