"""export_serving_model: a versioned, TF-Serving-ready SavedModel, moved into place atomically."""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, List, Mapping, Optional, Sequence

import tensorflow as tf

from mtl_keras.features import FeatureSpec
from serving.export import warmup
from serving.export.signatures import ServingModule

SAVED_MODEL_FILE = "saved_model.pb"
CALIBRATION_FILE = "calibration.json"


def list_versions(base_dir: str) -> List[int]:
    """Complete versions under `base_dir` (numeric sub-directories holding saved_model.pb), ascending."""
    if not os.path.isdir(base_dir):
        return []
    versions = []
    for entry in os.listdir(base_dir):
        if entry.isdigit() and os.path.exists(os.path.join(base_dir, entry, SAVED_MODEL_FILE)):
            versions.append(int(entry))
    return sorted(versions)


def save_serving_model(
    model: tf.keras.Model,
    feature_spec: FeatureSpec,
    export_dir: str,
    tft_output_dir: Optional[str] = None,
    win_model: Optional[tf.Module] = None,
    warmup_examples: Optional[Sequence[Mapping[str, Any]]] = None,
    model_name: str = "",
    calibration: Any = None,
) -> str:
    """Writes the serving SavedModel (signatures + warmup records) into `export_dir` itself.

    For callers that own the versioning, e.g. a TFX Trainer writing `fn_args.serving_model_dir`
    (Pusher then copies it to `<push destination>/<version>/`). `export_dir` must be absent or
    empty. Arguments as in `export_serving_model`.
    """
    if os.path.isdir(export_dir) and os.listdir(export_dir):
        raise ValueError(f"export_dir {export_dir} is not empty; give a new or empty directory.")
    if not isinstance(feature_spec, FeatureSpec):
        raise ValueError(f"feature_spec must be a FeatureSpec, got {type(feature_spec).__name__}.")
    tft_output = None
    if tft_output_dir is not None:
        import tensorflow_transform as tft

        tft_output = tft.TFTransformOutput(tft_output_dir)
    module = ServingModule(model, feature_spec, tft_output=tft_output, win_model=win_model, calibration=calibration)
    signatures = module.signatures()
    rows = list(warmup_examples) if warmup_examples is not None else warmup.synthetic_rows(module.raw_spec)
    logs = warmup.warmup_requests(rows, module.raw_spec, model_name=model_name)
    tf.saved_model.save(module, export_dir, signatures=signatures)
    warmup.write_warmup_requests(export_dir, logs)
    if calibration is not None:  # the fitted calibrators, readable beside the graph that applies them
        calibration.save(os.path.join(export_dir, "assets.extra", CALIBRATION_FILE))
    return export_dir


def export_serving_model(
    model: tf.keras.Model,
    feature_spec: FeatureSpec,
    base_dir: str,
    version: Optional[int] = None,
    tft_output_dir: Optional[str] = None,
    win_model: Optional[tf.Module] = None,
    warmup_examples: Optional[Sequence[Mapping[str, Any]]] = None,
    model_name: str = "",
    calibration: Any = None,
) -> str:
    """Exports `model` to `<base_dir>/<version>/` and returns that path.

    Args:
      model: dict-in ({feature: [batch]}) / dict-out (p_ctr, p_cvr, p_ctcvr: [batch, 1]) Keras model.
      feature_spec: the model's features.
      base_dir: the TF Serving model base path.
      version: positive int; default one more than the highest existing version (1 when none).
      tft_output_dir: a tf.Transform output directory; its graph then runs inside every signature
        and the raw inputs are its raw features (labels dropped).
      win_model: a tf.Module with `__call__(features, bids[batch, num_bids]) -> [batch, num_bids]`,
        e.g. `mtl_keras.propensity` AFT models' `to_tf_module(feature_spec)`; adds the
        `win_probability` signature.
      warmup_examples: raw feature rows for `assets.extra/tf_serving_warmup_requests`; default a
        few synthetic rows.
      model_name: written into the warmup requests' model_spec.
      calibration: a fitted `mtl_keras.calibration.MultiTaskCalibration`; every signature then serves
        calibrated p_ctr / p_cvr / p_ctcvr and the raw `<output>_uncalibrated` ones, and its JSON is
        written to `assets.extra/calibration.json`.

    The version is written to a hidden temporary directory beside it and renamed into place, so a
    model server polling `base_dir` never sees a half-written version.
    """
    if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 1):
        raise ValueError(f"version must be a positive int or None, got {version!r}.")
    if not isinstance(feature_spec, FeatureSpec):
        raise ValueError(f"feature_spec must be a FeatureSpec, got {type(feature_spec).__name__}.")
    os.makedirs(base_dir, exist_ok=True)
    if version is None:
        version = (max(list_versions(base_dir)) if list_versions(base_dir) else 0) + 1
    target = os.path.join(base_dir, str(version))
    if os.path.exists(target):
        raise ValueError(f"Version directory {target} exists already; pass another version or remove it.")
    # Hidden, non-numeric name: TF Serving and our poller ignore it until the rename.
    tmp = tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=base_dir)
    try:
        save_serving_model(model, feature_spec, tmp, tft_output_dir, win_model, warmup_examples, model_name,
                           calibration)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
