"""Per-task sample spaces (`ModelConfig.sample_spaces`): the rows each task's loss and metrics average over.

A space is one of
  * "impression": won requests (every row of a log without a `won` column); default of CTR, CTCVR
    and the ESCM² counterfactual CVR risks;
  * "click": clicked impressions; default of the naive / ESMM CVR task and of objective `cvr`, and
    only allowed for them (CTR on clicks is constant; IPS/DR already reach clicks through 1/pCTR);
  * "request": every row, lost auctions included (their labels must then be 0/1 too);
  * any other string: a boolean column of the data (bool, or 0/1 without NaN), the rows where it
    is true, for example the randomised slice of a log whose labels are unbiased.

Training keeps the union of the tasks' spaces and drops the other rows (lost requests, unless a
task trains on them). A task whose space is not every kept row gets a 0/1 mask column
(`mask_column(task)`): its loss weights are multiplied by it before the batch normalisation of
`mtl_keras.row_weights` (so the loss is a mean over its rows, win and column weights included) and
its metrics are computed on its rows only (for IPS/DR: the clicked ones among them).
"""
from __future__ import annotations

from typing import Dict, Iterable, Optional

import numpy as np

from mtl_keras import names

IMPRESSION = "impression"
CLICK = "click"
REQUEST = "request"
BUILT_IN = (IMPRESSION, CLICK, REQUEST)
ALL_TASKS = "*"


def mask_column(task: str) -> str:
    """The batch column holding task's 0/1 space mask (absent when the task uses every row)."""
    return f"__space_mask_{task}"


def default_space(objective, task: str) -> str:
    return CLICK if task in objective.click_space_tasks else IMPRESSION


def check_sample_spaces(sample_spaces, task_names: Iterable[str], objective) -> Optional[Dict[str, str]]:
    """The config's `sample_spaces` as a dict, or None; raises naming a bad key, space or column."""
    if sample_spaces is None:
        return None
    if not isinstance(sample_spaces, dict):
        raise ValueError("ModelConfig.sample_spaces must be a dict task -> space ('*': every task), got "
                         f"{sample_spaces!r}; a space is 'impression', 'click', 'request' or a boolean column.")
    tasks = list(task_names)
    for task, space in sample_spaces.items():
        if task != ALL_TASKS and task not in tasks:
            raise ValueError(f"ModelConfig.sample_spaces names task {task!r}, which objective {objective.name!r} "
                             f"does not have; its tasks are {sorted(tasks)}, or use '*' for every task.")
        if not isinstance(space, str) or not space:
            raise ValueError(f"ModelConfig.sample_spaces[{task!r}] must be 'impression', 'click', 'request' or a "
                             f"boolean column name, got {space!r}.")
    resolved = dict(sample_spaces)
    for task in tasks:
        space = resolve(resolved, task, objective)
        if space == CLICK and default_space(objective, task) != CLICK:
            raise ValueError(f"ModelConfig.sample_spaces gives task {task!r} of objective {objective.name!r} the "
                             "'click' space, which only the CVR task of naive / esmm / cvr may use (CTR on clicks is "
                             "constant; the ESCM² risks already reach clicks through 1/pCTR). Fix: choose "
                             "'impression', 'request' or a boolean column for it.")
    return resolved


def resolve(sample_spaces: Optional[Dict[str, str]], task: str, objective) -> str:
    """Task's space: its own entry, else '*', else the objective's default for it."""
    spaces = sample_spaces or {}
    return spaces.get(task, spaces.get(ALL_TASKS, default_space(objective, task)))


def columns(sample_spaces: Optional[Dict[str, str]]) -> list:
    """The boolean columns the spaces read, in the order given."""
    return list(dict.fromkeys(s for s in (sample_spaces or {}).values() if s not in BUILT_IN))


def _boolean_column(frame, column: str, tasks) -> np.ndarray:
    where = f"sample space column {column!r} (ModelConfig.sample_spaces, tasks {sorted(tasks)})"
    if column not in frame.columns:
        raise ValueError(f"The {where} is not a column of the data; add it (true on the task's rows) or use "
                         "'impression', 'click' or 'request'.")
    values = frame[column]
    if values.dtype == bool:
        return values.to_numpy()
    numeric = np.issubdtype(values.dtype, np.number)
    if not numeric or values.isna().any() or not values.isin([0, 1]).all():
        raise ValueError(f"The {where} must be boolean (True/False, or 0/1 without NaN); got dtype {values.dtype} "
                         "with other values. Fix: cast it with frame[col] = frame[col].astype(bool) after filling NaN.")
    return values.to_numpy() == 1


def space_rows(frame, config) -> Dict[str, np.ndarray]:
    """Task -> boolean array over the rows of `frame` (a log, lost requests included)."""
    objective = config.objective
    won = (frame[names.WON].to_numpy() == 1 if names.WON in frame.columns else np.ones(len(frame), bool))
    rows = {}
    for task in config.task_names:
        space = resolve(config.sample_spaces, task, objective)
        if space == IMPRESSION:
            rows[task] = won
        elif space == REQUEST:
            rows[task] = np.ones(len(frame), bool)
        elif space == CLICK:
            # The CVR task selects clicks itself (click is 0 on the other kept rows); objective `cvr`
            # reads a log of clicks. Its rows to keep are the clicked impressions.
            click = frame[names.CLICK].to_numpy() == 1 if names.CLICK in frame.columns else np.ones(len(frame), bool)
            rows[task] = won & click
        else:
            tasks = [t for t in config.task_names if resolve(config.sample_spaces, t, objective) == space]
            rows[task] = _boolean_column(frame, space, tasks)
        # An empty default space (a log without clicks) leaves that task's loss at 0, as before;
        # an empty space the user chose, or the only rows of objective `cvr`, is an error.
        chosen = task in (config.sample_spaces or {}) or ALL_TASKS in (config.sample_spaces or {})
        if not rows[task].any() and (chosen or objective.clicked_rows_only or len(config.task_names) == 1):
            what = {IMPRESSION: "no won impression (won=1)", CLICK: "no clicked impression (no click=1)",
                    REQUEST: "no row"}.get(space, f"no row where column {space!r} is true")
            raise ValueError(f"Task {task!r} trains on its sample space {space!r}, and the data's {len(frame)} rows "
                             f"have {what}; check the data or ModelConfig.sample_spaces.")
    return rows


def select(frame, config):
    """(kept frame, {task: float32 mask over its rows}) for the tasks whose space is not every kept row.

    Kept rows are the union of the tasks' spaces. The click space never gets a mask (the CVR task
    selects clicks itself), so a configuration without `sample_spaces` keeps today's rows and masks.
    """
    rows = space_rows(frame, config)
    keep = np.logical_or.reduce(list(rows.values()))
    kept = frame[keep].reset_index(drop=True)
    masks = {}
    for task, in_space in rows.items():
        space = resolve(config.sample_spaces, task, config.objective)
        if space != CLICK and not in_space[keep].all():
            masks[task] = in_space[keep].astype(np.float32)
    return kept, masks
