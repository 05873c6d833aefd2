"""The Trainer's input (tfx_pipeline.trainer_input) on the tiny run's Transform output: every won row
once per pass, as the former per-row path and an independent decode of the records give them; the
batch count without a counting pass over all features; the speed options of the ModelConfig."""
import dataclasses
import functools
import glob
import os

import mtl_keras  # noqa: F401
import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from mtl_keras import names
from mtl_keras.config import ModelConfig
from mtl_keras.simulation import feature_spec
from transform.config import TransformConfig
from transform.feature_spec import transformed_feature_spec
from tfx_pipeline import trainer_input, training_strategies
from tfx_pipeline.presets import tiny_model_config, tiny_simulation
from tfx_pipeline.trainer import train_and_export, trainer_custom_config

from benchmarks.pipeline_speed import legacy_dataset


@pytest.fixture(scope="module")
def tiny(tiny_runs):
    """(train files, transform graph dir, TFTransformOutput, raw ModelConfig, transformed ModelConfig)."""
    import tensorflow_transform as tft

    workdir, _ = tiny_runs
    root = os.path.join(workdir.pipeline_root, "Transform")
    graph = sorted(glob.glob(os.path.join(root, "transform_graph", "*")), key=lambda p: int(os.path.basename(p)))[-1]
    files = sorted(glob.glob(os.path.join(root, "transformed_examples", os.path.basename(graph), "Split-train_won", "*")))
    tft_output = tft.TFTransformOutput(graph)
    raw = tiny_model_config(feature_spec(tiny_simulation(), embedding_dim=4))
    spec = transformed_feature_spec(raw.features, TransformConfig(), tft_output)
    return files, graph, tft_output, raw, ModelConfig.from_dict({**raw.to_dict(), "features": spec.to_dict()})


def _columns(config):
    return config.features.names + [names.CLICK, names.CONVERSION, names.WON, config.p_win_column]


def _decoded_rows(files, columns):
    """Every record decoded from its tf.Example proto: a tuple of `columns`, None for a lost request."""
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP").as_numpy_iterator():
        feature = tf.train.Example.FromString(record).features.feature
        if feature[names.WON].int64_list.value[0] != 1:
            yield None
            continue
        values = [feature[c].int64_list.value or feature[c].float_list.value for c in columns]
        yield tuple(float(np.float32(v[0])) if isinstance(v[0], float) else int(v[0]) for v in values)


def _decoded_won_rows(files, columns):
    """The won rows as sorted tuples, decoded record by record (independently of tf.io.parse_example)."""
    return sorted(row for row in _decoded_rows(files, columns) if row is not None)


