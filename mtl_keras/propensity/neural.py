"""NeuralWinModel: a discrete-time hazard network over the price bins (DLF / DeepHit family), in tf_keras."""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np
import pandas as pd

from mtl_keras.propensity import hazard_bins
from mtl_keras.propensity.base import WinPropensityModel
from mtl_keras.propensity.data import infer_feature_columns
from mtl_keras.propensity.encoder import FeatureEncoder


class NeuralWinModel(WinPropensityModel):
    """P(win | x, b) = 1 - S(b | x) from per-bin hazards h_j(x) of a network over the features.

    Price axis: `num_bins` log-spaced bins from the training prices (or explicit `bin_edges`, which
    must hold every won price); within a bin the price is uniform (see hazard_bins). Loss: the
    censored likelihood of hazard_net.censored_nll. Features: FeatureEncoder levels (an embedding of
    `embedding_dim` per kept level, the others share a reference) and standardised numerics; None for
    both infers them like the lifelines models. Fit: Keras `fit` on every row (no subsample unless
    `max_fit_rows` is set), Adam, shuffled batches of `batch_size` (None: rows / 20 within 256..4096), the
    learning rate cut 3x when the validation loss stalls, early stopping on the held-out
    `validation_fraction` after `patience` epochs without improvement (best weights kept).
    Export: `to_tf_module()`, a tf.Module equal to predict_p_win.
    """

    kind = "neural"

    def __init__(self, categorical: Optional[Sequence[str]] = None, numeric: Optional[Sequence[str]] = None,
                 max_levels: int = 100, min_count: int = 10, num_bins: int = 64, bin_edges=None,
                 hidden: Sequence[int] = (64, 64), embedding_dim: int = 8, l2: float = 1e-5,
                 learning_rate: float = 1e-3, batch_size: Optional[int] = None, max_epochs: int = 50,
                 patience: int = 3, validation_fraction: float = 0.1, max_fit_rows: Optional[int] = None,
                 seed: int = 0):
        super().__init__(max_fit_rows=max_fit_rows, seed=seed)
        _check_int("num_bins", num_bins, 2)
        _check_int("embedding_dim", embedding_dim, 1)
        _check_int("max_epochs", max_epochs, 1)
        _check_int("patience", patience, 1)
        if batch_size is not None:
            _check_int("batch_size", batch_size, 1)
        hidden = list(hidden)
        for units in hidden:
            _check_int("hidden", units, 1)
        for field, value, low, high in (("l2", l2, 0.0, np.inf), ("learning_rate", learning_rate, 1e-12, np.inf),
                                        ("validation_fraction", validation_fraction, 1e-12, 0.5)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value < high:
                raise ValueError(f"{field} must be a number in [{low:g}, {high:g}), got {value!r}.")
        self.categorical = None if categorical is None else list(categorical)
        self.numeric = None if numeric is None else list(numeric)
        self.max_levels, self.min_count, self.num_bins = max_levels, min_count, num_bins
        self.bin_edges = None if bin_edges is None else [float(e) for e in np.asarray(bin_edges, np.float64).ravel()]
        self.hidden, self.embedding_dim, self.l2 = hidden, embedding_dim, float(l2)
        self.learning_rate, self.batch_size, self.max_epochs = float(learning_rate), batch_size, max_epochs
        self.patience, self.validation_fraction = patience, float(validation_fraction)
        FeatureEncoder(self.categorical or (), self.numeric or (), max_levels, min_count)  # validates early

    # --- fitting -------------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame) -> "NeuralWinModel":
        import mtl_keras.propensity.hazard_net  # noqa: F401  (TensorFlow's import stays outside fit_info's seconds)

        super().fit(frame)
        self.fit_info.update(self.training)
        return self

    def _fit(self, frame: pd.DataFrame, durations: np.ndarray, events: np.ndarray) -> None:
        from mtl_keras.propensity.hazard_net import build_hazard_network, fit_network

        categorical, numeric = self.categorical, self.numeric
        if categorical is None and numeric is None:
            categorical, numeric = infer_feature_columns(frame)
        self.encoder = FeatureEncoder(categorical or (), numeric or (), self.max_levels, self.min_count).fit(frame)
        if self.encoder.num_columns == 0:
            raise ValueError("The 'neural' model has no usable feature column (all constant, too rare or none given); "
                             "pass categorical=/numeric= columns or use kind='km'.")
        if self.bin_edges is None:
            self.edges = hazard_bins.price_bin_edges(durations, self.num_bins)
        else:
            self.edges = hazard_bins.check_bin_edges(self.bin_edges, durations[events == 1])
        inputs, target = self.model_inputs(frame), hazard_bins.targets(self.edges, durations, events)
        order = np.random.default_rng(self.seed).permutation(len(frame))
        cut = max(int(round(len(frame) * self.validation_fraction)), 1)
        if len(frame) - cut < 2:
            raise ValueError(f"The neural win model needs at least 3 requests to fit (got {len(frame)}).")
        val, train = order[:cut], order[cut:]
        pick = lambda rows: ({k: v[rows] for k, v in inputs.items()}, target[rows])  # noqa: E731
        batch_size = self.batch_size or int(np.clip(len(train) // 20, 256, 4096))
        self.network = build_hazard_network(
            self.encoder.levels_per_field, inputs["numeric"].shape[1] if "numeric" in inputs else 0,
            hazard_bins.initial_hazards(self.edges, durations[train], events[train]), self.hidden,
            self.embedding_dim, self.l2, self.seed)
        history = fit_network(self.network, pick(train), pick(val), batch_size, self.max_epochs, self.patience,
                              self.learning_rate, self.seed)
        losses = history.history["val_loss"]
        self.training = {"epochs": len(losses), "best_epoch": int(np.argmin(losses)) + 1,
                         "val_loss": float(np.min(losses)), "batch_size": batch_size, "num_bins": len(self.edges) - 1,
                         "train_rows": int(len(train)), "validation_rows": int(cut)}

    def model_inputs(self, frame: pd.DataFrame) -> Dict[str, np.ndarray]:
        """The network's inputs for `frame` (see hazard_net.build_hazard_network)."""
        inputs = {}
        if self.encoder.categorical:
            inputs["levels"] = self.encoder.level_ids(frame)
        if any(n in self.encoder.std for n in self.encoder.numeric):
            inputs["numeric"] = self.encoder.scaled_numeric(frame)
        return inputs

    # --- scoring -------------------------------------------------------------------------------
    def predict_hazards(self, frame: pd.DataFrame) -> np.ndarray:
        """[rows, J] float64 hazards h_j(x) of the bins [edges[j], edges[j + 1])."""
        from scipy import special

        self._check_fitted()
        if len(frame) == 0:
            return np.zeros((0, len(self.edges) - 1))
        logits = self.network(self.model_inputs(frame), training=False).numpy()
        return special.expit(logits.astype(np.float64))

    def _cdf(self, frame: pd.DataFrame, prices: np.ndarray) -> np.ndarray:
        return 1.0 - hazard_bins.survival_at(self.predict_hazards(frame), self.edges, prices)

    def predict_median(self, frame: pd.DataFrame) -> np.ndarray:
        """Median market price per row, solved within its bin (edges[-1] if S stays above 1/2)."""
        rows = [hazard_bins.median_price(self.predict_hazards(frame.iloc[s:s + 65_536]), self.edges)
                for s in range(0, len(frame), 65_536)]
        return np.concatenate(rows) if rows else np.zeros(0)

    def to_tf_module(self, feature_spec=None, floor: float = 0.0, clip: float = 1.0):
        """A tf.Module whose `__call__(features, bids[batch, num_bids])` equals predict_p_win."""
        from mtl_keras.propensity.neural_export import NeuralWinModule

        self._check_fitted()
        return NeuralWinModule(self, feature_spec=feature_spec, floor=floor, clip=clip)

    # --- persistence ---------------------------------------------------------------------------
    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "categorical": self.categorical, "numeric": self.numeric,
                "max_levels": self.max_levels, "min_count": self.min_count, "num_bins": self.num_bins,
                "bin_edges": self.bin_edges, "hidden": self.hidden, "embedding_dim": self.embedding_dim,
                "l2": self.l2, "learning_rate": self.learning_rate, "batch_size": self.batch_size,
                "max_epochs": self.max_epochs, "patience": self.patience,
                "validation_fraction": self.validation_fraction}

    def _get_params(self) -> Dict[str, Any]:
        return {"encoder": self.encoder.to_dict(), "edges": self.edges.tolist(), "training": self.training,
                "weights": [w.tolist() for w in self.network.get_weights()]}

    def _set_params(self, params: Dict[str, Any]) -> None:
        from mtl_keras.propensity.hazard_net import build_hazard_network

        self.encoder = FeatureEncoder.from_dict(params["encoder"])
        self.edges = np.asarray(params["edges"], np.float64)
        self.training = params["training"]
        num_numeric = sum(n in self.encoder.std for n in self.encoder.numeric)
        self.network = build_hazard_network(self.encoder.levels_per_field, num_numeric,
                                            np.full(len(self.edges) - 1, 0.5), self.hidden, self.embedding_dim,
                                            self.l2, self.seed)
        self.network.set_weights([np.asarray(w, np.float32) for w in params["weights"]])


def _check_int(field: str, value, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{field} must be an int >= {low}, got {value!r}.")
