"""`mtl-ads train`: fit a MultiTaskModel from a JSON ModelConfig on a CSV, Parquet or TFRecord log.

Every input is checked before training (the config's types, the data files, --out: see
`mtl_keras.run_directory`). Training checkpoints after every epoch (and every
--checkpoint-every-steps steps) into OUT.partial/; rerunning the same command after a kill resumes
from the last checkpoint and the same place in the data stream (`training.train(first_step=...)`),
so it ends with the weights of an uninterrupted run with the same seed. Not exact: runs steered by
validation rows (early stopping's best score and patience are not checkpointed). metrics.json is
strict JSON: undefined metrics are null, with a warning.
"""
from __future__ import annotations

import argparse
import json
import os
import sys


def register(subparsers) -> None:
    from mtl_keras.backbones import BACKBONES
    from mtl_keras.objectives import OBJECTIVES

    parser = subparsers.add_parser(
        "train", help="train a multi-task model",
        description="Trains on the won impressions of --data and writes DIR/saved_model, DIR/metrics.json "
                    "and DIR/config.json. A run killed before the end resumes when rerun with the same command.")
    parser.add_argument("--config", required=True, help="ModelConfig JSON file (see mtl_keras.config)")
    parser.add_argument("--data", required=True, help="CSV, Parquet or TFRecord file, or a directory of them")
    parser.add_argument("--out", required=True,
                        help="output directory (new, empty, or a model to replace with --overwrite); "
                             "an unfinished run is kept in OUT.partial until it ends")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the model in --out, or discard an unfinished run of another config")
    parser.add_argument("--checkpoint-every-steps", type=int, default=None, metavar="N",
                        help="also checkpoint every N training steps (default: at epoch ends only)")
    parser.add_argument("--eval-data", help="evaluation data; default: a random --eval-fraction of --data")
    parser.add_argument("--eval-fraction", type=float, default=0.2)
    parser.add_argument("--epochs", type=int, help="overrides the config's epochs")
    parser.add_argument("--backbone", choices=tuple(BACKBONES),
                        help="overrides the config's backbone section with this backbone's defaults")
    parser.add_argument("--objective", choices=tuple(OBJECTIVES),
                        help="overrides the config's objective section with this objective's defaults")
    parser.add_argument("--verbose", type=int, default=1 if sys.stdout.isatty() else 2,
                        help="1: progress bar, 2: one line per epoch (default when not a terminal)")
    parser.add_argument("--tensorboard", default=None, metavar="DIR",
                        help="write per-epoch TensorBoard scalars (per-task metrics, task weights, gate usage) to DIR")
    parser.add_argument("--calibrate", choices=("isotonic", "platt", "histogram"), default=None,
                        help="fit calibrators of this kind on the evaluation rows: OUT/calibration.json (pass it to "
                        "serving.export_serving_model(calibration=...)) and a cross-fitted before/after report")
    parser.add_argument("--calibration-space", choices=("impression", "request", "click_do"), default="impression",
                        help="the space --calibrate targets (request needs a p_win column; default impression)")
    parser.set_defaults(func=run)


def load_config(args: argparse.Namespace):
    """The ModelConfig of --config with the command line's overrides; ValueErrors name the file."""
    from mtl_keras.config import ModelConfig

    if not os.path.isfile(args.config):
        what = "does not exist" if not os.path.exists(args.config) else "is not a file"
        raise ValueError(f"--config {args.config!r} {what}; give a ModelConfig JSON file.")
    try:
        with open(args.config, encoding="utf-8") as f:
            raw = json.load(f)
    except json.JSONDecodeError as err:
        empty = " (the file is empty)" if os.path.getsize(args.config) == 0 else ""
        raise ValueError(f"--config {args.config!r} is not valid JSON{empty}: {err}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"--config {args.config!r} cannot be read: {err}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"--config {args.config!r} must hold a JSON object (a ModelConfig), got {type(raw).__name__}.")
    for key in ("epochs", "backbone", "objective"):
        if getattr(args, key) is not None:
            raw[key] = getattr(args, key)
    try:
        return ModelConfig.from_dict(raw)
    except ValueError as err:
        raise ValueError(f"--config {args.config!r}: {err}") from None


