"""mtl-ads: multi-task conversion models for online advertising on TensorFlow, Keras and TFX."""
from setuptools import find_packages, setup

# Ranges admit the tested set (requirements/lock.txt) and newer releases up to TF 2.21 / TFX 1.21.
# `pip install mtl-ads` is the model library alone (a notebook user never installs TFX);
# the extras add the pipeline and the serving side, `[all]` everything (what the lock pins).
INSTALL_REQUIRES = [
    "tensorflow>=2.16,<2.22",
    "tf-keras>=2.16,<2.22",
    "tensorflow-recommenders>=0.7.7,<0.8",
    "lifelines>=0.27,<1",
    "pandas>=1.5",
    "pyarrow>=10",
    "matplotlib>=3.5",
    "tqdm>=4.60",
]
PIPELINE = [
    "tfx>=1.16,<1.22",
    "tensorflow-transform>=1.16,<1.22",
    "tensorflow-model-analysis>=0.47,<0.53",
    "apache-beam[gcp]>=2.59,<3",
    "dill>=0.3.1",  # imported by tf.Transform/TFDV via tfx-bsl, declared by nobody
    "kfp-pipeline-spec>=0.2.2,<0.7",  # KubeflowV2DagRunner (Vertex compiler)
]
SERVING = [
    "tensorflow-serving-api>=2.16,<2.22",
    "grpcio>=1.48",
    "aiohttp>=3.9,<4",  # the REST server (serving/server/rest_server.py)
]
VERTEX = ["google-cloud-aiplatform>=1.40"]
EXTRAS = {
    "pipeline": PIPELINE,
    "serving": SERVING,
    "vertex": PIPELINE + VERTEX,
    "all": PIPELINE + SERVING + VERTEX,
    "test": ["pytest", "pytest-timeout", "nbformat", "nbclient", "ipykernel"],
}

setup(
    name="mtl-ads",
    version="0.1.0",
    description=__doc__,
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10,<3.13",
    packages=find_packages(include=["mtl_keras*", "transform*", "tfx_pipeline*", "serving*", "benchmarks*"]),
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS,
    entry_points={
        "console_scripts": ["mtl-ads = mtl_keras.cli:main"],
        # Subcommands register through this group so that mtl_keras never imports serving/TFX.
        "mtl_ads.commands": [
            "train = mtl_keras.cli.train:register",
            "simulate = mtl_keras.simulation.cli:register",
            "propensity = mtl_keras.propensity.cli:register",
            "calibrate = mtl_keras.calibration.cli:register",
            "benchmark = benchmarks.bias.cli:register",
            "serve = serving.cli:register_serve",
            "predict = serving.cli:register_predict",
            "pipeline = tfx_pipeline.cli:register",
            "demo = tfx_pipeline.cli:register_demo",
        ],
    },
)
