"""Training speed on the ads-bench-v1 shape: steady-state examples/s, wall time, peak RSS, AUCs.

    python benchmarks/train_speed.py --out train_speed.json [--data DIR] [--rows 1000000]

Models: `mmoe` (MMoE, 4 experts [128, 64]), `ple` (PLE, 1 CGC level, 2 shared + 2 per task),
`esmm` (shared-bottom [128, 64]); all with embedding 16, towers [64, 32], the ESMM objective,
batch 2048, Adam 1e-3, 1 epoch. With --data DIR it reads DIR/train.parquet and DIR/test.parquet
(c0..c15 int64, d0..d3 float32, click, conversion int8) so other tools can use the same rows.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import mtl_keras  # noqa: E402,F401
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

from mtl_keras import names  # noqa: E402
from mtl_keras.config import ModelConfig  # noqa: E402
from mtl_keras.data import make_dataset, to_arrays  # noqa: E402
from mtl_keras.features import CategoricalFeature, FeatureSpec, NumericFeature  # noqa: E402
from mtl_keras.metrics import roc_auc  # noqa: E402
from mtl_keras.models import build_model  # noqa: E402
from mtl_keras.synthetic import ADS_BENCH_V1_VOCABULARIES, make_impressions  # noqa: E402

import deepctr_baseline  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

WARMUP_STEPS = 20
MODELS = {
    "mmoe": dict(backbone="mmoe", num_experts=4),
    "ple": dict(backbone="ple", num_levels=1, num_shared_experts=2, num_task_experts=2),
    "esmm": dict(backbone="shared_bottom", bottom_units=[128, 64]),
}


class StepTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())


def load(data_dir, rows, test_rows, seed):
    if data_dir:
        train, test = (pd.read_parquet(os.path.join(data_dir, f"{s}.parquet")) for s in ("train", "test"))
        vocab = [int(max(train[f"c{i}"].max(), test[f"c{i}"].max()) + 1) for i in range(16)]
        spec = FeatureSpec(categorical=[CategoricalFeature(f"c{i}", vocabulary_size=v, embedding_dim=16)
                                        for i, v in enumerate(vocab)],
                           numeric=[NumericFeature(f"d{j}") for j in range(4)])
        return train, test, spec
    frame, spec = make_impressions(rows + test_rows, ADS_BENCH_V1_VOCABULARIES, seed=seed)
    return frame.iloc[:rows].reset_index(drop=True), frame.iloc[rows:].reset_index(drop=True), spec


def run_one(name, spec, train_arrays, test_arrays, test, batch_size, train_metrics, precision):
    config = ModelConfig(features=spec, objective="esmm", expert_units=[128, 64], tower_units=[64, 32],
                         batch_size=batch_size, learning_rate=1e-3, epochs=1, train_metrics=train_metrics,
                         precision=precision, **MODELS[name])
    timer = StepTimer()
    start = time.perf_counter()  # wall time includes building the model and tracing the step
    model = build_model(config)
    dataset = make_dataset(train_arrays, batch_size, shuffle=True, seed=0)
    model.fit(dataset, epochs=1, verbose=0, callbacks=[timer])
    wall = time.perf_counter() - start
    steps = len(timer.times)
    n = len(next(iter(train_arrays.values())))
    steady_examples = n - min(n, WARMUP_STEPS * batch_size)  # the last batch may be partial
    steady_s = timer.times[-1] - timer.times[WARMUP_STEPS - 1]
    preds = model.predict(make_dataset(test_arrays, 16384), verbose=0)
    click, conv = test[names.CLICK].to_numpy(), test[names.CONVERSION].to_numpy()
    clicked = click == 1
    return {
        "model": name, "library": "mtl_keras", "backbone": config.backbone, "precision": precision, "steps": steps,
        "examples_per_sec": steady_examples / steady_s,
        "wall_s": wall,
        "auc_ctr": roc_auc(click, preds[names.P_CTR]),
        "auc_ctcvr": roc_auc(click * conv, preds[names.P_CTCVR]),
        "auc_cvr_clicked": roc_auc(conv[clicked], preds[names.P_CVR].reshape(-1)[clicked]),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--data", help="directory with train.parquet and test.parquet")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--test-rows", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--models", default="mmoe,ple,esmm")
    parser.add_argument("--train-metrics", action="store_true", help="update AUC/ECE metrics in train steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precisions", default="float32",
                        help="comma-separated ModelConfig.precision values, each run for every model")
    parser.add_argument("--baseline", choices=("deepctr",),
                        help="also train DeepCTR's model after each of ours on the same batches and report the "
                             "ratios of this run (DeepCTR 0.9.4, pinned in the lock)")
    args = parser.parse_args(argv)
    if args.rows <= WARMUP_STEPS * args.batch_size:
        raise SystemExit(f"--rows must exceed {WARMUP_STEPS} warm-up batches ({WARMUP_STEPS * args.batch_size}).")
    t0 = time.perf_counter()
    train, test, spec = load(args.data, args.rows, args.test_rows, args.seed)
    extra = list(names.LABEL_COLUMNS)
    train_arrays, test_arrays = to_arrays(train, spec, extra), to_arrays(test, spec)
    results = {"benchmark": "train_speed", "shape": "ads-bench-v1", "rows": len(train), "test_rows": len(test),
               "batch_size": args.batch_size, "train_metrics": args.train_metrics, "warmup_steps": WARMUP_STEPS,
               "data_s": time.perf_counter() - t0, "tensorflow": tf.__version__, "cpus": os.cpu_count(),
               "machine": platform.machine(), "load_average_before": os.getloadavg(), "results": []}
    for precision in args.precisions.split(","):
        for name in args.models.split(","):
            result = run_one(name, spec, train_arrays, test_arrays, test, args.batch_size, args.train_metrics,
                             precision)
            print(json.dumps(result), flush=True)
            results["results"].append(result)
            if args.baseline:
                base = deepctr_baseline.run(name, spec, train_arrays, test_arrays, test, args.batch_size, StepTimer,
                                            WARMUP_STEPS)
                print(json.dumps(base), flush=True)
                results["results"].append(base)
                results.setdefault("ratios", []).append({
                    "model": name, "precision": precision,
                    "examples_per_sec_ours_over_deepctr": result["examples_per_sec"] / base["examples_per_sec"],
                    "wall_ours_over_deepctr": result["wall_s"] / base["wall_s"],
                    "auc_ctr_diff": result["auc_ctr"] - base["auc_ctr"],
                    "auc_ctcvr_diff": result["auc_ctcvr"] - base["auc_ctcvr"]})
    results["load_average_after"] = os.getloadavg()
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
