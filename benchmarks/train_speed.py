"""Training speed on the ads-bench-v1 shape: steady-state examples/s, wall time, peak RSS, AUCs.

    python benchmarks/train_speed.py --out train_speed.json [--data DIR] [--rows 1000000]
        [--precisions float32,mixed_bfloat16] [--steps-per-execution 1,16] [--baseline deepctr] [--repeats 1]
    python benchmarks/train_speed.py --write-data DIR [--rows N] [--seed S]   # the rows as parquet, then exit

Models: `mmoe` (MMoE, 4 experts [128, 64]), `ple` (PLE, 1 CGC level, 2 shared + 2 per task),
`esmm` (shared-bottom [128, 64]); all with embedding 16, towers [64, 32], the ESMM objective,
batch 2048, Adam 1e-3, 1 epoch. With --data DIR it reads DIR/train.parquet and DIR/test.parquet
(c0..c15 int64, d0..d3 float32, click, conversion int8) so other tools can use the same rows;
`--write-data DIR` writes the generated rows in that layout.
Every model runs once per (precision, steps_per_execution); `--baseline deepctr` then trains DeepCTR's
model on the same batches and adds the ratios of this run; `--repeats N` runs ours and the baseline
N times in turn (round robin: load changes hit both) and keeps each one's fastest run. `wall_s` spans building the model,
tracing and the epoch; `examples_per_sec` is steady state after 20 warm-up steps.
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

from benchmarks import deepctr_baseline  # noqa: E402  (the repository root is on sys.path above)

WARMUP_STEPS = 20
MODELS = {
    "mmoe": dict(backbone={"name": "mmoe", "num_experts": 4, "expert_units": [128, 64]}),
    "ple": dict(backbone={"name": "ple", "num_levels": 1, "num_shared_experts": 2, "num_task_experts": 2,
                         "expert_units": [128, 64]}),
    "esmm": dict(backbone={"name": "shared_bottom", "bottom_units": [128, 64]}),
}


class StepTimer(keras.callbacks.Callback):
    """(last step index, time) after every execution (1 or steps_per_execution steps)."""

    def __init__(self):
        super().__init__()
        self.times, self.steps = [], []

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())
        self.steps.append(batch)

    def steady(self, rows, batch_size, warmup_steps):
        """Examples/s from the first execution ending at or after `warmup_steps` to the end."""
        first = next(i for i, step in enumerate(self.steps) if step >= warmup_steps - 1)
        examples = min(rows, (self.steps[-1] + 1) * batch_size) - (self.steps[first] + 1) * batch_size
        return examples / (self.times[-1] - self.times[first])


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


def run_one(name, spec, train_arrays, test_arrays, test, batch_size, train_metrics, precision, steps_per_execution):
    config = ModelConfig(features=spec, objective="esmm", tower_units=[64, 32],
                         batch_size=batch_size, learning_rate=1e-3, epochs=1, train_metrics=train_metrics,
                         precision=precision, steps_per_execution=steps_per_execution, **MODELS[name])
    timer = StepTimer()
    start = time.perf_counter()  # wall time includes building the model and tracing the step
    model = build_model(config)
    dataset = make_dataset(train_arrays, batch_size, shuffle=True, seed=0)
    model.fit(dataset, epochs=1, verbose=0, callbacks=[timer])
    wall = time.perf_counter() - start
    n = len(next(iter(train_arrays.values())))
    preds = model.predict(make_dataset(test_arrays, 16384), verbose=0)
    click, conv = test[names.CLICK].to_numpy(), test[names.CONVERSION].to_numpy()
    clicked = click == 1
    return {
        "model": name, "library": "mtl_keras", "backbone": config.backbone.name, "precision": precision,
        "steps_per_execution": steps_per_execution, "steps": timer.steps[-1] + 1,
        "examples_per_sec": timer.steady(n, batch_size, WARMUP_STEPS),
        "wall_s": wall,
        "auc_ctr": roc_auc(click, preds[names.P_CTR]),
        "auc_ctcvr": roc_auc(click * conv, preds[names.P_CTCVR]),
        "auc_cvr_clicked": roc_auc(conv[clicked], preds[names.P_CVR].reshape(-1)[clicked]),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _warm_up(spec, train_arrays, batch_size):
    """A few steps of a small model, not measured: TF and oneDNN initialise once per process, so
    the first measured run (ours or the baseline) does not pay for it alone."""
    config = ModelConfig(features=spec, backbone={"name": "shared_bottom", "bottom_units": [8]}, tower_units=[8],
                         batch_size=batch_size, train_metrics=False)
    rows = {k: v[:4 * batch_size] for k, v in train_arrays.items()}
    build_model(config).fit(make_dataset(rows, batch_size), epochs=1, verbose=0)


def _ratios(ours, base):
    return {"model": ours["model"], "precision": ours["precision"], "steps_per_execution": ours["steps_per_execution"],
            "examples_per_sec_ours_over_deepctr": ours["examples_per_sec"] / base["examples_per_sec"],
            "wall_ours_over_deepctr": ours["wall_s"] / base["wall_s"],
            "auc_ctr_diff": ours["auc_ctr"] - base["auc_ctr"], "auc_ctcvr_diff": ours["auc_ctcvr"] - base["auc_ctcvr"]}


def _fastest(runs):
    """The fastest of repeated runs (a shared machine only slows a run down), with every run's rate."""
    return {**max(runs, key=lambda r: r["examples_per_sec"]), "examples_per_sec_runs": [r["examples_per_sec"] for r in runs]}


