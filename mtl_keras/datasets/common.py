"""Shared by the public-dataset readers: finding a split's CSV, typed columns, the FeatureSpec,
and `write_for_training` (parquet + JSON that `mtl-ads train` reads)."""
from __future__ import annotations

import dataclasses
import pathlib
import warnings
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from mtl_keras import names
from mtl_keras.features import CategoricalFeature, FeatureSpec, NumericFeature

# What to do with rows that have conversion=1 but click=0 (they break the click -> conversion funnel).
RAISE, DROP = "raise", "drop"
# Rows per chunk when only the id columns of a split are scanned for the vocabulary sizes.
_SCAN_CHUNK_ROWS = 1_000_000


@dataclasses.dataclass(frozen=True)
class Layout:
    """One dataset's CSV layout: file names per split and the role of every column."""

    dataset: str                                # for error messages, e.g. "Ali-CCP"
    split_files: Mapping[str, Sequence[str]]    # split -> glob patterns of its CSV in a directory
    categorical: Mapping[str, str]              # CSV column -> feature name (int64 ids)
    numeric: Mapping[str, str]                  # CSV column -> feature name (float32)
    click: str                                  # CSV column of the click label
    conversion: str                             # CSV column of the conversion label
    passthrough: Sequence[str] = ()             # optional CSV columns kept in the frame, not features


def read_split(layout: Layout, path_or_dir, split: str, embedding_dim: int,
               on_conversion_without_click: str) -> Tuple[pd.DataFrame, FeatureSpec]:
    """The reader behind `read_ali_ccp` / `read_aliexpress` (see their docstrings)."""
    if on_conversion_without_click not in (RAISE, DROP):
        raise ValueError(f"on_conversion_without_click must be {RAISE!r} or {DROP!r}, "
                         f"got {on_conversion_without_click!r}.")
    file, other_files = _resolve(layout, path_or_dir, split)
    raw = _read_csv(layout, file)
    columns = {feature: _ids(raw[column], column, file) for column, feature in layout.categorical.items()}
    columns.update({feature: _floats(raw[column], column, file) for column, feature in layout.numeric.items()})
    columns[names.CLICK] = _binary(raw[layout.click], layout.click, file)
    columns[names.CONVERSION] = _binary(raw[layout.conversion], layout.conversion, file)
    columns.update({column: raw[column].to_numpy() for column in layout.passthrough if column in raw.columns})
    frame = pd.DataFrame(columns)  # built at once: column-by-column inserts fragment an 80-column frame
    bad = (frame[names.CONVERSION] == 1) & (frame[names.CLICK] == 0)
    if bad.any():
        message = (f"{layout.dataset} {str(file)!r}: {int(bad.sum())} of {len(frame)} rows have "
                   f"{layout.conversion}=1 but {layout.click}=0, which breaks the click -> conversion funnel "
                   "the CVR/CTCVR tasks assume")
        if on_conversion_without_click == RAISE:
            raise ValueError(message + f". Fix: check the file, or pass on_conversion_without_click={DROP!r} "
                                       "to drop those rows (with a warning).")
        if bad.all():
            raise ValueError(message + ": dropping them would leave no rows. Fix: check the label columns.")
        warnings.warn(message + "; dropped them (on_conversion_without_click='drop').", stacklevel=3)
        frame = frame[~bad].reset_index(drop=True)
    sizes = _vocabulary_sizes(layout, other_files, frame)
    spec = FeatureSpec(
        categorical=[CategoricalFeature(f, vocabulary_size=sizes[f], embedding_dim=embedding_dim)
                     for f in layout.categorical.values()],
        numeric=[_numeric_feature(f, frame[f].to_numpy()) for f in layout.numeric.values()])
    return frame, spec


