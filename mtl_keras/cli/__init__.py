"""`mtl-ads`: the command line.

Subcommands come from the `mtl_ads.commands` entry-point group (see setup.py), so that `mtl_keras`
never imports `serving` or `tfx_pipeline`. Only the chosen subcommand's module is imported.
Each module has `register(subparsers)`, which adds its parser and sets `func`.
"""
from __future__ import annotations

import argparse
import os
import sys
from importlib import metadata
from typing import List, Optional


def _quiet_tensorflow() -> None:
    # TF's C++ logging is noise for CLI users; MTL_ADS_VERBOSE=1 brings it back.
    if not os.environ.get("MTL_ADS_VERBOSE"):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import warnings

        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        import logging

        logging.getLogger("absl").setLevel(logging.ERROR)


def _commands():
    return {e.name: e for e in metadata.entry_points(group="mtl_ads.commands")}


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    commands = _commands()
    parser = argparse.ArgumentParser(
        prog="mtl-ads",
        description="Multi-task conversion models for online advertising.",
        epilog="commands: " + ", ".join(sorted(commands)),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    if command in commands:
        commands[command].load()(sub)
    else:
        for name in sorted(commands):
            sub.add_parser(name, help=f"run 'mtl-ads {name} --help'")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    _quiet_tensorflow()
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv else None
    args = build_parser(command).parse_args(argv)
    if not hasattr(args, "func"):
        build_parser().print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
