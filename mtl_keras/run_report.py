"""metrics.json of `mtl-ads train` as strict JSON: a metric that is undefined on the evaluation rows
(AUC without positives or without negatives, anything on zero rows, a NaN) is null, and the reason
comes back as a warning with the counts instead of a silent auc=0.5 or log_loss=0."""
from __future__ import annotations

import math
import numbers
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np
import pandas as pd

from mtl_keras import names

_METRICS = ("auc", "log_loss", "ece", "calibration_ratio")


def finite_or_none(value: Any) -> Optional[float]:
    """`value` as a float, None when it is NaN, infinite or None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def null_undefined(report: Mapping[str, Mapping[str, Any]]) -> Tuple[Dict[str, Dict[str, Any]], List[str]]:
    """(report with undefined metrics as None, one warning per task that has some).

    On zero rows every metric is undefined; without positives AUC and the calibration ratio
    (sum of predictions / sum of labels) are; with only positives, AUC is."""
    out, warnings = {}, []
    for task, values in report.items():
        values = dict(values)
        count, positives = int(values.get("count", 0)), int(values.get("positives", 0))
        undefined = set(_METRICS) if count == 0 else set()
        if positives == 0:
            undefined |= {"auc", "calibration_ratio"}
        elif positives == count:
            undefined.add("auc")
        for key, value in values.items():
            if isinstance(value, float) and not math.isfinite(value):
                undefined.add(key)
        undefined &= set(values)
        for key in undefined:
            values[key] = None
        if undefined:
            warnings.append(f"evaluation task {task!r} has {positives} positives in {count} rows: "
                            f"{', '.join(sorted(undefined))} undefined (null in metrics.json).")
        out[task] = values
    return out, warnings


def strict_history(history: Mapping[str, List[Any]]) -> Dict[str, List[Optional[float]]]:
    return {key: [finite_or_none(v) for v in values] for key, values in history.items()}


def label_warnings(frame: pd.DataFrame, labels, what: str = "training data") -> List[str]:
    """A warning for each of `labels` (click, conversion) with no 1 among the won impressions of `frame`."""
    rows = frame[frame[names.WON] == 1] if names.WON in frame.columns else frame
    warnings = []
    for label in labels:
        if label not in rows.columns:
            continue
        positives = int((rows[label] == 1).sum())
        if positives == 0:
            where = (f"its {len(rows)} won impressions (of {len(frame)} rows)" if names.WON in frame.columns
                     else f"its {len(rows)} impressions")
            warnings.append(f"the {what} has no {label}=1 among {where}; the model cannot learn when a "
                            f"{label} happens.")
    return warnings


def format_metric(value: Optional[float], digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def strict_json(value: Any) -> Any:
    """`value` (nested dicts, lists, numbers) with NaN / inf as None and numpy scalars as Python ones."""
    if isinstance(value, Mapping):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, numbers.Number):
        return finite_or_none(value) if isinstance(value, (float, np.floating)) else int(value)
    return value