def _resolve(layout: Layout, path_or_dir, split: str) -> Tuple[pathlib.Path, List[pathlib.Path]]:
    """(the CSV to read, the dataset's other split CSVs in its directory: their ids count in the vocabulary)."""
    path = pathlib.Path(path_or_dir)
    patterns = ", ".join(p for ps in layout.split_files.values() for p in ps)
    if not path.exists():
        raise ValueError(f"{layout.dataset}: {str(path)!r} does not exist. Fix: give the directory holding the "
                         f"split files ({patterns}) or one of those CSV files.")
    if path.is_dir():
        if split not in layout.split_files:
            raise ValueError(f"{layout.dataset}: split={split!r} is not one of {list(layout.split_files)}.")
        matches = _matches(path, layout.split_files[split])
        if not matches:
            found = sorted(p.name for p in path.glob("*.csv")) or "no CSV files"
            raise ValueError(f"{layout.dataset}: directory {str(path)!r} has no {split} file "
                             f"({', '.join(layout.split_files[split])}); it has {found}. Fix: point at the "
                             "directory of the download, or pass the CSV file itself.")
        if len(matches) > 1:
            raise ValueError(f"{layout.dataset}: directory {str(path)!r} has {len(matches)} {split} files "
                             f"{[m.name for m in matches]}. Fix: pass the CSV file you mean instead of the directory.")
        file = matches[0]
    else:
        if path.suffix.lower() != ".csv":
            raise ValueError(f"{layout.dataset}: {str(path)!r} is not a .csv file. Fix: give the CSV of one split "
                             f"({patterns}) or its directory.")
        file = path
    siblings = _matches(file.parent, [p for ps in layout.split_files.values() for p in ps])
    return file, [s for s in siblings if s.resolve() != file.resolve()]


def _matches(directory: pathlib.Path, patterns: Sequence[str]) -> List[pathlib.Path]:
    return sorted({p for pattern in patterns for p in directory.glob(pattern) if p.is_file()})


def _required(layout: Layout) -> List[str]:
    return [*layout.categorical, *layout.numeric, layout.click, layout.conversion]


def _check_header(layout: Layout, file: pathlib.Path, columns: Sequence[str]) -> None:
    missing = [c for c in _required(layout) if c not in set(columns)]
    if missing:
        shown = missing if len(missing) <= 10 else missing[:10] + [f"... {len(missing) - 10} more"]
        raise ValueError(f"{layout.dataset} {str(file)!r} lacks column(s) {shown} (it has {len(columns)} columns, "
                         f"first ones {list(columns)[:8]}). Fix: give an unmodified {layout.dataset} CSV in the "
                         "torch-rechub layout (header row with the original column names).")


