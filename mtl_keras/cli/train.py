"""`mtl-ads train`: fit a MultiTaskModel from a JSON ModelConfig on a CSV, Parquet or TFRecord log."""
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
                    "and DIR/config.json.")
    parser.add_argument("--config", required=True, help="ModelConfig JSON file (see mtl_keras.config)")
    parser.add_argument("--data", required=True, help="CSV, Parquet or TFRecord file, or a directory of them")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--eval-data", help="evaluation data; default: a random --eval-fraction of --data")
    parser.add_argument("--eval-fraction", type=float, default=0.2)
    parser.add_argument("--epochs", type=int, help="overrides the config's epochs")
    parser.add_argument("--backbone", choices=tuple(BACKBONES),
                        help="overrides the config's backbone section with this backbone's defaults")
    parser.add_argument("--objective", choices=tuple(OBJECTIVES),
                        help="overrides the config's objective section with this objective's defaults")
    parser.add_argument("--verbose", type=int, default=1 if sys.stdout.isatty() else 2,
                        help="1: progress bar, 2: one line per epoch (default when not a terminal)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mtl_keras.config import ModelConfig
    from mtl_keras.data import read_table
    from mtl_keras.training import evaluate, split, train

    if not os.path.isfile(args.config):
        raise ValueError(f"--config {args.config!r} is not a file; give a ModelConfig JSON file.")
    with open(args.config, encoding="utf-8") as f:
        try:
            raw = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f"--config {args.config!r} is not valid JSON: {err}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"--config {args.config!r} must hold a JSON object (a ModelConfig), got {type(raw).__name__}.")
    for key in ("epochs", "backbone", "objective"):
        if getattr(args, key) is not None:
            raw[key] = getattr(args, key)
    config = ModelConfig.from_dict(raw)
    frame = read_table(args.data)
    if args.eval_data:
        train_frame, eval_frame = frame, read_table(args.eval_data)
    else:
        train_frame, eval_frame = split(frame, args.eval_fraction, seed=config.seed)
    model, history = train(config, train_frame, eval_frame, verbose=args.verbose)
    config = model.model_config  # with the vocabularies learned from the training rows, if any
    report = evaluate(model, eval_frame, num_bins=config.num_calibration_bins)
    os.makedirs(args.out, exist_ok=True)
    model.save(os.path.join(args.out, "saved_model"))
    metrics = {"eval": report, "history": {k: [float(x) for x in v] for k, v in history.history.items()},
               "train_rows": int(len(train_frame)), "eval_rows": int(len(eval_frame))}
    with open(os.path.join(args.out, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump(metrics, f, indent=2)
    with open(os.path.join(args.out, "config.json"), "w", encoding="utf-8") as f:
        f.write(config.to_json())
    for task, values in report.items():
        print(f"{task:6s} auc={values['auc']:.4f} log_loss={values['log_loss']:.4f} ece={values['ece']:.4f} "
              f"calibration_ratio={values['calibration_ratio']:.3f} (n={values['count']})")
    print(f"saved model: {os.path.join(args.out, 'saved_model')}")
    return 0
