"""BiasBenchmark: simulate, fit the survival model, train every method, score on held-out requests."""
from __future__ import annotations

import time
from typing import Callable, Dict, List, Optional

import numpy as np
import pandas as pd

from mtl_keras import names
from benchmarks.bias.config import KUAIREC, BiasBenchmarkConfig
from mtl_keras.ground_truth import SPACES, evaluate_spaces
from benchmarks.bias import calibrated
from benchmarks.bias.methods import methods_by_name

REFERENCE = "truth"  # the method name of the reference rows (true probabilities as predictions)


class BiasBenchmark:
    """Runs `config` world by world and seed by seed; `run()` returns the raw per-seed records
    (see BiasReport), each tagged with its world and seed.

    Per (world w, seed s): the scenario's SimulationConfig(world_seed=w, seed=s) draws requests +
    test_requests rows; the first `requests` train, the rest are held out (scenario kuairec: the
    selection drawn with (w, s) on the KuaiRec matrix; training reads its selected rows, every
    row is scored). The survival model (`win_model`) is fitted on all training
    requests (lost ones censored at the bid) and scores p_win on them. Every method then trains
    on the won training impressions with the same ModelConfig budget and seed, and is scored on
    all held-out requests. `predictions` keeps the first seed's held-out predictions per method,
    for the reliability diagrams.
    """

    def __init__(self, config: BiasBenchmarkConfig, log: Optional[Callable[[str], None]] = print,
                 simulation_overrides: Optional[Dict[str, object]] = None):
        self.config = config
        self.log = log or (lambda message: None)
        self.simulation_overrides = dict(simulation_overrides or {})
        self.predictions: Dict[str, Dict[str, np.ndarray]] = {}
        self.test_frame: Optional[pd.DataFrame] = None
        self._ratings: Optional[pd.DataFrame] = None  # the KuaiRec matrix, read once

    def simulation_config(self, seed: int, world: Optional[int] = None):
        from mtl_keras.simulation.scenarios import get_scenario

        total = self.config.requests + self.config.test_requests
        world = self.config.world_seed if world is None else world
        return get_scenario(self.config.scenario).config(num_requests=total, seed=seed, world_seed=world,
                                                         **self.simulation_overrides)

    def run(self) -> Dict[str, List[dict]]:
        records: Dict[str, List[dict]] = {"per_seed": [], "reference": [], "propensity": [], "timing": [],
                                          "overlap": []}
        for world in self.config.world_list:
            for seed in self.config.seed_list:
                self._run_seed(world, seed, records)
        return records

    def data(self, world: int, seed: int):
        """(train_frame, test_frame, FeatureSpec) of one (world, seed)."""
        cfg = self.config
        if cfg.scenario == KUAIREC:
            from mtl_keras.simulation import kuairec

            if self._ratings is None:
                self._ratings = kuairec.load_kuairec()
            frame = kuairec.kuairec_frame(self._ratings, kuairec.KuaiRecSelection(world_seed=world), sample_seed=seed)
            return frame, frame, kuairec.kuairec_feature_spec(frame, embedding_dim=cfg.embedding_dim)
        from mtl_keras.simulation import feature_spec, simulate_frame

        simulation = self.simulation_config(seed, world)
        frame = simulate_frame(simulation)
        return (frame.iloc[:cfg.requests].reset_index(drop=True), frame.iloc[cfg.requests:].reset_index(drop=True),
                feature_spec(simulation, embedding_dim=cfg.embedding_dim))

    def _run_seed(self, world: int, seed: int, records: Dict[str, List[dict]]) -> None:
        from mtl_keras.propensity import make_win_model

        cfg = self.config
        start = time.perf_counter()
        train_frame, test_frame, spec = self.data(world, seed)
        if test_frame is train_frame:
            train_frame = train_frame.copy()  # p_win is written on the training rows only
        tag = {"world": world, "seed": seed}
        first = (world, seed) == (cfg.world_seed, cfg.first_seed)  # its predictions feed the plots
        records["reference"] += [{**tag, **r} for r in self.reference_records(seed, test_frame)]
        true_p_win = test_frame[names.TRUE_P_WIN].to_numpy()
        records["overlap"].append({**tag, "floor": cfg.overlap_floor, "rows": int(true_p_win.size),
                                   "share_below_floor": float(np.mean(true_p_win < cfg.overlap_floor)),
                                   "share_below_0.01": float(np.mean(true_p_win < 0.01)),
                                   "train_impressions": int(train_frame[names.WON].sum()),
                                   "train_clicks": int(train_frame[names.CLICK].sum()),
                                   "train_conversions": int(train_frame[names.CONVERSION].sum())})
        methods = methods_by_name(cfg.methods)
        win_model = None
        calibration_rows = self.data(world, seed + calibrated.CALIBRATION_SEED_OFFSET)[0] if cfg.calibrate else None
        if cfg.calibrate or any(m.p_win_source == "survival" for m in methods):
            fit_start = time.perf_counter()
            win_model = make_win_model(cfg.win_model, max_fit_rows=cfg.win_fit_rows, seed=seed).fit(train_frame)
            train_frame[names.P_WIN] = win_model.predict_p_win(train_frame)
            records["propensity"].append({**tag, **self._propensity_record(
                seed, win_model, train_frame, test_frame, time.perf_counter() - fit_start, cfg.overlap_floor)})
            self.log(f"seed {seed}: {cfg.win_model} fitted in {time.perf_counter() - fit_start:.1f}s, "
                     f"mean |p_win - true| on training impressions "
                     f"{records['propensity'][-1]['impression_mae']:.4f}")
        for method in methods:
            method_start = time.perf_counter()
            frames = {"test": test_frame}
            if cfg.calibrate:
                frames["calibration"] = calibrated.calibration_frame(calibration_rows, method, win_model)
            all_preds = self._train_and_predict(method, spec, seed, train_frame, frames)
            preds = all_preds["test"]
            scored = {method.name: preds}
            if cfg.calibrate:
                scored[calibrated.calibrated_name(method.name)] = calibrated.calibrate(
                    preds, all_preds["calibration"], frames["calibration"], cfg.overlap_floor)
            for name, values_of in scored.items():
                for space, values in evaluate_spaces(test_frame, values_of, cfg.num_bins, cfg.overlap_floor).items():
                    records["per_seed"].append({**tag, "method": name, "space": space, **values})
            if first:
                self.predictions[method.name] = preds
            seconds = time.perf_counter() - method_start
            records["timing"].append({**tag, "method": method.name, "seconds": seconds})
            request = records["per_seed"][-len(SPACES) * len(scored)]
            self.log(f"world {world} seed {seed}: {method.name:22s} {seconds:6.1f}s  request-space cvr ratio "
                     f"{request['cvr_calibration_ratio']:.3f} cvr_ece {request['cvr_ece']:.4f} "
                     f"ctcvr_auc {request['ctcvr_auc']:.4f}")
        if first:
            self.test_frame = test_frame
        records["timing"].append({**tag, "method": "all", "seconds": time.perf_counter() - start})

    def reference_records(self, seed: int, test_frame: Optional[pd.DataFrame] = None,
                          world: Optional[int] = None) -> List[dict]:
        """The true probabilities scored like a model: the ceiling of every metric (AUC is below 1
        because the potential outcomes are Bernoulli draws). Re-simulates the test rows if not given."""
        if test_frame is None:
            test_frame = self.data(self.config.world_seed if world is None else world, seed)[1]
        p_ctr = test_frame[names.TRUE_P_CTR].to_numpy()
        p_cvr = test_frame[names.TRUE_P_CVR].to_numpy()
        truth = {names.P_CTR: p_ctr, names.P_CVR: p_cvr, names.P_CTCVR: p_ctr * p_cvr}
        return [{"seed": seed, "method": REFERENCE, "space": space, **values} for space, values in
                evaluate_spaces(test_frame, truth, self.config.num_bins, self.config.overlap_floor).items()]

    def _train_and_predict(self, method, spec, seed: int, train_frame, frames) -> Dict[str, Dict[str, np.ndarray]]:
        """{frame name: predictions} of one trained model on each of `frames`."""
        import tf_keras as keras

        from mtl_keras.config import ModelConfig
        from mtl_keras.training import predict, train

        keras.backend.clear_session()  # frees the previous model's graph; memory stays flat over runs
        config = ModelConfig(features=spec, seed=seed, **self.config.model_fields(), **method.model_overrides())
        model, _ = train(config, train_frame, verbose=0)
        out = {}
        for name, frame in frames.items():
            preds = predict(model, frame)
            out[name] = {k: preds[k] for k in names.PREDICTION_KEYS}
        return out

    @staticmethod
    def _propensity_record(seed, win_model, train_frame, test_frame, seconds, floor) -> dict:
        won = train_frame[names.WON].to_numpy() == 1
        true_test = test_frame[names.TRUE_P_WIN].to_numpy()
        error = np.abs(train_frame[names.P_WIN].to_numpy() - train_frame[names.TRUE_P_WIN].to_numpy())
        test_p = win_model.predict_p_win(test_frame)
        return {
            "seed": seed, "kind": win_model.kind, "fit_rows": win_model.fit_info["fit_rows"],
            "seconds": seconds,
            # Impressions are what the weights touch; the test MAE shows the fit generalises.
            "impression_mae": float(error[won].mean()),
            "request_mae": float(error.mean()),
            "test_request_mae": float(np.abs(test_p - true_test).mean()),
            "test_request_corr": float(np.corrcoef(test_p, true_test)[0, 1]),
            # The true share is in the overlap record; this is what a user without the truth would see.
            "test_share_estimated_below_floor": float(np.mean(test_p < floor)),
        }
