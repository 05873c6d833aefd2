import numpy as np
import pandas as pd
import pytest

from mtl_keras import data, names, training
from mtl_keras.config import ModelConfig
from mtl_keras.datasets import read_aliexpress, write_for_training
from mtl_keras.datasets.aliexpress import NUM_CATEGORICAL, NUM_NUMERICAL, SEARCH_ID
from csv_edits import write_with_changes

SAMPLE = "aliexpress_torch_rechub_sample"
ROWS = {"train": 100, "test": 20}  # SOURCE.md
CATEGORICAL = [f"categorical_{i}" for i in range(1, NUM_CATEGORICAL + 1)]
NUMERICAL = [f"numerical_{i}" for i in range(1, NUM_NUMERICAL + 1)]


def test_both_splits_of_the_sample_load_with_the_right_column_roles(shared_data):
    directory = shared_data / SAMPLE
    every = pd.concat([pd.read_csv(p) for p in sorted(directory.glob("*.csv"))])
    for split, rows in ROWS.items():
        frame, spec = read_aliexpress(directory, split=split)
        raw = pd.read_csv(directory / f"aliexpress_{split}_sample.csv")
        assert len(frame) == len(raw) == rows
        assert spec.names == CATEGORICAL + NUMERICAL
        assert list(frame.columns) == spec.names + [names.CLICK, names.CONVERSION, SEARCH_ID]
        for label in names.LABEL_COLUMNS:
            assert frame[label].dtype == np.int8 and set(frame[label].unique()) <= {0, 1}
            np.testing.assert_array_equal(frame[label], raw[label])
        for feature in spec.categorical:
            ids = frame[feature.name]
            assert ids.dtype == np.int64 and ids.min() >= 0 and ids.max() < feature.vocabulary_size
            assert feature.vocabulary_size == int(every[feature.name].max()) + 1  # both splits fit one spec
            np.testing.assert_array_equal(ids, raw[feature.name])
        for feature in spec.numeric:
            values = frame[feature.name]
            assert values.dtype == np.float32 and np.isfinite(values).all() and feature.std > 0
            np.testing.assert_allclose(values, raw[feature.name], rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(frame[SEARCH_ID], raw[SEARCH_ID])  # kept, but not a feature
        assert names.WON not in frame.columns
        data.validate_frame(frame, spec)
    train, _ = read_aliexpress(directory)
    assert train[names.CLICK].mean() == pytest.approx(0.60) and train[names.CONVERSION].sum() == 2


def test_write_for_training_then_one_epoch_of_esmm(shared_data, tmp_path):
    train_frame, spec = read_aliexpress(shared_data / SAMPLE, split="train")
    test_frame, _ = read_aliexpress(shared_data / SAMPLE, split="test")
    paths = write_for_training(train_frame, spec, tmp_path, "aliexpress", eval_frame=test_frame,
                               backbone={"name": "mmoe", "num_experts": 2, "expert_units": [8]}, objective="esmm",
                               tower_units=[4], batch_size=32)
    config = ModelConfig.from_json(paths["config"].read_text())
    model, history = training.train(config, data.read_table(str(paths["data"])), verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    report = training.evaluate(model, data.read_table(str(paths["eval"])))
    assert report[names.CTR]["count"] == ROWS["test"] and report[names.CVR]["count"] == 10


def write_tiny(path, **changes):
    frame = pd.DataFrame({SEARCH_ID: [7, 7, 8, 8]})
    for column in CATEGORICAL:
        frame[column] = [0, 1, 2, 3]
    for column in NUMERICAL:
        frame[column] = [0.0, 0.5, 0.25, 1.0]
    frame["click"], frame["conversion"] = [1, 1, 0, 0], [1, 0, 0, 0]
    return write_with_changes(frame, path, changes)


def test_mtreclib_file_names_and_a_file_without_search_id(tmp_path):
    write_tiny(tmp_path / "train.csv", search_id=None)
    write_tiny(tmp_path / "test.csv", categorical_3=[0, 1, 2, 9])
    frame, spec = read_aliexpress(tmp_path, split="train")
    assert SEARCH_ID not in frame.columns and len(frame) == 4
    assert {f.name: f.vocabulary_size for f in spec.categorical}["categorical_3"] == 10  # test ids count too
    with pytest.raises(ValueError, match="split='val' is not one of"):
        read_aliexpress(tmp_path, split="val")


def test_an_ali_ccp_file_is_refused_by_name(shared_data):
    with pytest.raises(ValueError, match=r"AliExpress .*ali_ccp_train_sample.csv' lacks column.*'categorical_1'.*more"):
        read_aliexpress(shared_data / "ali_ccp_torch_rechub_sample" / "ali_ccp_train_sample.csv")


def test_bad_input_names_the_file_the_column_and_the_fix(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        read_aliexpress(tmp_path / "AliExpress_US")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['numerical_63'\]"):
        read_aliexpress(write_tiny(tmp_path / "a.csv", numerical_63=None))
    path = write_tiny(tmp_path / "b.csv", click=[0, 1, 0, 0])
    with pytest.raises(ValueError, match="1 of 4 rows have conversion=1 but click=0"):
        read_aliexpress(path)
    with pytest.warns(UserWarning, match="dropped them"):
        assert len(read_aliexpress(path, on_conversion_without_click="drop")[0]) == 3
    with pytest.raises(ValueError, match="numeric column 'numerical_5' has 1 NaN"):
        read_aliexpress(write_tiny(tmp_path / "c.csv", numerical_5=[0.0, np.inf, 1.0, 0.5]))