def _blocks(files, columns, size):
    """{won row: (file, block of `size` records)} in the order each file is read."""
    blocks = {}
    for index, path in enumerate(files):
        for position, row in enumerate(_decoded_rows([path], columns)):
            if row is not None:
                blocks[row] = (index, position // size)
    return blocks


def _pass(dataset, columns):
    """(rows in the order read, batch sizes) of one pass."""
    rows, sizes = [], []
    for batch in dataset:
        arrays = [batch[c].numpy() for c in columns]
        sizes.append(len(arrays[0]))
        rows.extend(tuple(a[i].item() for a in arrays) for i in range(sizes[-1]))
    return rows, sizes


def _lost_copy(record: bytes) -> bytes:
    """The record as a lost request (won=0, no click or conversion): rows the input must drop."""
    example = tf.train.Example.FromString(record)
    for column in (names.WON, names.CLICK, names.CONVERSION):
        feature = example.features.feature[column]
        if feature.int64_list.value:
            feature.int64_list.value[:] = [0]
        else:
            feature.float_list.value[:] = [0.0]
    return example.SerializeToString()


@pytest.fixture(scope="module")
def shards(tiny, tmp_path_factory):
    """The tiny train records split over 3 GZIP shards (interleaving and file order take effect),
    each won record followed by a lost copy of itself: the Transform output holds won rows only
    (WinPropensity's train_won split), the input still drops lost ones wherever they come from."""
    files = tiny[0]
    records = []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP").as_numpy_iterator():
        records += [record, _lost_copy(record)]
    out = tmp_path_factory.mktemp("shards")
    paths = [str(out / f"part-{i}-of-3.gz") for i in range(3)]
    for i, path in enumerate(paths):
        with tf.io.TFRecordWriter(path, tf.io.TFRecordOptions(compression_type="GZIP")) as writer:
            for record in records[i::3]:
                writer.write(record)
    return paths


@pytest.mark.parametrize("sharded", [False, True])
def test_each_won_row_once_per_pass_as_the_old_path_gives_them(tiny, shards, sharded):
    files, _, tft_output, _, config = tiny
    files = shards if sharded else files
    columns = _columns(config)
    expected = _decoded_won_rows(files, columns)
    assert len(expected) > 1000
    old, _ = _pass(legacy_dataset(files, tft_output, config, shuffle=True, batch_size=64), columns)
    assert sorted(old) == expected
    # Small blocks and batches: 12 parsed blocks shuffled, windows of 16 batches of 32 permuted.
    dataset = trainer_input.make_dataset(files, tft_output, config, shuffle=True, batch_size=32, parse_block=500)
    orders = []
    for _ in range(2):  # two epochs: every won row once in each, in a new order
        rows, sizes = _pass(dataset, columns)
        assert sorted(rows) == expected
        assert all(size == 32 for size in sizes[:-1]) and 0 < sizes[-1] <= 32
        orders.append(rows)
    unshuffled, _ = _pass(trainer_input.make_dataset(files, tft_output, config, shuffle=False, batch_size=32,
                                                     parse_block=500), columns)
    assert sorted(unshuffled) == expected
    assert orders[0] != orders[1] and orders[0] != unshuffled
    # The shuffle reaches across blocks: the first batch holds rows of more than one block of 500 records.
    block = _blocks(files, columns, 500)
    assert len({block[row] for row in orders[0][:32]}) > 1
    # The seed fixes the order: a dataset built again reads the same first pass.
    again, _ = _pass(trainer_input.make_dataset(files, tft_output, config, shuffle=True, batch_size=32,
                                                parse_block=500), columns)
    assert again == orders[0]


@pytest.mark.parametrize("batch_size", [32, 100, 1000, 8192])
def test_step_count_equals_the_true_number_of_batches(tiny, batch_size):
    files, _, tft_output, _, config = tiny
    won_rows = trainer_input.count_won_rows(files, tft_output)
    assert won_rows == len(_decoded_won_rows(files, [names.WON]))
    make = functools.partial(trainer_input.make_dataset, files, tft_output, config, batch_size=batch_size,
                             won_rows=won_rows)
    true_batches = sum(1 for _ in make(shuffle=True))
    assert trainer_input.batches_for(won_rows, batch_size) == true_batches
    assert int(make(shuffle=True).cardinality()) == true_batches
    assert training_strategies.count_batches(make) == true_batches  # read from the cardinality


def test_a_wrong_row_count_fails_at_the_end_of_the_pass(tiny):
    files, _, tft_output, _, config = tiny
    won_rows = trainer_input.count_won_rows(files, tft_output)
    dataset = trainer_input.make_dataset(files, tft_output, config, shuffle=False, batch_size=32,
                                         won_rows=won_rows + 64)
    with pytest.raises(tf.errors.FailedPreconditionError, match="expected to contain"):
        sum(1 for _ in dataset)


def test_missing_files_name_the_field():
    with pytest.raises(ValueError, match="train_files"):
        trainer_input.match_files(["/nonexistent/Split-train/*"])


def test_the_trainer_honours_steps_per_execution_and_precision(tiny, tmp_path):
    files, graph, tft_output, raw, _ = tiny
    # 2 epochs of ceil(won / 128) batches, 4 steps per execution: the last execution of an epoch is short.
    config = dataclasses.replace(raw, steps_per_execution=4, precision="mixed_bfloat16", epochs=2)

    class Seen(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.steps_per_execution = int(self.model._steps_per_execution.numpy())
            self.compute_dtype = self.model.backbone.compute_dtype

        def on_train_end(self, logs=None):
            self.steps = int(self.model.optimizer.iterations.numpy())

    seen = Seen()
    logs = train_and_export(files, graph, str(tmp_path / "model"), trainer_custom_config(config, TransformConfig()),
                            callbacks=[seen])
    assert seen.steps_per_execution == 4 and seen.compute_dtype == "bfloat16"
    batches = trainer_input.batches_for(trainer_input.count_won_rows(files, tft_output), config.batch_size)
    assert batches % 4 != 0 and seen.steps == 2 * batches  # every batch of both epochs, none dropped
    assert np.isfinite(logs["loss"])
    assert (tmp_path / "model" / "saved_model.pb").exists()


def test_upstream_counts_replace_the_counting_pass(tiny, tmp_path, monkeypatch):
    """With WinPropensity's won-row count (fn_args.hyperparameters) the Trainer reads no file to count
    batches, even where Keras needs the length (steps_per_execution > 1): the count fixes it."""
    from tfx_pipeline import trainer

    files, graph, tft_output, raw, _ = tiny
    won_rows = trainer_input.count_won_rows(files, tft_output)
    hyperparameters = {"win_model": None, "example_counts": {"train": {"requests": 2 * won_rows, "won": won_rows}}}
    assert trainer.upstream_won_rows(hyperparameters) == won_rows
    assert trainer.upstream_won_rows({"win_model": None}) is None  # an older WinPropensity output: counted

    def no_counting(*args, **kwargs):
        raise AssertionError("the Trainer counted its input although the count was given")

    monkeypatch.setattr(trainer_input, "count_won_rows", no_counting)
    config = dataclasses.replace(raw, steps_per_execution=4, epochs=1)
    steps = []

    class Steps(keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            steps.append(int(self.model.optimizer.iterations.numpy()))

    train_and_export(files, graph, str(tmp_path / "model"), trainer_custom_config(config, TransformConfig()),
                     callbacks=[Steps()], won_rows=won_rows)
    assert steps == [trainer_input.batches_for(won_rows, config.batch_size)]
    with pytest.raises(ValueError, match="positive int"):
        trainer._won_rows_if_needed(files, tft_output, config, None, None, known=0)


@pytest.mark.parametrize("cache_bytes", [trainer_input.CACHE_BYTES, 0])
def test_rows_that_fit_are_parsed_once_and_reshuffled_from_memory(tiny, shards, tmp_path, cache_bytes):
    """Later passes over a cached dataset read no file (they still run after the files are gone)
    and hold every won row once, in a new order; without room for the rows every pass reads the files."""
    import shutil

    _, _, tft_output, _, config = tiny
    files = [str(shutil.copy(path, tmp_path / os.path.basename(path))) for path in shards]
    columns = _columns(config)
    expected = _decoded_won_rows(files, columns)
    dataset = trainer_input.make_dataset(files, tft_output, config, shuffle=True, batch_size=32, parse_block=500,
                                         won_rows=len(expected), cache_bytes=cache_bytes)
    first, _ = _pass(dataset, columns)
    for path in files:
        os.remove(path)
    if cache_bytes == 0:
        with pytest.raises(tf.errors.NotFoundError):
            _pass(dataset, columns)
        return
    second, _ = _pass(dataset, columns)
    assert sorted(first) == sorted(second) == expected
    assert first != second
