"""`mtl-ads calibrate`: fit post-hoc calibrators for a model saved by `mtl-ads train`."""
from __future__ import annotations

import argparse
import json
import math
import os

from mtl_keras import names
from mtl_keras.calibration import names as cal_names


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "calibrate", help="fit post-hoc calibrators (isotonic, Platt, histogram) for a trained model",
        description="Predicts on the impressions of --data with the model of --model, fits a calibrator per "
                    "output in --space on a random part of them and reports before / after on the rest. Writes "
                    f"OUT/{cal_names.CALIBRATION_FILE} (load with MultiTaskCalibration.load), "
                    f"OUT/{cal_names.REPORT_FILE} and OUT/reliability_<output>.png.")
    parser.add_argument("--model", required=True, help="an `mtl-ads train` output directory (or its saved_model)")
    parser.add_argument("--data", required=True, help="held-out CSV, Parquet or TFRecord log, or a directory of them")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--space", choices=cal_names.SPACES, default=cal_names.SPACE_IMPRESSION,
                        help=f"population to calibrate on; 'request' needs a {names.P_WIN!r} column "
                             "(default: impression)")
    parser.add_argument("--kind", choices=cal_names.BASE_KINDS, default=cal_names.ISOTONIC)
    parser.add_argument("--slice-field", help="a column: one calibrator per value, shrunk to the global one")
    parser.add_argument("--prior-strength", type=float, default=1000.0,
                        help="with --slice-field: the global calibrator's weight in rows (default 1000)")
    parser.add_argument("--fit-ctcvr", action="store_true",
                        help="calibrate p_ctcvr on its own instead of serving calibrated pCTR x pCVR")
    parser.add_argument("--eval-fraction", type=float, default=0.3,
                        help="share of the impressions held out for the report (0: report on the fit rows)")
    parser.add_argument("--min-rows", type=int, default=None, help="refuse a fit on fewer rows (default 100)")
    parser.add_argument("--min-positives", type=int, default=None, help="... or fewer positives (default 10)")
    parser.add_argument("--num-bins", type=int, default=10, help="bins of the ECE and reliability plots")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(func=run)


def _saved_model_dir(path: str) -> str:
    for candidate in (os.path.join(path, "saved_model"), path):
        if os.path.isfile(os.path.join(candidate, "saved_model.pb")):
            return candidate
    raise ValueError(f"--model {path!r} holds no saved_model.pb (nor saved_model/saved_model.pb). "
                     "Fix: give the --out directory of `mtl-ads train`.")


def _finite(value):
    # JSON has no NaN: a ratio without positives is written as null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def run(args: argparse.Namespace) -> int:
    from mtl_keras.calibration.fitting import fit_multitask_calibration
    from mtl_keras.calibration.report import multitask_calibration_report
    from mtl_keras.data import impressions, read_table

    if not 0.0 <= args.eval_fraction < 1.0:
        raise ValueError(f"--eval-fraction must be in [0, 1), got {args.eval_fraction}.")
    model_dir = _saved_model_dir(args.model)
    frame = impressions(read_table(args.data))
    if frame.empty:
        raise ValueError(f"--data {args.data!r} has no impressions (rows with won = 1).")
    # Checked before the model loads, the slow step.
    if args.space == cal_names.SPACE_REQUEST and names.P_WIN not in frame.columns:
        raise ValueError(f"--space request weights impressions by 1/p_win, but --data has no {names.P_WIN!r} column. "
                         "Fix: add the win propensity (`mtl-ads propensity fit`), or use --space impression.")
    if args.slice_field is not None and args.slice_field not in frame.columns:
        raise ValueError(f"--slice-field {args.slice_field!r} is not a column of --data (columns: "
                         f"{sorted(map(str, frame.columns))}).")
    import tf_keras as keras

    from mtl_keras import models  # noqa: F401  (registers MultiTaskModel for loading)
    from mtl_keras.evaluation import predict
    from mtl_keras.training import split

    model = keras.models.load_model(model_dir, compile=False)
    if args.eval_fraction > 0:
        fit_frame, eval_frame = split(frame, args.eval_fraction, seed=args.seed)
    else:
        fit_frame = eval_frame = frame
    kwargs = {k: v for k, v in (("min_rows", args.min_rows), ("min_positives", args.min_positives)) if v is not None}
    calibration = fit_multitask_calibration(predict(model, fit_frame), fit_frame, space=args.space, kind=args.kind,
                                            slice_field=args.slice_field, fit_ctcvr=args.fit_ctcvr,
                                            prior_strength=args.prior_strength, calibrator_kwargs=kwargs)
    calibration.metadata.update(model=os.path.abspath(model_dir), data=os.path.abspath(args.data))
    os.makedirs(args.out, exist_ok=True)
    calibration.save(os.path.join(args.out, cal_names.CALIBRATION_FILE))
    outputs = multitask_calibration_report(calibration, predict(model, eval_frame), eval_frame,
                                           num_bins=args.num_bins, plot_dir=args.out)
    report = {"space": args.space, "kind": args.kind, "slice_field": args.slice_field,
              "fit_rows": int(len(fit_frame)), "eval_rows": int(len(eval_frame)),
              "in_sample": args.eval_fraction == 0, "outputs": outputs}
    with open(os.path.join(args.out, cal_names.REPORT_FILE), "w", encoding="utf-8") as f:
        json.dump(_finite(report), f, indent=2)
    for output, table in outputs.items():
        before, after = table["before"], table["after"]
        print(f"{output:8s} ece {before['ece']:.4f} -> {after['ece']:.4f}  calibration_ratio "
              f"{before['calibration_ratio']:.3f} -> {after['calibration_ratio']:.3f}  (n={table['count']})")
    print(f"calibration: {os.path.join(args.out, cal_names.CALIBRATION_FILE)}")
    return 0
