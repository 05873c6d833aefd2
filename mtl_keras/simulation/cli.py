"""`mtl-ads simulate`: writes a simulated bid-request log with ground truth and prints its rates."""
from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="simulate a bid-request log (auctions, clicks, conversions) with ground truth",
        description="Writes requests-*.{parquet,csv,tfrecord}, feature_spec.json and summary.json to --out, "
        "then prints observed vs true rates.",
    )
    parser.add_argument("--out", required=True, help="output directory (must not hold simulated files yet)")
    parser.add_argument("--requests", type=int, default=None, help="number of bid requests (default 100000)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the requests (default 0)")
    parser.add_argument("--world-seed", type=int, default=None,
                        help="seed of the world (effect tables, intercepts); default: --seed")
    parser.add_argument("--scenario", default=None, help="a preset of mtl_keras.simulation.scenarios (observables, "
                        "misspecified, confounded, low_overlap); --config and flags override it")
    parser.add_argument("--format", choices=("parquet", "csv", "tfrecord"), default="parquet")
    parser.add_argument("--chunk-size", type=int, default=None, help="rows per file (default 262144)")
    parser.add_argument("--base-win-rate", type=float, default=None)
    parser.add_argument("--base-ctr", type=float, default=None)
    parser.add_argument("--base-cvr", type=float, default=None)
    parser.add_argument("--bias-strength", type=float, default=None, help="0: no selection bias (default 1)")
    parser.add_argument("--config", default=None, help="JSON file of SimulationConfig fields; flags override it")
    parser.add_argument("--overwrite", action="store_true", help="replace simulated files already in --out")
    parser.add_argument("--json", action="store_true", help="print the whole summary as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mtl_keras.simulation import SimulationConfig, write_dataset
    from mtl_keras.simulation.scenarios import get_scenario

    fields = dict(get_scenario(args.scenario).overrides) if args.scenario else {}
    if args.config:
        with open(args.config, encoding="utf-8") as f:
            fields.update(json.load(f))
    overrides = {
        "num_requests": args.requests,
        "seed": args.seed,
        "world_seed": args.world_seed,
        "chunk_size": args.chunk_size,
        "base_win_rate": args.base_win_rate,
        "base_ctr": args.base_ctr,
        "base_cvr": args.base_cvr,
        "bias_strength": args.bias_strength,
    }
    fields.update({k: v for k, v in overrides.items() if v is not None})
    config = SimulationConfig.from_dict(fields)
    summary = write_dataset(config, args.out, format=args.format, overwrite=args.overwrite, progress=True)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    observed, true = summary["observed"], summary["true"]
    print(f"wrote {summary['num_requests']} requests to {args.out} as {len(summary['files'])} {args.format} file(s) "
          f"in {summary['seconds']:.1f}s ({summary['requests_per_second']:,.0f} requests/s)")
    print(f"{'rate':<8}{'observed':>10}{'true':>10}   (observed CTR over impressions, CVR over clicks; true over all requests)")
    for key in ("win_rate", "ctr", "cvr", "ctcvr"):
        print(f"{key:<8}{_fmt(observed[key]):>10}{_fmt(true[key]):>10}")
    print(f"true CTR of won requests {_fmt(true['ctr_on_won'])}, true CVR of clicked requests "
          f"{_fmt(true['cvr_on_clicked'])}: the selection bias a naive model learns")
    return 0


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"
