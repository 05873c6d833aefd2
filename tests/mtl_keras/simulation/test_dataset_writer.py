import json

import numpy as np
import pandas as pd
import pytest

from mtl_keras import names
from mtl_keras.features import FeatureSpec
from mtl_keras.simulation import SimulationConfig, feature_spec, read_dataset, simulate_frame, write_dataset
from mtl_keras.simulation import config as sim_config


@pytest.mark.parametrize("format", ["parquet", "csv", "tfrecord"])
def test_write_and_read_back(tmp_path, format):
    config = SimulationConfig(num_requests=2_500, seed=5, chunk_size=1_000)
    summary = write_dataset(config, tmp_path, format=format)
    ext = {"parquet": "parquet", "csv": "csv", "tfrecord": "tfrecord"}[format]
    assert sorted(p.name for p in tmp_path.glob("requests-*")) == [f"requests-0000{i}.{ext}" for i in range(3)]
    assert FeatureSpec.from_json((tmp_path / sim_config.FEATURE_SPEC_FILE).read_text()) == feature_spec(config)
    assert json.loads((tmp_path / sim_config.SUMMARY_FILE).read_text())["num_requests"] == 2_500
    expected = simulate_frame(config).reset_index(drop=True)
    got = read_dataset(tmp_path)
    assert list(got.columns) == list(expected.columns)
    assert (got.dtypes == expected.dtypes).all()
    # csv keeps float64 text; tfrecord stores floats as float32.
    rtol = 1e-6 if format == "tfrecord" else 1e-12
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=rtol)
    assert got[names.MARKET_PRICE].isna().sum() == (expected[names.WON] == 0).sum()
    assert summary["counts"]["won"] == expected[names.WON].sum()
    assert summary["observed"]["ctr"] == pytest.approx(expected[names.CLICK].sum() / expected[names.WON].sum())


def test_tfrecord_lost_requests_have_no_market_price(tmp_path):
    import tensorflow as tf

    write_dataset(SimulationConfig(num_requests=200, seed=2), tmp_path, format="tfrecord")
    for record in tf.data.TFRecordDataset(str(tmp_path / "requests-00000.tfrecord")).as_numpy_iterator():
        feature = tf.train.Example.FromString(record).features.feature
        assert (names.MARKET_PRICE in feature) == (feature[names.WON].int64_list.value[0] == 1)
        assert feature[names.CLICK].HasField("int64_list")


def test_summary_shows_selection_bias(tmp_path):
    summary = write_dataset(SimulationConfig(num_requests=50_000, seed=4), tmp_path)
    assert summary["true"]["cvr_on_clicked"] > summary["true"]["cvr"]
    assert summary["observed"]["win_rate"] == pytest.approx(summary["true"]["win_rate"], abs=0.01)
    assert summary["requests_per_second"] > 0


def test_refuses_to_overwrite_and_rejects_unknown_format(tmp_path):
    config = SimulationConfig(num_requests=10)
    write_dataset(config, tmp_path)
    with pytest.raises(ValueError, match="overwrite"):
        write_dataset(config, tmp_path)
    write_dataset(config, tmp_path, overwrite=True)
    with pytest.raises(ValueError, match="format"):
        write_dataset(config, tmp_path / "x", format="json")
    with pytest.raises(ValueError, match="summary.json"):
        read_dataset(tmp_path / "missing")
    assert np.isfinite(read_dataset(tmp_path, max_rows=4)[names.BID_PRICE]).all()


def test_csv_header_is_unquoted_for_csv_example_gen(tmp_path):
    from mtl_keras.simulation import SimulationConfig, write_dataset

    write_dataset(SimulationConfig(num_requests=200, seed=3), tmp_path, format="csv")
    header = next(tmp_path.glob("requests-*.csv")).read_text().splitlines()[0]
    assert '"' not in header and header.split(",")[0] == "user_id"
