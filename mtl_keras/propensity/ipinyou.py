"""Reader of the iPinYou DLF `yzbx` format (Ren et al., KDD 2019; github.com/rk2900/DLF).

Each line is `y z b idx:1 idx:1 ...`: y the click, z the market price, b our (simulated) bid and
one one-hot feature index per field. Per the DLF README a request is won (uncensored) when z < b
and lost (censored at b) when z >= b. `featindex.txt` maps `field:value<TAB>index`, which gives
each index its field. The frame has one int64 column `field_<k>` per field holding the index,
`click`, `won`, `bid_price` and `market_price` (NaN where lost, as in a real log).
"""
from __future__ import annotations

import pathlib
from typing import Dict, Optional

import numpy as np
import pandas as pd

from mtl_keras import names

# Column prefix of the iPinYou DLF (yzbx) categorical fields.
FIELD_PREFIX = "field_"

TRAIN_FILE, TEST_FILE, FEATINDEX_FILE = "train.yzbx.txt", "test.yzbx.txt", "featindex.txt"


def is_ipinyou_dir(path) -> bool:
    path = pathlib.Path(path)
    return (path / TRAIN_FILE).is_file() and (path / TEST_FILE).is_file()


def read_field_index(path) -> Dict[int, int]:
    """feature index -> field number, from featindex.txt."""
    table = pd.read_csv(path, sep="\t", header=None, names=["key", "index"], dtype={"key": str, "index": np.int64},
                        quoting=3, keep_default_na=False)
    field = table["key"].str.split(":", n=1).str[0].astype(np.int64)
    return dict(zip(table["index"].to_numpy(), field.to_numpy()))


def read_yzbx(path, field_index: Optional[Dict[int, int]] = None) -> pd.DataFrame:
    """Reads one yzbx file; with `field_index` the feature columns are named by field, else by position."""
    lines = pathlib.Path(path).read_text().split("\n")
    rows = [line.split() for line in lines if line.strip()]
    if not rows:
        raise ValueError(f"{str(path)!r} has no rows.")
    widths = {len(r) for r in rows}
    if len(widths) != 1 or min(widths) < 3:
        raise ValueError(f"{str(path)!r}: every line must be 'y z b idx:1 ...' with the same number of fields; "
                         f"found line widths {sorted(widths)[:5]}.")
    cells = np.array(rows, dtype=object)
    y, z, b = (cells[:, i].astype(np.float64) for i in range(3))
    indices = np.vectorize(lambda s: int(s.split(":", 1)[0]), otypes=[np.int64])(cells[:, 3:])
    if field_index is not None:
        fields = np.vectorize(lambda i: field_index.get(int(i), -1), otypes=[np.int64])(indices[0])
        if (fields < 0).any() or len(set(fields.tolist())) != len(fields):
            raise ValueError(f"{str(path)!r}: feature indices do not map to distinct fields in featindex.")
        columns = [f"{FIELD_PREFIX}{f}" for f in fields]
    else:
        columns = [f"{FIELD_PREFIX}{k}" for k in range(indices.shape[1])]
    frame = pd.DataFrame(indices, columns=columns)
    if (z <= 0).any() or (b <= 0).any():
        raise ValueError(f"{str(path)!r}: market prices and bids must be > 0.")
    won = z < b
    frame[names.CLICK] = y.astype(np.int64)
    frame[names.BID_PRICE] = b
    frame[names.WON] = won.astype(np.int64)
    frame[names.MARKET_PRICE] = np.where(won, z, np.nan)
    return frame


def read_ipinyou(data_dir) -> Dict[str, pd.DataFrame]:
    """{'train': frame, 'test': frame} from a DLF campaign directory (e.g. ipinyou_2259_dlf)."""
    data = pathlib.Path(data_dir)
    if not is_ipinyou_dir(data):
        raise ValueError(f"{str(data)!r} lacks {TRAIN_FILE} / {TEST_FILE}; give a DLF campaign directory.")
    field_index = read_field_index(data / FEATINDEX_FILE) if (data / FEATINDEX_FILE).is_file() else None
    return {"train": read_yzbx(data / TRAIN_FILE, field_index), "test": read_yzbx(data / TEST_FILE, field_index)}
