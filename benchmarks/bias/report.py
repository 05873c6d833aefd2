"""BiasReport: DIR/bias.json, DIR/bias.md and reliability diagrams of a finished BiasBenchmark."""
from __future__ import annotations

import json
import math
import os
import platform
from typing import Any, Dict, List, Optional

import numpy as np

from mtl_keras import names
from benchmarks.bias.aggregate import aggregate, compare
from benchmarks.bias.config import BiasBenchmarkConfig
from mtl_keras.ground_truth import SPACES, SPACE_REQUEST, ground_truth, space_mask
from benchmarks.bias.runner import REFERENCE, BiasBenchmark
from benchmarks.bias.verdict import format_interval, goals, verdict

JSON_FILE, MARKDOWN_FILE = "bias.json", "bias.md"
_RECORD_KEYS = ("per_seed", "reference", "propensity", "timing", "overlap")
_TABLE_COLUMNS = (("CVR AUC", "cvr_auc"), ("CVR log loss", "cvr_log_loss"), ("CVR ECE", "cvr_ece"),
                  ("CVR ratio", "cvr_calibration_ratio"), ("CTCVR AUC", "ctcvr_auc"),
                  ("CTCVR log loss", "ctcvr_log_loss"), ("CTCVR ECE", "ctcvr_ece"), ("CTR ECE", "ctr_ece"),
                  ("CTR ratio", "ctr_calibration_ratio"))
_PLOTTED = ((names.CTR, names.P_CTR), (names.CVR, names.P_CVR), (names.CTCVR, names.P_CTCVR))


