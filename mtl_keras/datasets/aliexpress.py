"""Reader of the AliExpress multi-task dataset (Tianchi 74690) in the MTReclib / torch-rechub CSV layout."""
from __future__ import annotations

from typing import Tuple

import pandas as pd

from mtl_keras.datasets.common import RAISE, Layout, read_split
from mtl_keras.features import FeatureSpec

NUM_CATEGORICAL, NUM_NUMERICAL = 16, 63
# The query/session id: kept in the frame (to group rows by search) but not a feature, as in MTReclib.
SEARCH_ID = "search_id"

LAYOUT = Layout(
    dataset="AliExpress",
    # aliexpress_train.csv / aliexpress_train_sample.csv (torch-rechub) or train.csv (MTReclib's AliExpress_XX/).
    split_files={s: (f"aliexpress_{s}.csv", f"aliexpress_{s}_*.csv", f"{s}.csv") for s in ("train", "test")},
    categorical={f"categorical_{i}": f"categorical_{i}" for i in range(1, NUM_CATEGORICAL + 1)},
    numeric={f"numerical_{i}": f"numerical_{i}" for i in range(1, NUM_NUMERICAL + 1)},
    click="click",
    conversion="conversion",
    passthrough=(SEARCH_ID,),
)


def read_aliexpress(path_or_dir, split: str = "train", embedding_dim: int = 8,
                    on_conversion_without_click: str = RAISE) -> Tuple[pd.DataFrame, FeatureSpec]:
    """One AliExpress split (one country, e.g. AliExpress_US) as (frame, FeatureSpec).

    `path_or_dir`: a directory holding `aliexpress_{train,test}.csv` (or the `_sample` files, or
    MTReclib's `train.csv`/`test.csv`), read at `split`, or one such CSV file (`split` then unused).

    The frame has `categorical_1..16` as int64 ids, `numerical_1..63` as float32 (already scaled by
    the providers), `click` and `conversion` as int8 and `search_id` (not a feature) when the file
    has it; every row is an impression (no `won` column).

    FeatureSpec: vocabulary_size = max id + 1 over this split and the other split file in the same
    directory (as MTReclib sizes its tables), numeric mean/std from this split.

    Rows with conversion=1 and click=0: a ValueError by default; `on_conversion_without_click="drop"`
    drops them with a warning giving the count.
    """
    return read_split(LAYOUT, path_or_dir, split, embedding_dim, on_conversion_without_click)
