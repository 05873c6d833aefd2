"""The debiasing benchmark, the same code as `mtl-ads benchmark bias`:

    python benchmarks/bias.py --requests 100000 --seeds 3 --backbone mmoe --out results/bias_mmoe
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mtl_keras.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["benchmark", "bias", *sys.argv[1:]]))
