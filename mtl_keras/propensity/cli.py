"""`mtl-ads propensity fit|evaluate`: win-propensity models on a simulated or iPinYou auction log."""
from __future__ import annotations

import argparse
import json
import pathlib

from mtl_keras.propensity.factory import WIN_MODEL_KINDS

_KINDS = WIN_MODEL_KINDS
_DEFAULT_MAX_FIT_ROWS = 200_000


def register(subparsers) -> None:
    parser = subparsers.add_parser("propensity", help="fit / evaluate win-propensity (survival) models",
                                   description="Win propensity P(win | x, bid) from censored auctions.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    fit = actions.add_parser("fit", help="fit one model and save it as JSON")
    _common(fit)
    fit.add_argument("--kind", choices=_KINDS, default="lognormal_aft")
    fit.add_argument("--out", required=True, help="model JSON path (load with mtl_keras.propensity.load_win_model)")
    fit.set_defaults(func=run_fit)
    evaluate = actions.add_parser("evaluate", help="fit every model on train and write the test metrics")
    _common(evaluate)
    evaluate.add_argument("--models", default=",".join(_KINDS), help="comma-separated kinds (default: all)")
    evaluate.add_argument("--out", required=True, help="report JSON path")
    evaluate.add_argument("--bin-width", type=float, default=1.0, help="price bin of ANLP (default 1)")
    evaluate.add_argument("--segment-plot", default=None,
                          help="per-segment bid-landscape PNG, one panel per model (default: <out>.segments.png)")
    evaluate.set_defaults(func=run_evaluate)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="a 'mtl-ads simulate' directory or an iPinYou DLF directory")
    parser.add_argument("--max-rows", type=int, default=None, help="read at most this many simulated rows")
    parser.add_argument("--test-fraction", type=float, default=0.25, help="simulated data: tail share held out")
    parser.add_argument("--max-fit-rows", type=int, default=_DEFAULT_MAX_FIT_ROWS,
                        help=f"fit on a random subsample of this many rows (default {_DEFAULT_MAX_FIT_ROWS}; "
                        "0 = all); scoring covers every row; the neural model always fits on all rows")
    parser.add_argument("--segment", default="auto",
                        help="km_segment column, or 'auto' (default): chosen by cross-validated likelihood")
    parser.add_argument("--categorical", default=None, help="comma-separated id features (default: integer columns)")
    parser.add_argument("--numeric", default=None, help="comma-separated numeric features (default: float columns)")
    parser.add_argument("--max-levels", type=int, default=20, help="one-hot levels kept per id feature")
    parser.add_argument("--min-count", type=int, default=20, help="rows a level needs to be kept (default 20)")
    parser.add_argument("--penalizer", default="cv",
                        help="Cox/AFT L2 penalty: 'cv' (default: cross-validated on train over "
                        "0.001,0.01,0.1,1), 'default' (Cox 0.1, AFT 0.01) or a number")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default=None, help="bid-landscape PNG (default: next to --out)")


def _make(kind: str, args, train):
    from mtl_keras.propensity import make_win_model

    max_fit_rows = args.max_fit_rows or None
    if kind == "km":
        return make_win_model(kind, max_fit_rows=max_fit_rows, seed=args.seed)
    if kind == "km_segment":
        return make_win_model(kind, segment=args.segment or "auto", max_fit_rows=max_fit_rows, seed=args.seed)
    split = lambda s: None if s is None else [c for c in s.split(",") if c]  # noqa: E731
    categorical, numeric = split(args.categorical), split(args.numeric)
    if (categorical is None) != (numeric is None):  # one given: the other kind is empty, not inferred
        categorical, numeric = categorical or [], numeric or []
    features = {"categorical": categorical, "numeric": numeric, "max_levels": args.max_levels,
                "min_count": args.min_count, "seed": args.seed}
    if kind == "neural":
        return make_win_model(kind, max_fit_rows=None, **features)
    return make_win_model(kind, penalizer=_penalizer(args.penalizer), max_fit_rows=max_fit_rows, **features)


def _penalizer(text: str):
    if text in ("cv", "default"):
        return None if text == "default" else "cv"
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"--penalizer must be 'cv', 'default' or a number >= 0, got {text!r}.") from None


def _fit_all(kinds, args, train):
    from tqdm.auto import tqdm

    models = {}
    with tqdm(kinds, desc="fit", unit="model") as bar:
        for kind in bar:
            rows = len(train) if kind == "neural" else min(len(train), args.max_fit_rows or len(train))
            bar.set_postfix_str(f"{kind} on {rows:,} rows")
            models[kind] = _make(kind, args, train).fit(train)
    return models


