"""`mtl-ads benchmark bias`: the debiasing benchmark on the simulator (see benchmarks.bias)."""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import time


def _int_list(text: str):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated ints, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive ints, got {text!r}")
    return values


def register(subparsers) -> None:
    from benchmarks.bias.config import (
        DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, DEFAULT_LEARNING_RATE, DEFAULT_REQUESTS, DEFAULT_SEEDS, DEFAULT_TEST_REQUESTS,
        KUAIREC)
    from mtl_keras.backbones import BACKBONES
    from mtl_keras.simulation.scenarios import DEFAULT_SCENARIO, SCENARIOS

    parser = subparsers.add_parser("benchmark", help="benchmarks on the simulator",
                                   description="Benchmarks that need the simulator's ground truth.")
    kinds = parser.add_subparsers(dest="benchmark", metavar="BENCHMARK")
    kinds.required = True
    bias = kinds.add_parser(
        "bias", help="naive vs ESMM vs ESCM² vs IPW-ESCM² against the ground truth",
        description="Trains every method with the same backbone and budget on the won impressions of simulated "
                    "requests and scores it on held-out requests, impressions and clicks against the true "
                    "probabilities and potential outcomes. Writes DIR/bias.json, DIR/bias.md and reliability PNGs.")
    bias.add_argument("--scenario", choices=(*SCENARIOS, KUAIREC), default=DEFAULT_SCENARIO,
                      help="selection mechanism (README 'Scenarios'); kuairec: semi-synthetic on real outcomes "
                      f"(default {DEFAULT_SCENARIO})")
    bias.add_argument("--quick", action="store_true", help="tiny sizes for tests and a first look (explicit flags "
                      "still override them); its numbers decide nothing")
    bias.add_argument("--requests", type=int, default=None, help=f"training requests per seed "
                      f"(default {DEFAULT_REQUESTS})")
    bias.add_argument("--test-requests", type=int, default=None,
                      help=f"held-out requests per seed (default {DEFAULT_TEST_REQUESTS}; 0: as many as --requests)")
    bias.add_argument("--seeds", type=int, default=None, help="sample/initialisation seeds per world, the "
                      f"repeats that measure training variance (default {DEFAULT_SEEDS})")
    bias.add_argument("--first-seed", type=int, default=None)
    bias.add_argument("--worlds", type=int, default=None, help="worlds to average over (default 1)")
    bias.add_argument("--world-seed", type=int, default=None, help="the first world's seed (default 0)")
    bias.add_argument("--backbone", choices=tuple(BACKBONES), default="mmoe")
    bias.add_argument("--out", required=True, help="output directory")
    bias.add_argument("--methods", default=None, help="comma-separated (default: all)")
    bias.add_argument("--win-model", choices=("lognormal_aft", "weibull_aft"), default=None)
    bias.add_argument("--win-fit-rows", type=int, default=None, help="survival fit subsample (default 50000)")
    bias.add_argument("--epochs", type=int, default=None, help=f"default {DEFAULT_EPOCHS}")
    bias.add_argument("--batch-size", type=int, default=None, help=f"default {DEFAULT_BATCH_SIZE}")
    bias.add_argument("--learning-rate", type=float, default=None, help=f"default {DEFAULT_LEARNING_RATE}")
    bias.add_argument("--embedding-dim", type=int, default=None)
    bias.add_argument("--num-experts", type=int, default=None)
    bias.add_argument("--expert-units", type=_int_list, default=None, help="e.g. 64,32")
    bias.add_argument("--tower-units", type=_int_list, default=None, help="e.g. 32")
    bias.add_argument("--no-calibration", action="store_true", help="skip the <method>+calibrated rows "
                      "(request-space isotonic calibration fitted on a fresh sample of the same world)")
    bias.add_argument("--quiet", action="store_true", help="no per-model progress lines")
    bias.set_defaults(func=run_bias)


def run_bias(args: argparse.Namespace) -> int:
    from benchmarks.bias import BiasBenchmarkConfig, run_bias_benchmark
    from benchmarks.bias.config import QUICK

    fields = dict(QUICK) if args.quick else {}
    given = {"scenario": args.scenario, "backbone": args.backbone, "requests": args.requests,
             "test_requests": args.test_requests, "seeds": args.seeds, "first_seed": args.first_seed,
             "worlds": args.worlds, "world_seed": args.world_seed, "win_model": args.win_model,
             "win_fit_rows": args.win_fit_rows, "epochs": args.epochs, "batch_size": args.batch_size,
             "learning_rate": args.learning_rate, "embedding_dim": args.embedding_dim,
             "num_experts": args.num_experts, "expert_units": args.expert_units, "tower_units": args.tower_units,
             "methods": None if args.methods is None else tuple(m.strip() for m in args.methods.split(",") if m.strip())}
    fields.update({k: v for k, v in given.items() if v is not None})
    if args.no_calibration:
        fields["calibrate"] = False
    config = BiasBenchmarkConfig(**fields)
    start = time.perf_counter()
    log = None if args.quiet else (lambda message: print(message, flush=True))
    report = run_bias_benchmark(config, args.out, log=log, command=_command_line())
    print(report.to_markdown())
    print(f"wrote {args.out}/bias.json, bias.md and reliability PNGs in {time.perf_counter() - start:.0f}s")
    return 0


def _command_line():
    """The command as typed, for the report; None when called from Python (tests)."""
    program = os.path.basename(sys.argv[0])
    if program == "mtl-ads":
        return " ".join(["mtl-ads"] + [shlex.quote(a) for a in sys.argv[1:]])
    if program == "__main__.py":
        return " ".join(["python -m benchmarks.bias"] + [shlex.quote(a) for a in sys.argv[1:]])
    return None
