"""The Trainer's input pipeline and config checks, on the tiny run's Transform output."""
import glob
import os

import numpy as np
import pytest

from mtl_keras import names
from mtl_keras.config import ModelConfig
from mtl_keras.features import CategoricalFeature, FeatureSpec
from mtl_keras.simulation import feature_spec
from transform.config import TransformConfig
from tfx_pipeline.presets import tiny_model_config, tiny_simulation
from tfx_pipeline.trainer import make_dataset, parse_custom_config, train_and_export, trainer_custom_config


def _transform_paths(workdir):
    root = workdir.pipeline_root
    return (sorted(glob.glob(os.path.join(root, "Transform", "transformed_examples", "*", "Split-train_won", "*"))),
            sorted(glob.glob(os.path.join(root, "Transform", "transform_graph", "*")))[-1])


def test_dataset_holds_only_won_impressions_with_p_win(tiny_runs):
    import tensorflow_transform as tft
    from transform.feature_spec import transformed_feature_spec

    workdir, _ = tiny_runs
    files, graph = _transform_paths(workdir)
    tft_output = tft.TFTransformOutput(graph)
    raw = tiny_model_config(feature_spec(tiny_simulation(), embedding_dim=4))
    spec = transformed_feature_spec(raw.features, TransformConfig(), tft_output)
    config = ModelConfig.from_dict({**raw.to_dict(), "features": spec.to_dict()})
    batches = list(make_dataset(files, tft_output, config, shuffle=False, batch_size=256))
    won = np.concatenate([b[names.WON].numpy() for b in batches])
    p_win = np.concatenate([b[names.P_WIN].numpy() for b in batches])
    assert len(won) > 100 and np.all(won == 1)
    assert np.all((p_win > 0) & (p_win <= 1))
    assert all(len(b[names.CLICK]) <= 256 for b in batches)
    for feature in spec.categorical:  # transformed ids lie inside the model's tables
        ids = np.concatenate([b[feature.name].numpy() for b in batches])
        assert ids.min() >= 0 and ids.max() < feature.vocabulary_size


def test_config_naming_a_feature_missing_from_the_schema_fails_at_once(tiny_runs, tmp_path):
    workdir, _ = tiny_runs
    files, graph = _transform_paths(workdir)
    raw = tiny_model_config(feature_spec(tiny_simulation(), embedding_dim=4))
    spec = FeatureSpec(categorical=[*raw.features.categorical, CategoricalFeature("publisher", vocabulary_size=9)],
                       numeric=raw.features.numeric)
    bad = ModelConfig.from_dict({**raw.to_dict(), "features": spec.to_dict()})
    with pytest.raises(ValueError, match="'publisher'"):
        train_and_export(files, graph, str(tmp_path / "model"), trainer_custom_config(bad, TransformConfig()))
    assert not (tmp_path / "model").exists()


def test_custom_config_must_hold_a_model_config():
    with pytest.raises(ValueError, match="model_config"):
        parse_custom_config({"transform": {}})
    with pytest.raises(ValueError, match="unknown keys"):
        parse_custom_config({"model_config": {"features": {"numeric": [{"name": "x"}]}, "nope": 1}})


def test_train_steps_are_total_steps_spread_over_the_epochs(tiny_runs, tmp_path):
    import dataclasses

    import tensorflow as tf

    workdir, _ = tiny_runs
    files, graph = _transform_paths(workdir)
    config = dataclasses.replace(tiny_model_config(feature_spec(tiny_simulation(), embedding_dim=4)), epochs=2)

    class Steps(tf.keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            self.total = int(self.model.optimizer.iterations.numpy())

    steps = Steps()
    # 5 steps over 2 epochs: ceil(5 / 2) = 3 per epoch (TFX's num_steps counts all steps).
    train_and_export(files, graph, str(tmp_path / "model"), trainer_custom_config(config, TransformConfig()),
                     train_steps=5, callbacks=[steps])
    assert steps.total == 6
    with pytest.raises(ValueError, match="train_steps"):
        train_and_export(files, graph, str(tmp_path / "bad"), trainer_custom_config(config, TransformConfig()),
                         train_steps=-1)


def test_a_cosine_schedule_decays_over_every_step_of_the_trainer(tiny_runs, tmp_path):
    import dataclasses

    import tensorflow as tf
    import tensorflow_transform as tft

    workdir, _ = tiny_runs
    files, graph = _transform_paths(workdir)
    config = dataclasses.replace(tiny_model_config(feature_spec(tiny_simulation(), embedding_dim=4)), epochs=2,
                                 learning_rate_schedule={"name": "cosine"})

    class Schedule(tf.keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            self.schedule = self.model.optimizer._learning_rate  # the LearningRateSchedule object

    seen = Schedule()
    # Without train_steps every epoch is one pass: the schedule is sized from the counted batches.
    train_and_export(files, graph, str(tmp_path / "model"), trainer_custom_config(config, TransformConfig()),
                     callbacks=[seen])
    batches = sum(1 for _ in make_dataset(files, tft.TFTransformOutput(graph), config, shuffle=False))
    total = config.epochs * batches
    assert seen.schedule.get_config()["decay_steps"] == total
    rate = lambda step: float(seen.schedule(step))  # noqa: E731
    assert rate(0) == pytest.approx(config.learning_rate)
    assert rate(total / 2) == pytest.approx(config.learning_rate / 2, rel=1e-5)  # cos(π/2) = 0
    assert rate(total) == pytest.approx(0.0, abs=1e-9)


def test_a_killed_trainer_resumes_from_its_last_epoch(tiny_runs, tmp_path):
    import dataclasses
    import types

    import tensorflow as tf

    from tfx_pipeline.trainer import backup_dir_for

    workdir, _ = tiny_runs
    files, graph = _transform_paths(workdir)
    config = dataclasses.replace(tiny_model_config(feature_spec(tiny_simulation(), embedding_dim=4)), epochs=3)
    custom = trainer_custom_config(config, TransformConfig())
    fn_args = types.SimpleNamespace(model_run_dir=str(tmp_path / "Trainer" / "model_run" / "7"), custom_config=custom,
                                    train_files=files, transform_output=graph, train_steps=None)
    backup = backup_dir_for(fn_args)
    assert backup.startswith(str(tmp_path / "Trainer" / "backup"))
    assert backup_dir_for(types.SimpleNamespace(**{**vars(fn_args), "model_run_dir": "x/model_run/8"})).endswith(
        os.path.basename(backup))  # another execution of the same inputs finds it

    class Killed(Exception):
        pass

    class KillInEpoch3(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise Killed()

    class Epochs(tf.keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.epochs = []

        def on_epoch_begin(self, epoch, logs=None):
            self.epochs.append(epoch)

    with pytest.raises(Killed):
        train_and_export(files, graph, str(tmp_path / "first"), custom, callbacks=[KillInEpoch3()], backup_dir=backup)
    assert os.listdir(backup)  # the checkpoint of epochs 1-2
    seen = Epochs()
    train_and_export(files, graph, str(tmp_path / "model"), custom, callbacks=[seen], backup_dir=backup)
    assert seen.epochs == [2]  # only the third epoch ran
    assert os.path.exists(tmp_path / "model" / "saved_model.pb")
