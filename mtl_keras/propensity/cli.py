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
    evaluate.set_defaults(func=run_evaluate)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="a 'mtl-ads simulate' directory or an iPinYou DLF directory")
    parser.add_argument("--max-rows", type=int, default=None, help="read at most this many simulated rows")
    parser.add_argument("--test-fraction", type=float, default=0.25, help="simulated data: tail share held out")
    parser.add_argument("--max-fit-rows", type=int, default=_DEFAULT_MAX_FIT_ROWS,
                        help=f"fit on a random subsample of this many rows (default {_DEFAULT_MAX_FIT_ROWS}; "
                        "0 = all); scoring covers every row")
    parser.add_argument("--segment", default=None, help="km_segment column (default: finest feature with <= 50 levels)")
    parser.add_argument("--categorical", default=None, help="comma-separated id features (default: integer columns)")
    parser.add_argument("--numeric", default=None, help="comma-separated numeric features (default: float columns)")
    parser.add_argument("--max-levels", type=int, default=20, help="one-hot levels kept per id feature")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default=None, help="bid-landscape PNG (default: next to --out)")


def _make(kind: str, args, train):
    from mtl_keras.propensity import make_win_model
    from mtl_keras.propensity.datasets import default_segment

    max_fit_rows = args.max_fit_rows or None
    if kind == "km":
        return make_win_model(kind, max_fit_rows=max_fit_rows, seed=args.seed)
    if kind == "km_segment":
        return make_win_model(kind, segment=args.segment or default_segment(train), max_fit_rows=max_fit_rows,
                              seed=args.seed)
    split = lambda s: None if s is None else [c for c in s.split(",") if c]  # noqa: E731
    categorical, numeric = split(args.categorical), split(args.numeric)
    if (categorical is None) != (numeric is None):  # one given: the other kind is empty, not inferred
        categorical, numeric = categorical or [], numeric or []
    return make_win_model(kind, categorical=categorical, numeric=numeric, max_levels=args.max_levels,
                          max_fit_rows=max_fit_rows, seed=args.seed)


def _fit_all(kinds, args, train):
    from tqdm.auto import tqdm

    models = {}
    with tqdm(kinds, desc="fit", unit="model") as bar:
        for kind in bar:
            bar.set_postfix_str(f"{kind} on {min(len(train), args.max_fit_rows or len(train)):,} rows")
            models[kind] = _make(kind, args, train).fit(train)
    return models


def run_fit(args: argparse.Namespace) -> int:
    from mtl_keras.propensity.datasets import load_auction_log
    from mtl_keras.propensity.evaluation import evaluate_model
    from mtl_keras.propensity.landscape import plot_bid_landscape

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


def run_evaluate(args: argparse.Namespace) -> int:
    from mtl_keras.propensity.datasets import load_auction_log
    from mtl_keras.propensity.evaluation import evaluate_model
    from mtl_keras.propensity.landscape import plot_bid_landscape

    kinds = [k for k in args.models.split(",") if k]
    unknown = [k for k in kinds if k not in _KINDS]
    if unknown or not kinds:
        raise ValueError(f"--models has unknown kinds {unknown}; use a comma-separated subset of {list(_KINDS)}.")
    train, test, source = load_auction_log(args.data, args.test_fraction, args.max_rows)
    models = _fit_all(kinds, args, train)
    report = {
        "data": str(args.data),
        "source": source,
        "train_rows": len(train),
        "test_rows": len(test),
        "max_fit_rows": args.max_fit_rows or None,
        "note": "Models are fitted on a random subsample of at most max_fit_rows train rows (see each model's "
                "fit.fit_rows and fit.subsampled); every test row is scored. p_win_mae needs simulated ground truth.",
        "models": {kind: evaluate_model(m, test, bin_width=args.bin_width) for kind, m in models.items()},
    }
    plot = args.plot or str(pathlib.Path(args.out).with_suffix(".png"))
    plot_bid_landscape(models, test, plot)
    report["plot"] = plot
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"{source} data: fitted on {len(train):,} train rows (subsample <= {args.max_fit_rows or 'all'}), "
          f"scored {len(test):,} test rows; report {args.out}; plot {plot}")
    print(_table(report["models"]))
    return 0


def _table(metrics) -> str:
    lines = [f"{'model':<15}{'c_index':>9}{'anlp':>9}{'brier':>9}{'calib':>9}{'p_win_mae':>11}{'fit_s':>8}"]
    for kind, m in metrics.items():
        mae = "n/a" if m["p_win_mae"] is None else f"{m['p_win_mae']:.4f}"
        lines.append(f"{kind:<15}{m['c_index']:>9.4f}{m['anlp']:>9.3f}{m['brier']:>9.4f}{m['calibration_error']:>9.4f}"
                     f"{mae:>11}{m['fit']['seconds']:>8.1f}")
    return "\n".join(lines)
