"""Train/test auction logs for the propensity CLI and notebook: a simulated dataset or iPinYou DLF."""
from __future__ import annotations

import pathlib
from typing import Optional, Tuple

import pandas as pd

from mtl_keras.propensity.data import infer_feature_columns
from mtl_keras.propensity.ipinyou import is_ipinyou_dir, read_ipinyou
from mtl_keras.simulation import config as sim_config

SIMULATED, IPINYOU = "simulated", "ipinyou"


def load_auction_log(data_dir, test_fraction: float = 0.25,
                     max_rows: Optional[int] = None) -> Tuple[pd.DataFrame, pd.DataFrame, str]:
    """(train, test, source). iPinYou: its train/test files. Simulated (a `write_dataset`
    directory): the last `test_fraction` of the first `max_rows` rows is the test set
    (rows are i.i.d., so a tail split is a random split)."""
    data = pathlib.Path(data_dir)
    if is_ipinyou_dir(data):
        parts = read_ipinyou(data)
        return parts["train"], parts["test"], IPINYOU
    if not (data / sim_config.SUMMARY_FILE).is_file():
        raise ValueError(f"{str(data)!r} is neither a simulated dataset (no {sim_config.SUMMARY_FILE}) nor an iPinYou "
                         "DLF directory (no train.yzbx.txt); run 'mtl-ads simulate --out DIR' first.")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}.")
    from mtl_keras.simulation import read_dataset

    frame = read_dataset(data, max_rows=max_rows)
    cut = int(round(len(frame) * (1 - test_fraction)))
    if cut < 1 or cut >= len(frame):
        raise ValueError(f"{len(frame)} rows cannot be split with test_fraction={test_fraction}; use more rows.")
    return frame.iloc[:cut].reset_index(drop=True), frame.iloc[cut:].reset_index(drop=True), SIMULATED


def default_segment(frame: pd.DataFrame, max_levels: int = 50) -> str:
    """The categorical feature with the most distinct values among those with at most `max_levels`
    (hour on simulated data): fine segments that still hold enough auctions each."""
    categorical, _ = infer_feature_columns(frame)
    counts = {c: frame[c].nunique() for c in categorical}
    usable = {c: n for c, n in counts.items() if 2 <= n <= max_levels}
    if not usable:
        raise ValueError(f"No categorical column has 2..{max_levels} levels to segment by; pass segment=<column>.")
    return max(usable, key=lambda c: (usable[c], c))
