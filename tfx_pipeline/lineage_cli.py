"""`mtl-ads pipeline lineage`: the executions behind a pushed model (tfx_pipeline.lineage).

`tfx_pipeline.cli.register` adds it to the `pipeline` subcommands with `register_lineage(sub)`.
"""
from __future__ import annotations

import argparse
import json


def register_lineage(subparsers) -> None:
    """Adds `lineage` to the `pipeline` subparsers."""
    parser = subparsers.add_parser(
        "lineage", help="show the executions and artifacts behind a pushed model (local runs)",
        description="Reads the local run's SQLite ML Metadata and prints the chain from the Pusher back to "
                    "ExampleGen: per execution its id, state (CACHED for a cache hit), times and artifact URIs.")
    parser.add_argument("--pipeline-root", required=True,
                        help="the run's pipeline root (or its workdir, or the SQLite file of --metadata)")
    parser.add_argument("--model", default=None, metavar="VERSION",
                        help="the pushed version (serving directory subdirectory); default: the latest pushed")
    parser.add_argument("--json", action="store_true", help="print the steps as JSON")
    parser.set_defaults(func=_lineage)


def _lineage(args: argparse.Namespace) -> int:
    from tfx_pipeline.lineage import format_lineage, lineage

    steps = lineage(args.pipeline_root, model_version=args.model)
    print(json.dumps([s.to_dict() for s in steps], indent=2) if args.json else format_lineage(steps))
    return 0
