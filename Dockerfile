# The container of every Vertex AI pipeline step (`mtl-ads pipeline compile-vertex --image IMAGE`),
# in the manner of the TFX template's Dockerfile: the pipeline's code and its dependencies in one
# image that the compiled PipelineJob names as each component's image. Build it with `make image`.
#
# A slim Python 3.10 with the pinned lock installed the way tools/bootstrap.sh installs it (uv at
# the lock's version, `uv pip sync requirements/lock.txt` into a virtual environment, then this
# package with --no-deps and the [all] extras), so the image runs what the tests ran, TFX 1.16
# included. The Vertex executor starts `python -m tfx.orchestration.kubeflow.v2.container...`:
# the environment's python is first on PATH.
FROM python:3.10-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_NO_CACHE=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

WORKDIR /pipeline

# The dependencies first: this layer is reused until requirements/lock.txt changes.
COPY requirements/lock.txt requirements/lock.txt
RUN python -m venv "$VIRTUAL_ENV" \
    && UV_VERSION="$(sed -n 's/^uv==//p' requirements/lock.txt)" \
    && "$VIRTUAL_ENV/bin/python" -m pip install --quiet "uv==$UV_VERSION" \
    && "$VIRTUAL_ENV/bin/uv" pip sync --quiet --python "$VIRTUAL_ENV/bin/python" requirements/lock.txt

# The package itself (mtl_keras, transform, tfx_pipeline, serving, benchmarks), installed, not
# editable: the compiled pipeline's module paths (tfx_pipeline.trainer.run_fn,
# transform.preprocessing.preprocessing_fn) import from it. Its dependencies are all in the lock.
COPY setup.py README.md ./
COPY mtl_keras mtl_keras
COPY transform transform
COPY tfx_pipeline tfx_pipeline
COPY serving serving
COPY benchmarks benchmarks
RUN "$VIRTUAL_ENV/bin/uv" pip install --quiet --python "$VIRTUAL_ENV/bin/python" --no-deps ".[all]" \
    && "$VIRTUAL_ENV/bin/python" -c "import mtl_keras, transform, tfx_pipeline.trainer, tfx"

