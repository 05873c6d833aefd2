"""Runs the pipeline locally (LocalDagRunner, SQLite ML Metadata, Beam DirectRunner) and reports it."""
from __future__ import annotations

import dataclasses
import os
import time
from typing import Dict, List, Optional

from tfx_pipeline import run_summary

METADATA_FILE = "metadata.sqlite"


@dataclasses.dataclass
class RunReport:
    """One local run: its components (state and seconds), the blessing, the push and the metrics."""

    run_id: str
    components: List[run_summary.ComponentRun]
    blessed: Optional[bool]
    pushed_path: Optional[str]
    metrics: Dict[str, Dict[str, float]]
    seconds: float

    def to_dict(self) -> Dict:
        return {
            "run_id": self.run_id,
            "components": [dataclasses.asdict(r) for r in self.components],
            "blessed": self.blessed,
            "pushed_path": self.pushed_path,
            "metrics": self.metrics,
            "seconds": self.seconds,
        }

    def format(self) -> str:
        lines = [run_summary.format_table(self.components), ""]
        for output, values in self.metrics.items():
            # Against a baseline TFMA adds a *_diff per metric; the AUC change is the one blessing uses.
            shown = ", ".join(f"{k}={v:.4f}" for k, v in sorted(values.items())
                              if not k.endswith("_diff") or k == "auc_diff")
            lines.append(f"{output:8s} {shown}")
        lines.append(f"blessed: {self.blessed}")
        lines.append(f"pushed model: {self.pushed_path or 'nothing pushed'}")
        lines.append(f"wall time: {self.seconds:.1f} s")
        return "\n".join(lines)


def metadata_path_for(pipeline_root: str) -> str:
    return os.path.join(pipeline_root, METADATA_FILE)


def run_local(pipeline, metadata_path: str) -> RunReport:
    """Runs `pipeline` (built with metadata_path=`metadata_path`) and reports what this run did.

    A component that fails raises (the run stops there); nothing downstream runs or is pushed.
    """
    from tfx import v1 as tfx

    start = time.perf_counter()
    tfx.orchestration.LocalDagRunner().run(pipeline)
    seconds = time.perf_counter() - start
    return report(metadata_path, seconds)


def report(metadata_path: str, seconds: float = float("nan")) -> RunReport:
    """The latest run in the store."""
    run_id = run_summary.run_ids(metadata_path)[-1]
    components = run_summary.component_runs(metadata_path, run_id)
    evaluated = any(r.component == "Evaluator" and r.state in ("COMPLETE", "CACHED") for r in components)
    evaluation = run_summary.latest_artifact_uri(metadata_path, "ModelEvaluation") if evaluated else None
    blessing = run_summary.latest_artifact_uri(metadata_path, "ModelBlessing") if evaluated else None
    pushed = any(r.component == "Pusher" and r.state in ("COMPLETE", "CACHED") for r in components)
    return RunReport(
        run_id=run_id,
        components=components,
        blessed=run_summary.is_blessed(blessing) if blessing else None,
        pushed_path=run_summary.pushed_model_path(metadata_path) if pushed else None,
        metrics=run_summary.task_metrics(evaluation) if evaluation else {},
        seconds=seconds,
    )
