"""`mtl-ads pipeline report`: the HTML report of a local pipeline's latest run (tfx_pipeline.report).

`tfx_pipeline.cli.register` adds it to the `pipeline` subcommands with `register_report(sub)`.
"""
from __future__ import annotations

import argparse


def register_report(subparsers) -> None:
    """Adds `report` to the `pipeline` subparsers."""
    parser = subparsers.add_parser(
        "report", help="write a self-contained HTML report of the latest local run",
        description="Reads the local run's SQLite ML Metadata and artifacts and writes one static HTML page: "
                    "component timeline, data validation, TFMA metrics against the baseline, reliability "
                    "diagrams, win curve, gate usage, links to the model card and the TensorBoard logdir.")
    parser.add_argument("--pipeline-root", required=True,
                        help="the run's pipeline root (or its workdir, or the SQLite file of --metadata)")
    parser.add_argument("--out", required=True, help="the HTML file to write, e.g. report.html")
    parser.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from tfx_pipeline.report import write_run_report

    print(f"wrote {write_run_report(args.pipeline_root, args.out)}")
    return 0