def write_data(directory, rows, test_rows, seed):
    """The generated rows in the --data layout (the ground-truth columns left out)."""
    frame, _ = make_impressions(rows + test_rows, ADS_BENCH_V1_VOCABULARIES, seed=seed)
    columns = [c for c in frame.columns if not c.startswith("true_")]
    os.makedirs(directory, exist_ok=True)
    frame.iloc[:rows][columns].to_parquet(os.path.join(directory, "train.parquet"), index=False)
    frame.iloc[rows:][columns].to_parquet(os.path.join(directory, "test.parquet"), index=False)
    print(f"wrote {rows} + {test_rows} rows to {directory}/train.parquet and test.parquet")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="the JSON to write (required unless --write-data)")
    parser.add_argument("--write-data", help="write the generated rows as DIR/train.parquet, DIR/test.parquet and exit")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each model and baseline; the fastest is kept")
    parser.add_argument("--data", help="directory with train.parquet and test.parquet")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--test-rows", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--models", default="mmoe,ple,esmm")
    parser.add_argument("--train-metrics", action="store_true", help="update AUC/ECE metrics in train steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precisions", default="float32",
                        help="comma-separated ModelConfig.precision values, each run for every model")
    parser.add_argument("--steps-per-execution", default="1",
                        help="comma-separated ModelConfig.steps_per_execution values, each run for every model")
    parser.add_argument("--baseline", choices=("deepctr",),
                        help="also train DeepCTR's model after each of ours on the same batches and report the "
                             "ratios of this run (DeepCTR 0.9.4, pinned in the lock)")
    args = parser.parse_args(argv)
    if args.write_data:
        write_data(args.write_data, args.rows, args.test_rows, args.seed)
        return
    if not args.out:
        raise SystemExit("--out is required (the JSON to write).")
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
    runs = [(p, int(k)) for p in args.precisions.split(",") for k in args.steps_per_execution.split(",")]
    _warm_up(spec, train_arrays, args.batch_size)
    for name in args.models.split(","):
        ours, bases = [[] for _ in runs], []
        for _ in range(args.repeats):
            for i, (precision, steps_per_execution) in enumerate(runs):
                ours[i].append(run_one(name, spec, train_arrays, test_arrays, test, args.batch_size,
                                       args.train_metrics, precision, steps_per_execution))
                print(json.dumps(ours[i][-1]), flush=True)
            if args.baseline:
                bases.append(deepctr_baseline.run(name, spec, train_arrays, test_arrays, test, args.batch_size,
                                                  StepTimer, WARMUP_STEPS))
                print(json.dumps(bases[-1]), flush=True)
        ours = [_fastest(r) for r in ours]
        results["results"].extend(ours)
        if args.baseline:
            base = _fastest(bases)
            results["results"].append(base)
            results.setdefault("ratios", []).extend(_ratios(result, base) for result in ours)
    results["load_average_after"] = os.getloadavg()
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
