"""BiasMethod: one debiasing method of the benchmark (an objective plus where p_win comes from)."""
from __future__ import annotations

import dataclasses
from typing import Dict, List, Sequence

from mtl_keras import names
from mtl_keras.objectives import OBJECTIVES

# Where an IPW method reads p_win: none (no win weighting), the survival model, the simulator's truth.
P_WIN_SOURCES = ("none", "survival", "oracle")


@dataclasses.dataclass(frozen=True)
class BiasMethod:
    """`objective` is a ModelConfig objective; `p_win_source` one of P_WIN_SOURCES.

    "survival" weights impression-space losses by 1/p_win from the survival model fitted on the
    training requests (column names.P_WIN); "oracle" by the simulator's names.TRUE_P_WIN, which
    separates the error of the propensity model from the error of the method. `true_click_propensity`
    makes ESCM² weight clicks by 1/true_p_ctr instead of 1/pCTR of the model being trained, which
    separates the click-stage propensity error too.
    """

    name: str
    objective: str
    p_win_source: str = "none"
    true_click_propensity: bool = False

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise ValueError(f"BiasMethod {self.name!r}: objective must be one of {list(OBJECTIVES)}, "
                             f"got {self.objective!r}.")
        if self.p_win_source not in P_WIN_SOURCES:
            raise ValueError(f"BiasMethod {self.name!r}: p_win_source must be one of {list(P_WIN_SOURCES)}, "
                             f"got {self.p_win_source!r}.")

    @property
    def win_weighting(self) -> bool:
        return self.p_win_source != "none"

    @property
    def p_win_column(self) -> str:
        return names.TRUE_P_WIN if self.p_win_source == "oracle" else names.P_WIN

    def model_overrides(self) -> Dict[str, object]:
        """The ModelConfig fields this method sets; everything else is the shared budget."""
        objective = {"name": self.objective}
        if self.true_click_propensity:
            objective["click_propensity_column"] = names.TRUE_P_CTR
        return {"objective": objective, "win_weighting": self.win_weighting, "p_win_column": self.p_win_column}


METHODS = (
    BiasMethod("naive", "naive"),
    BiasMethod("esmm", "esmm"),
    BiasMethod("escm2_ips", "escm2_ips"),
    BiasMethod("escm2_dr", "escm2_dr"),
    BiasMethod("ipw_escm2_ips", "escm2_ips", "survival"),
    BiasMethod("ipw_escm2_dr", "escm2_dr", "survival"),
    BiasMethod("oracle_ipw_escm2_ips", "escm2_ips", "oracle"),
    BiasMethod("oracle_ipw_escm2_dr", "escm2_dr", "oracle"),
    BiasMethod("oracle_both_ipw_escm2_ips", "escm2_ips", "oracle", true_click_propensity=True),
)
METHOD_NAMES = tuple(m.name for m in METHODS)


def methods_by_name(selected: Sequence[str]) -> List[BiasMethod]:
    """The METHODS named in `selected`, in the given order; unknown or repeated names are errors."""
    known = {m.name: m for m in METHODS}
    unknown = [s for s in selected if s not in known]
    if unknown:
        raise ValueError(f"methods: unknown {unknown}; choose from {list(METHOD_NAMES)}.")
    if len(set(selected)) != len(selected) or not selected:
        raise ValueError(f"methods must name each method once and at least one, got {list(selected)}.")
    return [known[s] for s in selected]
