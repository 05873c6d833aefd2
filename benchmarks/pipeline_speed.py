"""The production path at benchmark speed: the TFX Trainer reading a real Transform output against
the in-memory path (mtl_keras.data.make_dataset) on the same won rows, in one run.

    python benchmarks/pipeline_speed.py --rows 200000,1000000 --out DIR [--work DIR]
        [--batch-size 2048] [--precision float32] [--steps-per-execution 1] [--warmup-steps 20] [--repeats 3]
    python benchmarks/pipeline_speed.py --trainer-only --workdir PIPELINE_WORKDIR --out DIR

`--rows` are simulated bid requests: tfx_pipeline.presets.run_simulated runs the whole pipeline once
per count in DIR/work/requests-N (the benchmark's model as its Trainer's) and the seconds of every
component come from ML Metadata. `--trainer-only` reads the newest Transform output of an existing
pipeline workdir (one made by presets, with data/simulation.json) instead. The model is
train_speed's MMoE (4 experts [128, 64], towers [64, 32], ESMM, Adam 1e-3, batch 2048, embedding 16),
trained for --epochs (2) on the won requests of the train split by:
  trainer: tfx_pipeline.trainer.train_and_export, the production path (its wall_s includes the export);
  trainer_old_input: the same model fitted on the Trainer's former input (`legacy_dataset`);
  in_memory: the same model on mtl_keras.data.make_dataset over the same won rows, decoded up front.
examples_per_sec (and cpu_us_per_example, CPU of all threads) is steady state after the warm-up steps
(with 2 epochs the window holds all of the second, whose start refills the inputs' shuffle buffers);
input_rows_per_sec and input_cpu_us_per_row time one shuffled pass of each input alone. Each path runs
--repeats times, round robin; the fastest run is reported with every rate (`*_runs`).
DIR/pipeline_speed.json holds `trainer_over_in_memory` (a run with too few won rows for the warm-up
says `skipped_training` instead) and, with two or more --rows, `cost_curve`: per component the fixed
and per-100k-request wall and CPU seconds (benchmarks/cost_curve.py) and requests per core-second. On 2 shared cores a pipeline of 200k requests takes ~5 minutes, so
1M requests (the default's second count) is for larger machines.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import mtl_keras  # noqa: E402,F401
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

from mtl_keras.config import ModelConfig  # noqa: E402
from mtl_keras.data import make_dataset as in_memory_dataset  # noqa: E402
from mtl_keras.models import build_model  # noqa: E402
from mtl_keras.simulation import SimulationConfig, feature_spec  # noqa: E402
from tfx_pipeline import trainer, trainer_input  # noqa: E402
from tfx_pipeline.presets import Workdir, demo_simulation, run_simulated  # noqa: E402
from transform.config import TransformConfig  # noqa: E402
from transform.feature_spec import transformed_feature_spec  # noqa: E402

from benchmarks import cost_curve, train_speed  # noqa: E402  (the repository root is on sys.path above)

PATHS = ("trainer", "trainer_old_input", "in_memory")


def legacy_dataset(files, tft_output, config: ModelConfig, shuffle: bool, batch_size: int) -> tf.data.Dataset:
    """The Trainer's input before issue 14: records shuffled one by one (buffer 100,000), parsed
    4 batches at a time, then `unbatch()` and batched again row by row."""
    parse = trainer_input.won_rows_parser(trainer_input.column_spec(tft_output, config), config)
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP" if files[0].endswith(".gz") else "")
    if shuffle:
        dataset = dataset.shuffle(100_000, seed=config.seed)
    dataset = dataset.batch(4 * batch_size).map(parse, num_parallel_calls=tf.data.AUTOTUNE).unbatch()
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def transform_output(workdir: str):
    """(train files, transform graph dir) of the newest Transform execution in a pipeline workdir."""
    root = os.path.join(Workdir(workdir).pipeline_root, "Transform")
    runs = sorted(glob.glob(os.path.join(root, "transform_graph", "*")), key=lambda p: int(os.path.basename(p)))
    if not runs:
        raise ValueError(f"No Transform output under {root}; run the pipeline there first (drop --trainer-only).")
    execution = os.path.basename(runs[-1])
    files = trainer_input.match_files(os.path.join(root, "transformed_examples", execution, "Split-train_won", "*"))
    return files, runs[-1]


def bench_config(features, args) -> ModelConfig:
    return ModelConfig(features=features, objective="esmm", tower_units=[64, 32], batch_size=args.batch_size,
                       learning_rate=1e-3, epochs=args.epochs, train_metrics=False, precision=args.precision,
                       steps_per_execution=args.steps_per_execution, **train_speed.MODELS["mmoe"])


def raw_features(workdir: str):
    path = os.path.join(Workdir(workdir).data_dir, "simulation.json")
    if not os.path.exists(path):
        raise ValueError(f"{path} is missing: --workdir must be a presets.run_simulated workdir (the benchmark "
                         "rebuilds the FeatureSpec from its simulation); run without --trainer-only to make one.")
    with open(path, encoding="utf-8") as f:
        return feature_spec(SimulationConfig.from_dict(json.load(f)), embedding_dim=16)


def run_pipeline(workdir: str, requests: int, args) -> dict:
    simulation = demo_simulation(requests, seed=args.seed)
    start = time.perf_counter()
    with cost_curve.CpuClock() as clock:
        report = run_simulated(Workdir(workdir), simulation,
                               bench_config(feature_spec(simulation, embedding_dim=16), args),
                               pipeline_name="pipeline-speed")
    return {"wall_s": time.perf_counter() - start,
            "components": {r.component: r.seconds for r in report.components}, "blessed": report.blessed,
            "costs": cost_curve.component_costs(report.components, clock)}


def input_rate(dataset: tf.data.Dataset) -> dict:
    """One pass of an input alone: rows/s and CPU µs per row (all threads of this process)."""
    wall, cpu, rows = time.perf_counter(), time.process_time(), 0
    for batch in dataset:
        rows += int(tf.shape(next(iter(batch.values())))[0])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"rows": rows, "input_rows_per_sec": rows / wall, "input_cpu_us_per_row": 1e6 * cpu / rows}


class EpochsTimer(keras.callbacks.Callback):
    """(step over all epochs, time, CPU time of this process) after every execution."""

    def __init__(self, rows: int, batch_size: int):
        super().__init__()
        self.rows, self.batch_size, self.offset, self.marks = rows, batch_size, 0, []
        self.per_epoch = -(-rows // batch_size)

    def on_epoch_begin(self, epoch, logs=None):
        self.offset = epoch * self.per_epoch

    def on_train_batch_end(self, batch, logs=None):
        self.marks.append((self.offset + batch, time.perf_counter(), time.process_time()))

    def examples(self, step: int) -> int:
        """Rows trained up to and including global `step` (each epoch's last batch is short)."""
        epoch, index = divmod(step, self.per_epoch)
        return epoch * self.rows + min(self.rows, (index + 1) * self.batch_size)

    def steady(self, warmup_steps: int) -> dict:
        """Examples/s and CPU µs per example from the first execution ending at or after the
        warm-up to the end: later epochs refill the input's buffers inside this window."""
        first = next(mark for mark in self.marks if mark[0] >= warmup_steps - 1)
        last = self.marks[-1]
        examples = self.examples(last[0]) - self.examples(first[0])
        return {"examples_per_sec": examples / (last[1] - first[1]),
                "cpu_us_per_example": 1e6 * (last[2] - first[2]) / examples, "steps": last[0] + 1}


def fit_rate(fit, rows: int, args) -> dict:
    """Steady rates of `fit(callbacks)`, which trains `args.epochs` epochs; wall_s spans the whole call."""
    timer = EpochsTimer(rows, args.batch_size)
    start = time.perf_counter()
    fit([timer])
    return {**timer.steady(args.warmup_steps), "wall_s": time.perf_counter() - start}


def best_of(runs) -> dict:
    """The fastest of repeated runs (a shared machine only ever slows a run down), and every rate."""
    key = "examples_per_sec" if "examples_per_sec" in runs[0] else "input_rows_per_sec"
    return {**max(runs, key=lambda r: r[key]), f"{key}_runs": [r[key] for r in runs]}


def measure(workdir: str, args) -> dict:
    """The three paths on the won train rows of `workdir`'s Transform output."""
    import tensorflow_transform as tft

    files, graph = transform_output(workdir)
    tft_output = tft.TFTransformOutput(graph)
    raw = bench_config(raw_features(workdir), args)
    spec = transformed_feature_spec(raw.features, TransformConfig(), tft_output)
    config = ModelConfig.from_dict({**raw.to_dict(), "features": spec.to_dict()})
    start = time.perf_counter()
    won_rows = trainer_input.count_won_rows(files, tft_output)
    out = {"workdir": workdir, "won_train_rows": won_rows, "count_won_rows_s": time.perf_counter() - start}
    batches = list(trainer_input.make_dataset(files, tft_output, config, shuffle=False, batch_size=16384))
    arrays = {k: np.concatenate([b[k].numpy() for b in batches]) for k in batches[0]}
    inputs = {"trainer": lambda: trainer.make_dataset(files, tft_output, config, shuffle=True),
              "trainer_old_input": lambda: legacy_dataset(files, tft_output, config, True, args.batch_size),
              "in_memory": lambda: in_memory_dataset(arrays, args.batch_size, shuffle=True, seed=config.seed)}
    out["input"] = {name: best_of([input_rate(make()) for _ in range(args.repeats)])
                    for name, make in inputs.items()}
    if args.epochs * trainer_input.batches_for(won_rows, args.batch_size) <= args.warmup_steps:
        # The pipeline's and the inputs' figures still count.
        out["skipped_training"] = (f"{args.epochs} epochs of {won_rows} won train rows are too few for "
                                   f"{args.warmup_steps} warm-up batches of {args.batch_size}; raise --rows or "
                                   "lower --batch-size / --warmup-steps.")
        return out
    train_speed._warm_up(config.features, arrays, args.batch_size)

    def fit_on(make):
        def fit(callbacks):
            keras.utils.set_random_seed(config.seed)
            build_model(config).fit(make(), epochs=config.epochs, verbose=0, callbacks=callbacks)
        return fit

    def fit_trainer(callbacks):
        serving = tempfile.mkdtemp(prefix="pipeline-speed-")
        try:
            # won_rows: the count the pipeline's Trainer gets from WinPropensity (fn_args.hyperparameters).
            trainer.train_and_export(files, graph, os.path.join(serving, "model"),
                                     trainer.trainer_custom_config(raw, TransformConfig()), callbacks=callbacks,
                                     won_rows=won_rows)
        finally:
            shutil.rmtree(serving, ignore_errors=True)

    fits = {"in_memory": fit_on(inputs["in_memory"]), "trainer_old_input": fit_on(inputs["trainer_old_input"]),
            "trainer": fit_trainer}
    runs = {name: [] for name in PATHS}
    for _ in range(args.repeats):  # round robin: a change in the machine's load hits every path
        for name in ("in_memory", "trainer_old_input", "trainer"):
            runs[name].append(fit_rate(fits[name], won_rows, args))
    out["training"] = {name: best_of(runs[name]) for name in PATHS}
    rate = {name: out["training"][name]["examples_per_sec"] for name in PATHS}
    out["trainer_over_in_memory"] = rate["trainer"] / rate["in_memory"]
    out["trainer_over_old_input"] = rate["trainer"] / rate["trainer_old_input"]
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="directory for pipeline_speed.json")
    parser.add_argument("--rows", default="200000,1000000", help="comma-separated simulated request counts")
    parser.add_argument("--work", help="where the pipelines run (default OUT/work)")
    parser.add_argument("--trainer-only", action="store_true", help="skip the pipeline; read --workdir's output")
    parser.add_argument("--workdir", help="an existing pipeline workdir, with --trainer-only")
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--warmup-steps", type=int, default=train_speed.WARMUP_STEPS)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--steps-per-execution", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=2,
                        help="2: the steady window holds a whole epoch, input buffers refilled at its start")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each path; the fastest is reported")
    args = parser.parse_args(argv)
    if args.trainer_only != bool(args.workdir):
        raise SystemExit("--trainer-only and --workdir go together: --trainer-only --workdir PIPELINE_WORKDIR.")
    os.makedirs(args.out, exist_ok=True)
    results = {"benchmark": "pipeline_speed", "model": "mmoe", "batch_size": args.batch_size,
               "epochs": args.epochs, "precision": args.precision, "steps_per_execution": args.steps_per_execution,
               "warmup_steps": args.warmup_steps, "repeats": args.repeats, "tensorflow": tf.__version__,
               "cpus": os.cpu_count(),
               "machine": platform.machine(), "load_average_before": os.getloadavg(), "runs": []}
    if args.trainer_only:
        plan = [(None, args.workdir)]
    else:
        work = args.work or os.path.join(args.out, "work")
        plan = [(int(n), os.path.join(work, f"requests-{int(n)}")) for n in args.rows.split(",")]
    for requests, workdir in plan:
        run = {"requests": requests, "pipeline": run_pipeline(workdir, requests, args) if requests else None}
        run.update(measure(workdir, args))
        run["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # this process, so far
        print(json.dumps(run), flush=True)
        results["runs"].append(run)
    results["load_average_after"] = os.getloadavg()
    sized = [{"requests": r["requests"], "costs": r["pipeline"]["costs"]} for r in results["runs"] if r["pipeline"]]
    results["cost_curve"] = cost_curve.fit(sized)  # per component: fixed + per-request wall and CPU seconds
    if results["cost_curve"]:
        results["predicted_wall_s"] = {f"{n:.0e} requests on {c} cores": cost_curve.predict(results["cost_curve"], n, c)
                                       for n, c in ((1e8, 64), (1e9, 512))}
    with open(os.path.join(args.out, "pipeline_speed.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
