"""`mtl-ads`: the command line.

A thin dispatcher: subcommands come from the `mtl_ads.commands` entry-point group (see setup.py)
and live with the package they drive (`mtl_keras.cli.train`, `mtl_keras.simulation.cli`,
`mtl_keras.propensity.cli`, `serving.cli`, `tfx_pipeline.cli`, `benchmarks.bias.cli`), so that
`mtl_keras` never imports `serving` or `tfx_pipeline`. Only the chosen subcommand's module is
imported. Each module has `register(subparsers)`, which adds its parser and sets `func`. A
subcommand whose install extra is missing fails with the `pip install` line that adds it.
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


# Top-level modules of each install extra (setup.py), to turn an ImportError into the fix.
EXTRA_OF_MODULE = {
    "tfx": "pipeline", "tfx_bsl": "pipeline", "tensorflow_transform": "pipeline",
    "tensorflow_model_analysis": "pipeline", "apache_beam": "pipeline", "tensorflow_data_validation": "pipeline",
    "ml_metadata": "pipeline", "tensorflow_serving": "serving", "grpc": "serving",
    "google.cloud.aiplatform": "vertex",
}


def missing_extra(err: ImportError) -> Optional[str]:
    """The install extra that provides the module `err` could not import, if it is one of ours."""
    name = getattr(err, "name", None) or ""
    for module, extra in EXTRA_OF_MODULE.items():
        if name == module or name.startswith(module + "."):
            return extra
    return None


def _missing_extra_message(command: Optional[str], err: ImportError) -> Optional[str]:
    extra = missing_extra(err)
    if extra is None:
        return None
    return (f"`mtl-ads {command}` needs the [{extra}] extra, which is not installed (no module {err.name!r}). "
            f"Fix: pip install 'mtl-ads[{extra}]' (or 'mtl-ads[all]').")


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
    try:
        args = build_parser(command).parse_args(argv)
        if not hasattr(args, "func"):
            build_parser().print_help()
            return 2
        return int(args.func(args) or 0)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ImportError as err:
        message = _missing_extra_message(command, err)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
