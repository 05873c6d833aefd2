import numpy as np
import pandas as pd
import pytest

from mtl_keras import names
from mtl_keras.simulation import SimulationConfig, simulate_frame


@pytest.fixture(scope="session")
def simulated():
    """(train, test) simulated frames."""
    frame = simulate_frame(SimulationConfig(num_requests=24_000, seed=21))
    return frame.iloc[:16_000].reset_index(drop=True), frame.iloc[16_000:].reset_index(drop=True)


@pytest.fixture
def hand_frame():
    """Six auctions: won at market prices 2, 4, 4, 8; lost with bids 3 and 6."""
    return pd.DataFrame({
        names.BID_PRICE: [3.0, 5.0, 3.0, 6.0, 7.0, 9.0],
        names.WON: [1, 1, 0, 0, 1, 1],
        names.MARKET_PRICE: [2.0, 4.0, np.nan, np.nan, 4.0, 8.0],
        "device": np.array([0, 0, 1, 1, 1, 0], np.int64),
    })


@pytest.fixture
def ipinyou_dir(shared_data):
    """The iPinYou 2259 DLF sample (SOURCE.md there); tests skip when it is absent."""
    path = shared_data / "ipinyou_2259_dlf"
    if not (path / "train.yzbx.txt").is_file() or not (path / "test.yzbx.txt").is_file():
        pytest.skip(f"iPinYou DLF sample not present at {path}")
    return path