def _read_csv(layout: Layout, file: pathlib.Path) -> pd.DataFrame:
    try:
        header = pd.read_csv(file, nrows=0).columns
    except (pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{layout.dataset} {str(file)!r} is not a CSV with a header row ({err}).") from None
    _check_header(layout, file, header)
    usecols = _required(layout) + [c for c in layout.passthrough if c in set(header)]
    raw = pd.read_csv(file, usecols=usecols)
    if raw.empty:
        raise ValueError(f"{layout.dataset} {str(file)!r} has a header but no rows.")
    return raw


def _ids(values: pd.Series, column: str, file) -> np.ndarray:
    """int64 ids >= 0; a float column is accepted when every value is a whole number."""
    if not pd.api.types.is_numeric_dtype(values):
        raise ValueError(f"{str(file)!r}: categorical column {column!r} has dtype {values.dtype}, not numbers; "
                         "the readers expect label-encoded integer ids. Fix: encode them first.")
    array = values.to_numpy()
    if values.isna().any():
        raise ValueError(f"{str(file)!r}: categorical column {column!r} has {int(values.isna().sum())} missing "
                         "values. Fix: fill them with a reserved id (e.g. 0).")
    if not np.all(np.mod(array, 1) == 0) or array.min() < 0:
        raise ValueError(f"{str(file)!r}: categorical column {column!r} must hold whole ids >= 0; found values in "
                         f"[{array.min()}, {array.max()}] or fractions.")
    return array.astype(np.int64)


def _floats(values: pd.Series, column: str, file) -> np.ndarray:
    array = pd.to_numeric(values, errors="coerce").to_numpy(np.float32)
    bad = int((~np.isfinite(array)).sum())
    if bad:
        raise ValueError(f"{str(file)!r}: numeric column {column!r} has {bad} NaN, infinite or non-numeric values. "
                         "Fix: impute or drop those rows first.")
    return array


def _binary(values: pd.Series, column: str, file) -> np.ndarray:
    if values.isna().any() or not values.isin([0, 1]).all():
        other = values[values.isna() | ~values.isin([0, 1])]
        raise ValueError(f"{str(file)!r}: label column {column!r} must hold only 0 and 1; {len(other)} rows hold "
                         f"other values (e.g. {other.iloc[0]!r}).")
    return values.to_numpy().astype(np.int8)


def _vocabulary_sizes(layout: Layout, files: Sequence[pathlib.Path], frame: pd.DataFrame) -> Dict[str, int]:
    """max id + 1 over the frame and the other split files beside it (as torch-rechub and MTReclib
    size their tables), so ids of every split fit one FeatureSpec. Only their id columns are read, in chunks."""
    sizes = {feature: int(frame[feature].max()) + 1 for feature in layout.categorical.values()}
    for other in files:
        columns = pd.read_csv(other, nrows=0).columns
        _check_header(layout, other, columns)
        for chunk in pd.read_csv(other, usecols=list(layout.categorical), chunksize=_SCAN_CHUNK_ROWS):
            for column, feature in layout.categorical.items():
                top = chunk[column].max()
                if pd.notna(top):
                    sizes[feature] = max(sizes[feature], int(top) + 1)
    return sizes


def _numeric_feature(name: str, values: np.ndarray) -> NumericFeature:
    mean, std = float(np.mean(values, dtype=np.float64)), float(np.std(values, dtype=np.float64))
    # A constant column (std 0, or float rounding noise such as 1e-16) standardises to ~0 with std=1
    # instead of amplifying rounding noise; NumericFeature also requires std > 0.
    if not std > 1e-6 * max(1.0, abs(mean)):
        std = 1.0
    return NumericFeature(name, mean=mean, std=std)


def write_for_training(frame: pd.DataFrame, spec: FeatureSpec, out_dir, name: str,
                       eval_frame: Optional[pd.DataFrame] = None, **config: Any) -> Dict[str, pathlib.Path]:
    """Writes what `mtl-ads train` reads and returns the paths by role:

    - `data`: `{out_dir}/{name}.parquet` (the frame), `eval`: `{name}_eval.parquet` (when given);
    - `features`: `{name}_features.json` (`spec.to_json()`);
    - `config`: `{name}_config.json`, a `ModelConfig(features=spec, **config)` (defaults: MMoE + ESMM).

    Both frames are validated against the spec first, so a bad id fails here, not in training.
    Then: `mtl-ads train --config {name}_config.json --data {name}.parquet --eval-data {name}_eval.parquet --out DIR`.
    """
    from mtl_keras.config import ModelConfig
    from mtl_keras.data import validate_frame

    if "features" in config:
        raise ValueError("write_for_training: pass the FeatureSpec as `spec`, not as features=... in the config.")
    model_config = ModelConfig(features=spec, **config)
    frames = {"data": frame} if eval_frame is None else {"data": frame, "eval": eval_frame}
    for part in frames.values():
        validate_frame(part, spec)
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"data": out / f"{name}.parquet", "features": out / f"{name}_features.json",
             "config": out / f"{name}_config.json"}
    if eval_frame is not None:
        paths["eval"] = out / f"{name}_eval.parquet"
    for role, part in frames.items():
        part.to_parquet(paths[role], index=False)
    paths["features"].write_text(spec.to_json() + "\n", encoding="utf-8")
    paths["config"].write_text(model_config.to_json() + "\n", encoding="utf-8")
    return paths