class BiasReport:
    """Aggregates the per-seed records of a run and writes its files."""

    def __init__(self, config: BiasBenchmarkConfig, records: Dict[str, List[dict]], wall_seconds: float,
                 simulation: Optional[Dict[str, Any]] = None, command: Optional[str] = None):
        self.config = config
        self.records = records
        self.results = aggregate(records["per_seed"], config.backbone, config.reported_methods)
        self.comparisons = compare(records["per_seed"], config.methods)
        self.reference = aggregate(records.get("reference", []), config.backbone, [REFERENCE])
        self.verdict = verdict(records["per_seed"], config.methods, config.scenario)
        self.goals = goals(records["per_seed"], config.methods)
        self.wall_seconds = wall_seconds
        self.simulation = simulation or {}
        self.command = command
        self.git_commit = _git_commit()

    def to_dict(self) -> Dict[str, Any]:
        import tensorflow as tf

        return _finite({
            "benchmark": "bias", "backbone": self.config.backbone, "scenario": self.config.scenario,
            "command": self.command,
            "config": self.config.to_dict(), "simulation": self.simulation,
            "truth": {"auc": "binary potential outcomes (potential_click, potential_conversion, their product)",
                      "log_loss_ece_ratio": "true probabilities as soft labels (true_p_ctr, true_p_cvr, product)"},
            "wall_seconds": self.wall_seconds, "cpus": os.cpu_count(), "machine": platform.machine(),
            "tensorflow": tf.__version__, "git_commit": self.git_commit,
            "results": self.results, "reference_results": self.reference, "comparisons": self.comparisons,
            "verdict": self.verdict, "goals": self.goals,
            **self.records,
        })

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "BiasReport":
        """Rebuilds a report from a written bias.json: aggregates and comparisons are recomputed
        from its per-seed records (the reference rows re-simulated if the file predates them)."""
        config = BiasBenchmarkConfig(**data["config"])
        records = {k: data[k] for k in _RECORD_KEYS if k in data}
        if not records.get("reference"):
            bench = BiasBenchmark(config, log=None)
            records["reference"] = [r for seed in config.seed_list for r in bench.reference_records(seed)]
        report = cls(config, records, data["wall_seconds"], simulation=data.get("simulation"),
                     command=data.get("command"))
        report.git_commit = data.get("git_commit")
        return report

    def to_markdown(self) -> str:
        cfg = self.config
        size = ("the KuaiRec matrix (train on its selected rows, score every row)" if cfg.scenario == "kuairec"
                 else f"{cfg.requests} training and {cfg.test_requests} held-out requests per seed")
        lines = [f"### Debiasing benchmark: scenario `{cfg.scenario}`, backbone `{cfg.backbone}`", "",
                 f"{size}, worlds {cfg.world_list}, seeds {cfg.seed_list} (methods paired on each world × seed), "
                 f"up to {cfg.epochs} epochs with early stopping on {cfg.validation_fraction:.0%} held-out impressions "
                 f"and an intercept refit, batch {cfg.batch_size}, p_win from `{cfg.win_model}`; "
                 f"wall time {self.wall_seconds / 60:.1f} min. Mean ± std over runs. AUC against potential "
                 "outcomes; log loss, ECE and ratio (mean prediction / mean truth) against the true probabilities. "
                 f"Row `{REFERENCE}`: the true probabilities scored as a model (the ceiling).", ""]
        if self.command:
            lines[2:2] = [f"`{self.command}`", ""]
        for space in SPACES:
            entries = [r for r in self.results if r["space"] == space]
            if not entries:
                continue
            lines += [f"**{space} space** ({entries[0]['rows']['mean']:.0f} rows per seed)", "",
                      "| method | " + " | ".join(title for title, _ in _TABLE_COLUMNS) + " |",
                      "|---|" + "---:|" * len(_TABLE_COLUMNS)]
            for r in [x for x in self.reference if x["space"] == space] + entries:
                lines.append(f"| {r['method']} | " + " | ".join(_fmt(r[key]) for _, key in _TABLE_COLUMNS) + " |")
            lines.append("")
        if self.records.get("propensity"):
            maes = [p["test_request_mae"] for p in self.records["propensity"]]
            lines += [f"Survival model `{cfg.win_model}`: mean |p_win − true p_win| on held-out requests "
                      f"{np.mean(maes):.4f} (per seed {', '.join(f'{m:.4f}' for m in maes)}).", ""]
        lines += self._overlap_markdown() + self._verdict_markdown() + self._comparison_markdown()
        return "\n".join(lines)

    def _overlap_markdown(self) -> List[str]:
        overlap = self.records.get("overlap") or []
        if not overlap:
            return []
        share = np.mean([o["share_below_floor"] for o in overlap])
        counts = ""
        if "train_conversions" in overlap[0]:
            counts = (f"**Training data** per run: {np.mean([o['train_impressions'] for o in overlap]):,.0f} impressions, "
                      f"{np.mean([o['train_clicks'] for o in overlap]):,.0f} clicks, "
                      f"{np.mean([o['train_conversions'] for o in overlap]):,.0f} conversions (mean over runs). ")
        return [f"{counts}**Overlap**: {share:.1%} of held-out requests have true p_win < {self.config.overlap_floor} (the "
                f"propensity floor; {np.mean([o['share_below_0.01'] for o in overlap]):.1%} below 0.01). Floored "
                "weights under-weight them: the `overlap` space scores the requests with true p_win ≥ the floor, "
                "the population the weights reach in proportion.", ""]

    def _verdict_markdown(self) -> List[str]:
        lines = [f"**Verdict** (`{self.config.scenario}`): best method by mean; its paired difference to ESMM "
                 "(mean [95 % interval] over world × seed runs) and whether the interval excludes 0.", "",
                 "| space | metric | best | best mean | ESMM mean | best − ESMM | excludes 0 |",
                 "|---|---|---|---:|---:|---:|---|"]
        for v in self.verdict:
            baseline = "n/a" if v["baseline_mean"] is None else f"{v['baseline_mean']:.4f}"
            diff = v["difference"]
            lines.append(f"| {v['space']} | {v['metric']} | {v['best']} | {v['best_mean']:.4f} | {baseline} | "
                         f"{'(ESMM is best)' if diff is None else format_interval(diff)} | "
                         f"{'—' if diff is None else ('yes' if diff['excludes_zero'] else 'no')} |")
        if self.goals:
            lines += ["", "**Goals** (targets, reported as measured):", "", "| goal | method | measured | met |",
                      "|---|---|---:|---|"]
            for g in self.goals:
                measured = "n/a" if g["measured"] is None else f"{g['measured']:.4f}"
                if g.get("interval"):
                    measured += f" (paired vs ESMM {format_interval(g['interval'])})"
                lines.append(f"| {g['goal']} | {g['method']} | {measured} | {'yes' if g['met'] else 'no'} |")
        return lines + [""]

    def _comparison_markdown(self) -> List[str]:
        rows = [c for c in self.comparisons if c["space"] == SPACE_REQUEST]
        if not rows:
            return []
        metrics = list(dict.fromkeys(c["metric"] for c in rows))
        lines = ["**Request space, method − baseline over paired runs**: mean [95 % interval] of the per-run "
                 "difference; ✓ when it points the way the literature says; then the seeds needed for the gap of "
                 "the means to exceed the larger std / for the paired difference to exceed its std ('—': not "
                 "within the seeds run).", "",
                 "| method − baseline | " + " | ".join(metrics) + " |", "|---|" + "---:|" * len(metrics)]
        for pair in dict.fromkeys((c["method"], c["baseline"]) for c in rows):
            cells = []
            for metric in metrics:
                c = next(x for x in rows if (x["method"], x["baseline"], x["metric"]) == (*pair, metric))
                seeds = "/".join("—" if n is None else str(n)
                                 for n in (c["seeds_to_separate"], c["seeds_to_separate_paired"]))
                cells.append(f"{format_interval(c['interval'])} {'✓' if c['improves'] else '✗'} {seeds}")
            lines.append(f"| {pair[0]} − {pair[1]} | " + " | ".join(cells) + " |")
        return lines + [""]

    def plot_reliability(self, out_dir: str, predictions: Dict[str, Dict[str, np.ndarray]], test_frame) -> List[str]:
        """One PNG per space (pCTR, pCVR, pCTCVR panels, one curve per method) for the first seed,
        observed rate = mean true probability per equal-mass bin of the prediction."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from mtl_keras.plots import reliability_diagram

        truth = ground_truth(test_frame)
        paths = []
        for space in SPACES:
            mask = space_mask(test_frame, space, self.config.overlap_floor)
            fig, axes = plt.subplots(1, 3, figsize=(18, 5.5))
            for ax, (task, key) in zip(axes, _PLOTTED):
                for method, preds in predictions.items():
                    reliability_diagram(ax, truth[task]["truth"][mask], preds[key][mask], label=method,
                                        num_bins=self.config.num_bins)
                ax.set_title(f"{key} vs true probability, {space} space")
                ax.legend(loc="upper left", fontsize=7)
            fig.tight_layout()
            path = os.path.join(out_dir, f"reliability_{self.config.backbone}_{space}.png")
            fig.savefig(path, dpi=80)
            plt.close(fig)
            paths.append(path)
        return paths

    def write(self, out_dir: str, predictions=None, test_frame=None) -> List[str]:
        os.makedirs(out_dir, exist_ok=True)
        paths = [os.path.join(out_dir, JSON_FILE), os.path.join(out_dir, MARKDOWN_FILE)]
        with open(paths[0], "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=1)
        with open(paths[1], "w", encoding="utf-8") as f:
            f.write(self.to_markdown())
        if predictions and test_frame is not None:
            paths += self.plot_reliability(out_dir, predictions, test_frame)
        return paths


def _git_commit() -> Optional[str]:
    """HEAD of the source checkout (the simulator and models change between commits); None outside git."""
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=os.path.dirname(os.path.abspath(__file__)),
                             capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _fmt(value: Dict[str, Optional[float]]) -> str:
    if value["mean"] is None:
        return "n/a"
    return f"{value['mean']:.4f} ± {value['std']:.4f}"


def _finite(obj):
    """NaN / inf become None so that bias.json is strict JSON."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