def _check_options(args: argparse.Namespace) -> None:
    every = args.checkpoint_every_steps
    if every is not None and every < 1:
        raise ValueError(f"--checkpoint-every-steps must be >= 1, got {every}; leave it out to checkpoint at epoch "
                         "ends only.")
    if args.eval_data is None and not 0.0 < args.eval_fraction < 1.0:
        raise ValueError(f"--eval-fraction must be in (0, 1), got {args.eval_fraction}.")


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace, callbacks=()) -> int:
    """Runs `mtl-ads train`; `callbacks`: extra Keras callbacks for library callers (after the checkpointing one)."""
    from mtl_keras import checkpointing, input_files, run_report
    from mtl_keras.run_directory import RunDirectory

    _check_options(args)
    config = load_config(args)
    for path, flag in ((args.data, "--data"), (args.eval_data, "--eval-data")):
        if path is not None:
            for name in input_files.data_files(path, flag):
                input_files.check_file(name, flag)
    fingerprint = {"config": json.loads(config.to_json()), "data": os.path.abspath(args.data),
                   "eval_data": os.path.abspath(args.eval_data) if args.eval_data else None,
                   "eval_fraction": None if args.eval_data else args.eval_fraction}
    out = RunDirectory(args.out, fingerprint, overwrite=args.overwrite)
    if out.prepare() == "resume":
        where = checkpointing.describe_resume(out.backup_dir, out.history_path, config.epochs)
        print(f"resuming the unfinished run in {out.partial} from its checkpoint {where}", flush=True)
    try:
        model, metrics, config = _train(args, config, out, list(callbacks))
    except BaseException:
        out.discard_if_unstarted()
        raise
    calibration = getattr(args, "fitted_calibration", None)
    out.commit(lambda directory: _write(directory, model, metrics, config, calibration))
    for task, values in metrics["eval"].items():
        fmt = run_report.format_metric
        print(f"{task:6s} auc={fmt(values['auc'])} log_loss={fmt(values['log_loss'])} ece={fmt(values['ece'])} "
              f"calibration_ratio={fmt(values['calibration_ratio'], 3)} (n={values['count']})")
    print(f"saved model: {os.path.join(out.out, 'saved_model')}")
    return 0


def _train(args, config, out, callbacks):
    from mtl_keras import checkpointing, input_files, run_report
    from mtl_keras.training import evaluate, split, train

    frame = input_files.read_data(args.data, "--data")
    if args.eval_data:
        train_frame, eval_frame = frame, input_files.read_data(args.eval_data, "--eval-data")
    else:
        train_frame, eval_frame = split(frame, args.eval_fraction, seed=config.seed)
        if len(train_frame) == 0 or len(eval_frame) == 0:
            raise ValueError(f"--eval-fraction {args.eval_fraction} leaves {len(train_frame)} training and "
                             f"{len(eval_frame)} evaluation rows of the {len(frame)} in --data; give more data, "
                             "another --eval-fraction or --eval-data.")
    for message in run_report.label_warnings(train_frame, config.objective.labels):
        _warn(message)
    if getattr(args, "tensorboard", None):
        from mtl_keras.diagnostics import MultiTaskTensorBoard

        callbacks = [*callbacks, MultiTaskTensorBoard(args.tensorboard, sample_features=eval_frame.head(1024))]
    backup = checkpointing.EpochAndStepBackup(out.backup_dir, args.checkpoint_every_steps, out.history_path)
    model, history = train(config, train_frame, eval_frame, verbose=args.verbose, callbacks=[backup, *callbacks],
                           first_step=checkpointing.saved_steps(out.backup_dir))
    config = model.model_config  # with the vocabularies learned from the training rows, if any
    report, notes = run_report.null_undefined(evaluate(model, eval_frame, num_bins=config.num_calibration_bins))
    for message in notes:
        _warn(message)
    metrics = {"eval": report,
               "history": run_report.strict_history(checkpointing.read_history(out.history_path) or history.history),
               "train_rows": int(len(train_frame)), "eval_rows": int(len(eval_frame))}
    if getattr(args, "calibrate", None):
        metrics["calibration"] = _calibrate(args, model, eval_frame, config.seed)
    return model, metrics, config


def _calibrate(args, model, eval_frame, seed: int):
    """Calibrators on the evaluation impressions (kept for _write) and their cross-fitted report."""
    from mtl_keras import run_report
    from mtl_keras.calibration.cross_fit import fit_with_cross_fitted_report
    from mtl_keras.data import impressions
    from mtl_keras.training import predict

    rows = impressions(eval_frame)
    calibration, report = fit_with_cross_fitted_report(predict(model, rows), rows, seed=seed,
                                                       space=args.calibration_space, kind=args.calibrate)
    args.fitted_calibration = calibration  # saved beside the model by _write
    return run_report.strict_json(report)


def _write(directory: str, model, metrics, config, calibration=None) -> None:
    model.save(os.path.join(directory, "saved_model"))
    with open(os.path.join(directory, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump(metrics, f, indent=2, allow_nan=False)
    with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as f:
        f.write(config.to_json())
    if calibration is not None:
        calibration.save(os.path.join(directory, "calibration.json"))
