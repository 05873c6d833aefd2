"""`mtl-ads pipeline run` argument checks made before TFX is imported, so that a wrong path fails in
a second instead of after the 30-50 s of importing TFX (only CSV header checks import TensorFlow);
and the --require-blessed verdict.

Remote paths (gs://...) are left to the pipeline."""
from __future__ import annotations

import argparse
import glob
import os
import tempfile
from typing import Optional

# File pattern per --format when --pattern is not given (tfx_pipeline.builders.DATA_FORMATS, which imports TFX).
DEFAULT_PATTERNS = {"tfrecord": "*.tfrecord*", "csv": "*.csv"}


def _remote(path: str) -> bool:
    return "://" in path


def check_run_args(args: argparse.Namespace) -> None:
    """Raises a ValueError naming the first argument of `pipeline run` that cannot work, and the fix."""
    if not _remote(args.data):
        try:
            os.stat(args.data)
        except FileNotFoundError:
            raise ValueError(f"--data {args.data!r} does not exist; give the directory of the request logs.") from None
        except OSError as err:
            raise ValueError(f"--data {args.data!r} cannot be read ({err.strerror}).") from None
        if not os.path.isdir(args.data):
            raise ValueError(f"--data {args.data!r} is not a directory; give the directory that holds the "
                             "TFRecord or CSV files (ExampleGen reads every file matching --pattern in it).")
    for flag, path in (("--pipeline-root", args.pipeline_root), ("--serving-dir", args.serving_dir)):
        if not _remote(path):
            check_writable_dir(path, flag)
    if args.metadata and not _remote(args.metadata):
        if os.path.isdir(args.metadata):
            raise ValueError(f"--metadata {args.metadata!r} is a directory; give the SQLite file path.")
        check_writable_dir(os.path.dirname(os.path.abspath(args.metadata)), "--metadata")
    for flag, path in (("--model-config", args.model_config), ("--feature-spec", args.feature_spec),
                       ("--transform-config", args.transform_config), ("--schema", args.schema)):
        if path and not _remote(path) and not os.path.isfile(path):
            raise ValueError(f"{flag} {path!r} {'is a directory' if os.path.isdir(path) else 'does not exist'}; "
                             "give a file.")
    if not 0.0 <= args.min_auc <= 1.0:
        raise ValueError(f"--min-auc must be in [0, 1], got {args.min_auc}.")
    if args.beam_workers < 1:
        raise ValueError(f"--beam-workers must be >= 1, got {args.beam_workers}.")
    pattern = args.pattern or DEFAULT_PATTERNS[args.format]
    if args.format == "csv":
        from tfx_pipeline.examples_io import check_csv_headers  # reads with tf.io.gfile: imports TensorFlow

        check_csv_headers(args.data, pattern)
    if not args.model_config and not args.feature_spec and not _remote(args.data):
        default = os.path.join(args.data, "feature_spec.json")
        if not os.path.isfile(default):
            raise ValueError(f"No FeatureSpec: {default!r} does not exist. Pass --feature-spec or --model-config.")
    if not _remote(args.data) and not glob.glob(os.path.join(args.data, pattern)):
        raise ValueError(f"--data {args.data!r} has no files matching {pattern!r} (--format {args.format}). "
                         "Fix: pass --pattern or --format, or point --data at the logs.")


def check_writable_dir(path: str, flag: str) -> None:
    """Creates `path` if needed and writes a probe file in it; a ValueError naming `flag` if either fails."""
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"{flag} {path!r} is not writable: {existing!r} is a file, not a directory.")
    try:
        os.makedirs(path, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".write-test-", dir=path)
        os.close(handle)
        os.remove(probe)
    except OSError as err:
        raise ValueError(f"{flag} {path!r} is not writable ({err.strerror}). Fix: choose a directory you can "
                         "write to.") from None


def blessing_failure(blessed: Optional[bool], min_auc: float) -> Optional[str]:
    """Why a run with `--require-blessed` fails (None when the model was blessed)."""
    if blessed is True:
        return None
    if blessed is None:
        return ("--require-blessed: the Evaluator did not run to the end in this run, so nothing was blessed "
                "(see the component table).")
    return (f"--require-blessed: the Evaluator did not bless the model (its CTR AUC on the overall slice is below "
            f"--min-auc {min_auc}, or dropped against the last blessed model); nothing was pushed.")
