import json

import numpy as np
import pandas as pd
import pytest

from mtl_keras import data, names, training
from mtl_keras.config import ModelConfig
from mtl_keras.datasets import read_ali_ccp, write_for_training
from mtl_keras.datasets.ali_ccp import DENSE_FIELDS, FIELD_PREFIX, SPARSE_FIELDS
from mtl_keras.features import FeatureSpec
from csv_edits import write_with_changes

SAMPLE = "ali_ccp_torch_rechub_sample"
ROWS = {"train": 100, "val": 50, "test": 50}  # SOURCE.md


def check_roles(frame, spec):
    """The column roles every reader promises: spec features, then int8 labels, ids in range, finite floats."""
    assert list(frame.columns[:len(spec.names)]) == spec.names
    for label in names.LABEL_COLUMNS:
        assert frame[label].dtype == np.int8 and set(frame[label].unique()) <= {0, 1}
    assert not ((frame[names.CONVERSION] == 1) & (frame[names.CLICK] == 0)).any()
    for feature in spec.categorical:
        ids = frame[feature.name]
        assert ids.dtype == np.int64 and ids.min() >= 0 and ids.max() < feature.vocabulary_size
    for feature in spec.numeric:
        assert frame[feature.name].dtype == np.float32 and np.isfinite(frame[feature.name]).all()
        assert feature.std > 0 and np.isfinite(feature.mean)
    assert names.WON not in frame.columns and len(data.impressions(frame)) == len(frame)
    data.validate_frame(frame, spec)


def test_each_split_of_the_sample_loads_with_the_right_column_roles(shared_data):
    directory = shared_data / SAMPLE
    for split, rows in ROWS.items():
        frame, spec = read_ali_ccp(directory, split=split)
        raw = pd.read_csv(directory / f"ali_ccp_{split}_sample.csv")
        assert len(frame) == len(raw) == rows
        check_roles(frame, spec)
        assert spec.names == [FIELD_PREFIX + f for f in SPARSE_FIELDS] + list(DENSE_FIELDS)
        assert list(frame.columns) == spec.names + [names.CLICK, names.CONVERSION]
        # Same values as the file: nothing renamed to the wrong column, nothing dropped.
        np.testing.assert_array_equal(frame[names.CLICK], raw["click"])
        np.testing.assert_array_equal(frame[names.CONVERSION], raw["purchase"])
        np.testing.assert_array_equal(frame["field_205"], raw["205"])
        np.testing.assert_allclose(frame["D508"], raw["D508"], rtol=1e-6)
    train, _ = read_ali_ccp(directory, split="train")
    assert train[names.CLICK].mean() == pytest.approx(0.07) and train[names.CONVERSION].sum() == 1


def test_one_spec_fits_the_ids_of_every_split(shared_data):
    directory = shared_data / SAMPLE
    every = pd.concat([pd.read_csv(p) for p in sorted(directory.glob("*.csv"))])
    specs = [read_ali_ccp(directory, split=s)[1] for s in ROWS]
    single_file = read_ali_ccp(directory / "ali_ccp_test_sample.csv")[1]
    for spec in specs + [single_file]:
        sizes = {f.name: f.vocabulary_size for f in spec.categorical}
        assert sizes == {FIELD_PREFIX + f: int(every[f].max()) + 1 for f in SPARSE_FIELDS}
    assert sizes["field_205"] == 120  # val ids reach 119, train ids only 64
    # A constant dense column (D110_14 on the sample) keeps std=1 instead of 0 or rounding noise.
    assert {f.name: f.std for f in specs[0].numeric}["D110_14"] == 1.0


def test_write_for_training_then_one_epoch_of_mmoe_esmm(shared_data, tmp_path):
    train_frame, spec = read_ali_ccp(shared_data / SAMPLE, split="train")
    test_frame, _ = read_ali_ccp(shared_data / SAMPLE, split="test")
    paths = write_for_training(train_frame, spec, tmp_path, "ali_ccp", eval_frame=test_frame,
                               backbone={"name": "mmoe", "num_experts": 2, "expert_units": [8]}, objective="esmm",
                               tower_units=[4], batch_size=32, epochs=1)
    assert sorted(paths) == ["config", "data", "eval", "features"]
    assert FeatureSpec.from_json(paths["features"].read_text()) == spec
    config = ModelConfig.from_dict(json.loads(paths["config"].read_text()))  # what `mtl-ads train` parses
    assert config.features == spec and config.backbone.name == "mmoe" and config.objective.name == "esmm"
    written = data.read_table(str(paths["data"]))
    pd.testing.assert_frame_equal(written, train_frame)
    model, history = training.train(config, written, data.read_table(str(paths["eval"])), verbose=0)
    assert np.isfinite(history.history["loss"]).all() and len(history.history["loss"]) == 1
    report = training.evaluate(model, test_frame)
    assert report[names.CTR]["count"] == ROWS["test"] and 0 <= report[names.CTR]["auc"] <= 1


