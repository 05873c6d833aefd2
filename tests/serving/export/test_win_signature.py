"""The win_probability signature: a fitted Weibull AFT win model served beside the conversion model."""
import numpy as np
import pandas as pd
import pytest

from mtl_keras import names
from mtl_keras.propensity import WeibullAFTWinModel
from serving.export.exporter import export_serving_model
from serving.client.rest_client import RestClient
from serving.server.servable import Servable
from serving_fixtures import sample_rows
from serving import names as serving_names


def _auctions(n=3000, seed=4):
    """Auctions whose log market price depends on ad_id and price; lost ones censored at the bid."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(sample_rows(n, seed=seed))
    log_market = 0.5 + 0.3 * (frame["ad_id"] % 3) + 0.2 * frame["price"] + rng.gumbel(size=n) * 0.4
    market = np.exp(log_market)
    bid = np.exp(rng.normal(1.0, 0.7, n))
    frame[names.BID_PRICE] = bid
    frame[names.WON] = (market < bid).astype(np.int64)
    frame[names.MARKET_PRICE] = np.where(market < bid, market, np.nan)
    return frame


@pytest.fixture(scope="module")
def win_export(tmp_path_factory, model, spec):
    frame = _auctions()
    win = WeibullAFTWinModel(categorical=["ad_id"], numeric=["price"], min_count=5).fit(frame)
    base = tmp_path_factory.mktemp("win") / "ctr"
    path = export_serving_model(model, spec, str(base), version=1, win_model=win.to_tf_module(spec))
    return win, path


def test_win_probability_matches_the_survival_model(win_export):
    win, path = win_export
    rows = pd.DataFrame(sample_rows(5, seed=8))
    bids = np.tile(np.array([[0.5, 1.0, 2.0, 4.0, 8.0]], np.float32), (5, 1))
    want = win.predict_p_win(rows, bids=bids.astype(np.float64))
    servable = Servable("ctr", 1, path)  # the TF1 session loader, as TF Serving
    inputs = {k: rows[k].to_numpy() for k in ("user_id", "ad_id", "price")}
    got = servable.predict(serving_names.SIGNATURE_WIN_PROBABILITY, {**inputs, serving_names.SERVING_INPUT_BIDS: bids})
    assert got[names.P_WIN].shape == (5, 5)
    np.testing.assert_allclose(got[names.P_WIN], want, rtol=1e-5, atol=1e-6)
    # A win curve rises with the bid, row by row.
    assert np.all(np.diff(got[names.P_WIN], axis=1) >= 0)
    assert set(servable.signature_defs) == {
        serving_names.SERVING_DEFAULT, serving_names.SIGNATURE_PREDICT_RAW, serving_names.SIGNATURE_WIN_PROBABILITY,
    }
    servable.unload()


def test_win_curve_over_rest(win_export):
    import os

    from serving.server.local_server import LocalModelServer
    from serving.export.model_config import ModelEntry

    win, path = win_export
    rows = sample_rows(2, seed=9)
    bids = [[1.0, 3.0], [1.0, 3.0]]
    with LocalModelServer([ModelEntry("ctr", os.path.dirname(path))], 0, None) as server:
        client = RestClient("127.0.0.1", server.rest_port, "ctr")
        got = client.predict([{**r, serving_names.SERVING_INPUT_BIDS: b} for r, b in zip(rows, bids)],
                             serving_names.SIGNATURE_WIN_PROBABILITY, row_format=True)
        client.close()
    want = win.predict_p_win(pd.DataFrame(rows), bids=np.asarray(bids))
    np.testing.assert_allclose(got[names.P_WIN], want, rtol=1e-5, atol=1e-6)
