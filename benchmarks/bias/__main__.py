"""`python -m benchmarks.bias --scenario observables --out DIR`: the same as `mtl-ads benchmark bias`."""
import sys

from mtl_keras.cli import main

if __name__ == "__main__":
    sys.exit(main(["benchmark", "bias", *sys.argv[1:]]))