def write_tiny(path, rows=4, **changes):
    """A small CSV in the Ali-CCP layout; `changes` replace columns (None drops one)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f: rng.integers(0, 3, rows) for f in SPARSE_FIELDS})
    for f in DENSE_FIELDS:
        frame[f] = rng.random(rows)
    frame["click"] = [1, 0] * (rows // 2)
    frame["purchase"] = [1, 0] * (rows // 2)
    return write_with_changes(frame, path, changes)


def test_wrong_paths_name_the_path_and_the_fix(tmp_path):
    with pytest.raises(ValueError, match="does not exist.*directory holding the split files"):
        read_ali_ccp(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="has no train file.*ali_ccp_train.csv"):
        read_ali_ccp(tmp_path)
    write_tiny(tmp_path / "ali_ccp_train.csv")
    with pytest.raises(ValueError, match="split='dev' is not one of"):
        read_ali_ccp(tmp_path, split="dev")
    write_tiny(tmp_path / "ali_ccp_train_sample.csv")
    with pytest.raises(ValueError, match="2 train files.*pass the CSV file"):
        read_ali_ccp(tmp_path)
    assert len(read_ali_ccp(tmp_path / "ali_ccp_train.csv")[0]) == 4
    (tmp_path / "ali_ccp_train.parquet").write_bytes(b"")
    with pytest.raises(ValueError, match="not a .csv file"):
        read_ali_ccp(tmp_path / "ali_ccp_train.parquet")


def test_bad_columns_name_the_file_and_the_column(tmp_path):
    path = write_tiny(tmp_path / "a.csv", purchase=None)
    with pytest.raises(ValueError, match=r"a.csv' lacks column\(s\) \['purchase'\].*torch-rechub layout"):
        read_ali_ccp(path)
    with pytest.raises(ValueError, match="label column 'click' must hold only 0 and 1"):
        read_ali_ccp(write_tiny(tmp_path / "b.csv", click=[2, 0, 1, 0]))
    with pytest.raises(ValueError, match="'205' has 1 missing values"):
        read_ali_ccp(write_tiny(tmp_path / "c.csv", **{"205": [1, np.nan, 2, 3]}))
    with pytest.raises(ValueError, match="'206' must hold whole ids >= 0"):
        read_ali_ccp(write_tiny(tmp_path / "d.csv", **{"206": [1, -1, 2, 3]}))
    with pytest.raises(ValueError, match="'207' has dtype object"):
        read_ali_ccp(write_tiny(tmp_path / "e.csv", **{"207": ["a", "b", "c", "d"]}))
    with pytest.raises(ValueError, match="numeric column 'D508' has 1 NaN"):
        read_ali_ccp(write_tiny(tmp_path / "f.csv", D508=[0.1, np.nan, 0.2, 0.3]))
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="not a CSV with a header row"):
        read_ali_ccp(tmp_path / "empty.csv")


def test_purchase_without_click_raises_or_is_dropped_with_a_warning(tmp_path):
    path = write_tiny(tmp_path / "ali_ccp_train.csv", click=[1, 0, 0, 0], purchase=[1, 1, 0, 0])
    with pytest.raises(ValueError, match="1 of 4 rows have purchase=1 but click=0.*on_conversion_without_click"):
        read_ali_ccp(path)
    with pytest.warns(UserWarning, match="1 of 4 rows.*dropped them"):
        frame, spec = read_ali_ccp(path, on_conversion_without_click="drop")
    assert len(frame) == 3 and list(frame.index) == [0, 1, 2]
    with pytest.raises(ValueError, match="must be 'raise' or 'drop'"):
        read_ali_ccp(path, on_conversion_without_click="keep")
