"""Reader of Ali-CCP (Ma et al., SIGIR 2018) in the torch-rechub / AITM processed CSV layout."""
from __future__ import annotations

from typing import Tuple

import pandas as pd

from mtl_keras.datasets.common import RAISE, Layout, read_split
from mtl_keras.features import FeatureSpec

# Sparse fields of the original dataset (101 user id, 205 item id, 206 category, 207 shop, 216 brand,
# 301 scenario, ...), label-encoded to small ints by the AITM preprocessing.
SPARSE_FIELDS = ("101", "121", "122", "124", "125", "126", "127", "128", "129", "205", "206", "207", "210", "216",
                 "508", "509", "702", "853", "301", "109_14", "110_14", "127_14", "150_14")
# Dense features derived from the weighted multi-value fields (already scaled to [0, 1]).
DENSE_FIELDS = ("D109_14", "D110_14", "D127_14", "D150_14", "D508", "D509", "D702", "D853")
# Sparse fields become `field_<id>`: a name starting with a digit is not a valid tf.function
# argument, and the SavedModel signature would rename it to `arg_<id>`.
FIELD_PREFIX = "field_"

LAYOUT = Layout(
    dataset="Ali-CCP",
    # ali_ccp_train.csv (full download) or ali_ccp_train_sample.csv (the torch-rechub sample).
    split_files={s: (f"ali_ccp_{s}.csv", f"ali_ccp_{s}_*.csv") for s in ("train", "val", "test")},
    categorical={f: FIELD_PREFIX + f for f in SPARSE_FIELDS},
    numeric={f: f for f in DENSE_FIELDS},
    click="click",
    conversion="purchase",
)


def read_ali_ccp(path_or_dir, split: str = "train", embedding_dim: int = 8,
                 on_conversion_without_click: str = RAISE) -> Tuple[pd.DataFrame, FeatureSpec]:
    """One Ali-CCP split as (frame, FeatureSpec), ready for `mtl_keras.training.train`.

    `path_or_dir`: a directory holding `ali_ccp_{train,val,test}.csv` (or the `_sample` files), read
    at `split`, or one such CSV file (then `split` is not used).

    The frame has one int64 column `field_<id>` per sparse field, the 8 dense `D*` columns as
    float32, and `click` and `conversion` (from `purchase`) as int8; every row is an impression, so
    there is no `won` column (`data.impressions` then keeps all rows).

    FeatureSpec: vocabulary_size = max id + 1 over this split and every other split file in the
    same directory (ids of val/test exceed those of train), so the spec of any split accepts the
    ids of all; numeric mean/std from this split (build the ModelConfig from the train split).

    Rows with purchase=1 and click=0 break the funnel ESMM relies on: by default a ValueError,
    with `on_conversion_without_click="drop"` they are dropped with a warning giving the count.
    """
    return read_split(LAYOUT, path_or_dir, split, embedding_dim, on_conversion_without_click)
