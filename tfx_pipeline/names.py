"""Names owned by the pipeline.

TFMA example weights written on the evaluation impressions by the WinPropensity component (never
model features): clipped 1/p_win, and click * that weight for CVR on clicks.
"""

EVAL_IPW = "eval_ipw"
EVAL_IPW_CLICKED = "eval_ipw_clicked"

# WinPropensity writes, beside every request of split S (Split-S), its won requests (Split-S_won):
# Transform analyses the requests of "train" and transforms the won splits, which the Trainer reads.
WON_SPLIT_SUFFIX = "_won"
TRAIN_SPLIT, EVAL_SPLIT = "train", "eval"
TRAIN_WON_SPLIT, EVAL_WON_SPLIT = TRAIN_SPLIT + WON_SPLIT_SUFFIX, EVAL_SPLIT + WON_SPLIT_SUFFIX

# Keys of the JSON the WinPropensity component hands the Trainer as its HyperParameters artifact.
TRAINER_WIN_MODEL_KEY = "win_model"  # the fitted win model's to_dict()
EXAMPLE_COUNTS_KEY = "example_counts"  # {split: {"requests": n, "won": m}}, counted while scoring