def _check_input(data: str) -> None:
    """--data exists; a simulated dataset's files exist, are not empty or truncated and hold the columns
    its summary lists (a ValueError naming the file and column, before any model is fitted)."""
    from mtl_keras import input_files
    from mtl_keras.simulation import config as sim_config

    path = pathlib.Path(data)
    if not path.is_dir():
        raise ValueError(f"--data {data!r} {'is a file' if path.exists() else 'does not exist'}; give a "
                         "'mtl-ads simulate' directory or an iPinYou DLF directory.")
    summary_path = path / sim_config.SUMMARY_FILE
    if not summary_path.is_file():
        return  # an iPinYou directory, or the error load_auction_log reports
    try:
        summary = json.loads(summary_path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"--data: {str(summary_path)!r} cannot be read as JSON: {err}.") from None
    columns = list(summary.get("columns", {}))
    for name in summary.get("files", []):
        file = str(path / name)
        if not pathlib.Path(file).exists():
            raise ValueError(f"--data: {file!r}, listed in {sim_config.SUMMARY_FILE}, does not exist. Fix: "
                             "simulate the dataset again.")
        input_files.check_file(file, "--data")
        present = input_files.file_columns(file)
        missing = [c for c in columns if present is not None and c not in present]
        if missing:
            raise ValueError(f"--data: {file!r} has no column {', '.join(map(repr, missing))} (listed in "
                             f"{sim_config.SUMMARY_FILE}; the file has {present}). Fix: simulate the dataset again "
                             "or add the column.")


def run_fit(args: argparse.Namespace) -> int:
    from mtl_keras.propensity.datasets import load_auction_log
    from mtl_keras.propensity.evaluation import evaluate_model
    from mtl_keras.propensity.landscape import plot_bid_landscape

    _check_input(args.data)

    train, test, source = load_auction_log(args.data, args.test_fraction, args.max_rows)
    kinds = [args.kind] if args.kind == "km" else ["km", args.kind]  # KM is the plot's reference
    models = _fit_all(kinds, args, train)
    model = models[args.kind]
    model.save(args.out)
    plot = args.plot or str(pathlib.Path(args.out).with_suffix(".png"))
    plot_bid_landscape(models, test, plot)
    metrics = evaluate_model(model, test)
    print(f"fitted {args.kind} on {model.fit_info['fit_rows']:,} of {model.fit_info['rows']:,} {source} train rows "
          f"in {model.fit_info['seconds']:.1f}s; saved {args.out}; plot {plot}")
    print(_table({args.kind: metrics}))
    return 0


def _plot_segment(segment, train):
    """The column of the per-segment plot without a km_segment model: the given one, else the id column
    with the fewest levels among km_segment's candidates (None if there is none)."""
    from mtl_keras.propensity.km_select import candidate_columns

    if segment and segment != "auto":
        return segment
    candidates = candidate_columns(train, 50)
    return min(candidates, key=lambda c: (train[c].nunique(), c)) if candidates else None


def run_evaluate(args: argparse.Namespace) -> int:
    from mtl_keras.propensity.datasets import load_auction_log
    from mtl_keras.propensity.evaluation import evaluate_model
    from mtl_keras.propensity.landscape import plot_bid_landscape
    from mtl_keras.propensity.segment_landscape import plot_segment_landscapes

    kinds = [k for k in args.models.split(",") if k]
    unknown = [k for k in kinds if k not in _KINDS]
    if unknown or not kinds:
        raise ValueError(f"--models has unknown kinds {unknown}; use a comma-separated subset of {list(_KINDS)}.")
    _check_input(args.data)
    train, test, source = load_auction_log(args.data, args.test_fraction, args.max_rows)
    models = _fit_all(kinds, args, train)
    report = {
        "data": str(args.data),
        "source": source,
        "train_rows": len(train),
        "test_rows": len(test),
        "max_fit_rows": args.max_fit_rows or None,
        "note": "Models are fitted on a random subsample of at most max_fit_rows train rows (the neural model on all; "
                "see each model's fit.fit_rows and fit.subsampled); every test row is scored. c_index ranks by the "
                "median price, c_index_restricted by the mean price up to the largest test price; brier is at the "
                "bid, integrated_brier the IPCW Brier score over a price grid. p_win_mae needs simulated ground truth.",
        "models": {kind: evaluate_model(m, test, bin_width=args.bin_width) for kind, m in models.items()},
    }
    plot = args.plot or str(pathlib.Path(args.out).with_suffix(".png"))
    plot_bid_landscape(models, test, plot)
    report["plot"] = plot
    segment = models["km_segment"].column if "km_segment" in models else _plot_segment(args.segment, train)
    if segment is not None:
        report["segment_plot"] = args.segment_plot or str(pathlib.Path(args.out).with_suffix(".segments.png"))
        report["segment_plot_column"] = segment
        plot_segment_landscapes(models, test, segment, report["segment_plot"])
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"{source} data: fitted on {len(train):,} train rows (subsample <= {args.max_fit_rows or 'all'}), "
          f"scored {len(test):,} test rows; report {args.out}; plot {plot}")
    print(_table(report["models"]))
    return 0


def _table(metrics) -> str:
    lines = [f"{'model':<15}{'c_index':>9}{'c_restr':>9}{'anlp':>9}{'brier':>9}{'ibs':>9}{'calib':>9}{'p_win_mae':>11}"
             f"{'fit_s':>8}"]
    for kind, m in metrics.items():
        mae = "n/a" if m["p_win_mae"] is None else f"{m['p_win_mae']:.4f}"
        ibs = "n/a" if m["integrated_brier"] is None else f"{m['integrated_brier']:.4f}"
        lines.append(f"{kind:<15}{m['c_index']:>9.4f}{m['c_index_restricted']:>9.4f}{m['anlp']:>9.3f}{m['brier']:>9.4f}"
                     f"{ibs:>9}{m['calibration_error']:>9.4f}{mae:>11}{m['fit']['seconds']:>8.1f}")
    return "\n".join(lines)
