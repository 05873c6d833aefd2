"""Names owned by the pipeline.

TFMA example weights written on the evaluation impressions by the WinPropensity component (never
model features): clipped 1/p_win, and click * that weight for CVR on clicks.
"""

EVAL_IPW = "eval_ipw"
EVAL_IPW_CLICKED = "eval_ipw_clicked"
