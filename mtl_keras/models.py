"""MultiTaskModel: shared embeddings → backbone → towers → {p_ctr, p_cvr, p_ctcvr[, p_imp]}.

Only the objective's towers are built: the single-task objectives `ctr` / `cvr` give {p_ctr} / {p_cvr}.

L_total = Σ_k λ_k L_k: the tasks own their losses and metrics, the model only weights and sums them.
"""
from __future__ import annotations

from typing import Dict, Optional, Union

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs
import tf_keras as keras

from mtl_keras import names, propensity_weights, row_weights, sample_spaces
from mtl_keras.config import ModelConfig
from mtl_keras.optimizers import build_optimizer
from mtl_keras.layers import SharedEmbedding, Tower
from mtl_keras.tasks import WinPropensityWeights
from mtl_keras.weighting import TaskWeighting


@keras.utils.register_keras_serializable(package="mtl_keras")
class MultiTaskModel(tfrs.models.Model):
    """A multi-task conversion model built from a `ModelConfig`.

    Called on a dict of feature tensors ([batch] each; extra keys such as labels are ignored), it
    returns a dict of [batch, 1] probabilities keyed by `names.P_CTR`, `P_CVR`, `P_CTCVR` (and
    `P_IMP` for ESCM²-DR); a model of one tower returns only its probability (`P_CTR` or `P_CVR`;
    `P_CTCVR` needs both towers). `fit` expects batches that also hold the objective's labels
    (`config.objective.labels`) and, with `win_weighting`, the p_win column.
    """

    def __init__(self, config: Union[ModelConfig, dict], **kwargs):
        super().__init__(**kwargs)
        self.model_config = config if isinstance(config, ModelConfig) else ModelConfig.from_dict(config)
        cfg = self.model_config
        policy = keras.mixed_precision.Policy(cfg.precision)
        self.embedding = SharedEmbedding(cfg.features.to_dict(), embeddings_l2=cfg.embedding_l2, name="shared_embedding",
                                         dtype=policy)
        self.cross_layers = [tfrs.layers.dcn.Cross(name=f"cross_{i}", dtype=policy) for i in range(cfg.num_cross_layers)]
        self.backbone = cfg.backbone.build(num_tasks=len(cfg.tower_names), dtype=policy)
        self.towers = [Tower(units=cfg.tower_units, dropout=cfg.dropout, name=f"{t}_tower", dtype=policy)
                       for t in cfg.tower_names]
        self.tasks = cfg.objective.build_tasks(num_calibration_bins=cfg.num_calibration_bins)
        self.task_weighting = TaskWeighting(task_names=cfg.task_names, task_weights=cfg.task_weights,
                                            method=cfg.weighting, name="task_weighting")
        self.task_losses = {t: keras.metrics.Mean(name=f"{t}_loss") for t in cfg.task_names}
        self.win_weights = (
            WinPropensityWeights(floor=cfg.win_propensity_floor, clip=cfg.win_weight_clip,
                                 self_normalize=cfg.win_self_normalize, name="win_weights")
            if cfg.win_weighting else None
        )

    def _bottom(self, features):
        x = x0 = self.embedding(features)
        for cross in self.cross_layers:
            x = cross(x0, x)
        return x

    def _representations(self, features, training=False):
        return self.backbone(self._bottom(features), training=training)

    def logits(self, features, training=False) -> Dict[str, tf.Tensor]:
        """Internal outputs the tasks read: tower logits and log pCTCVR."""
        towers = dict(zip(self.model_config.tower_names, self._representations(features, training)))
        # Losses and probabilities in float32, also under a mixed_bfloat16 policy.
        out = {f"{t}_logit": tf.cast(tower(towers[t], training=training), tf.float32) for t, tower in
               zip(self.model_config.tower_names, self.towers)}
        if names.CTR_LOGIT in out and names.CVR_LOGIT in out:
            out[names.LOG_P_CTCVR] = tf.math.log_sigmoid(out[names.CTR_LOGIT]) + tf.math.log_sigmoid(
                out[names.CVR_LOGIT])
        return out

    # Autograph is not needed (no tensor-dependent Python control flow here) and converting
    # tf_keras/tfrs internals on first trace cost 30-100 s per process; these run unconverted.
    @tf.autograph.experimental.do_not_convert
    def train_step(self, inputs):
        return super().train_step(inputs)

    @tf.autograph.experimental.do_not_convert
    def test_step(self, inputs):
        return super().test_step(inputs)

    @tf.autograph.experimental.do_not_convert
    def predict_step(self, data):
        return super().predict_step(data)

    @tf.autograph.experimental.do_not_convert
    def call(self, features, training=False):
        internal = self.logits(features, training=training)
        # Down-sampled negatives inflate the odds by 1/rate: the outputs are put back on the
        # unsampled scale (the losses keep reading `logits`, the scale of their labels).
        rates = self.model_config.negative_sampling_rate or {}
        for tower, rate in rates.items():
            internal[f"{tower}_logit"] = internal[f"{tower}_logit"] + float(np.log(rate))
        if rates and names.LOG_P_CTCVR in internal:
            internal[names.LOG_P_CTCVR] = tf.math.log_sigmoid(internal[names.CTR_LOGIT]) + tf.math.log_sigmoid(
                internal[names.CVR_LOGIT])
        outputs = {}
        for output, logit in ((names.P_CTR, names.CTR_LOGIT), (names.P_CVR, names.CVR_LOGIT)):
            if logit in internal:
                outputs[output] = tf.sigmoid(internal[logit])
        if names.LOG_P_CTCVR in internal:
            outputs[names.P_CTCVR] = tf.exp(internal[names.LOG_P_CTCVR])
        if names.IMP_LOGIT in internal:
            outputs[names.P_IMP] = tf.sigmoid(internal[names.IMP_LOGIT])
        return outputs

    def gate_weights(self, features) -> Dict[str, tf.Tensor]:
        """Gate weights per tower name, [batch, experts] each (rows sum to 1).

        MMoE: each tower's gate over the shared experts. PLE: the final CGC level's task gates over
        [that task's experts, shared experts].
        """
        section = self.model_config.backbone
        if not section.has_gates:
            section.final_gates(None)  # raises, naming the backbone
        _, gate_weights = self.backbone(self._bottom(features), return_gate_weights=True)
        return dict(zip(self.model_config.tower_names, section.final_gates(gate_weights)))

    def example_weights(self, batch) -> tf.Tensor:
        if self.win_weights is None:
            any_label = batch[self.model_config.objective.labels[0]]
            return tf.ones_like(tf.reshape(tf.cast(any_label, tf.float32), [-1]))
        return self.win_weights(batch[self.model_config.p_win_column])

    def task_example_weights(self, batch) -> Dict[str, tuple]:
        """task -> (loss weights [batch], metric weights [batch] or None), per `mtl_keras.row_weights`.

        A task without a weight column or space mask gets `example_weights(batch)`, as without
        them; a space mask (`mtl_keras.sample_spaces`) multiplies the column weight before the
        normalisation. Metric weights are None unless `weighted_metrics`: then the raw win weight x
        the column (the task applies its space mask to its metrics itself).
        """
        cfg = self.model_config
        base = self.example_weights(batch)
        win_raw = None
        if self.win_weights is not None:
            win_raw = propensity_weights.inverse_propensity_tf(batch[cfg.p_win_column], cfg.win_propensity_floor,
                                                               cfg.win_weight_clip)
        normalize_product = self.win_weights is None or cfg.win_self_normalize
        out = {}
        for task_name in self.tasks:
            column = row_weights.task_column(cfg.weight_columns, task_name)
            mask = batch.get(sample_spaces.mask_column(task_name))
            # A task on the request space reads the requests themselves: no 1/p_win.
            requests = sample_spaces.resolve(cfg.sample_spaces, task_name, cfg.objective) == sample_spaces.REQUEST
            task_win = None if requests else win_raw
            if column is None and mask is None and task_win is win_raw:
                out[task_name] = (base, win_raw if cfg.weighted_metrics else None)
                continue
            column_weight = (tf.ones_like(base) if column is None
                             else tf.reshape(tf.cast(batch[column], tf.float32), [-1]))
            raw = column_weight if task_win is None else task_win * column_weight
            if mask is not None:  # the task's rows: its weights are normalised over them only
                column_weight = column_weight * tf.reshape(tf.cast(mask, tf.float32), [-1])
            out[task_name] = (row_weights.combine(task_win, column_weight, normalize_product),
                              raw if cfg.weighted_metrics else None)
        return out

    def compute_loss(self, batch, training: bool = False) -> tf.Tensor:
        internal = self.logits(batch, training=training)
        weights = self.task_example_weights(batch)
        compute_metrics = self.model_config.train_metrics or not training
        task_losses = {}
        for task_name, task in self.tasks.items():
            example_weight, metric_weight = weights[task_name]
            task_losses[task_name] = task(batch, internal, example_weight, compute_metrics=compute_metrics,
                                          metric_weight=metric_weight)
            self.task_losses[task_name].update_state(task_losses[task_name])
        return self.task_weighting(task_losses)

    def dummy_features(self, batch_size: int = 1) -> Dict[str, tf.Tensor]:
        """Zero-valued inputs of the right dtypes, for building the model's variables."""
        spec = self.model_config.features
        features = {f.name: tf.zeros([batch_size], tf.int64) for f in spec.categorical}
        features.update({f.name: tf.zeros([batch_size], tf.float32) for f in spec.numeric})
        return features

    def get_build_config(self):
        return {"built": True}

    def build_from_config(self, config):
        # The default rebuilds from float placeholders; categorical ids need int64 inputs.
        if config.get("built"):
            self(self.dummy_features())

    def get_config(self):
        return {"config": self.model_config.to_dict(), "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(ModelConfig.from_dict(config["config"]), name=config.get("name"))


def build_model(config: Union[ModelConfig, dict], compile: bool = True,  # noqa: A002
                total_steps: Optional[int] = None) -> MultiTaskModel:
    """Builds (and by default compiles with `config.optimizer` at `config.learning_rate`, on
    `config.learning_rate_schedule` when set, and `config.steps_per_execution`) a MultiTaskModel.

    `total_steps`: the number of training steps, which a "cosine" schedule decays over
    (`training.train` passes it); other settings ignore it.
    """
    model = MultiTaskModel(config)
    if compile:
        cfg = model.model_config
        model.compile(optimizer=build_optimizer(cfg, total_steps), steps_per_execution=cfg.steps_per_execution)
    return model
