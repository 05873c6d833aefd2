# The two commands of the README: `make demo` and `make test`. Both set up .venv when needed.
VENV := .venv
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: test demo lock install clean architecture notebooks image
install: $(STAMP)

$(STAMP): requirements/lock.txt setup.py tools/bootstrap.sh
	bash tools/bootstrap.sh
	touch $@

test: $(STAMP)
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

demo: $(STAMP)
	$(VENV)/bin/mtl-ads demo

# Recompiles the pinned lock from requirements/main.in (needs the registry; uv resolves in seconds).
lock:
	$(VENV)/bin/uv pip compile requirements/main.in --python-version 3.10 -o requirements/lock.txt

# Regenerates the dependency diagram in docs/architecture.md from the imports (tests check it).
architecture:
	$(VENV)/bin/python tools/architecture.py --write

# The Vertex AI image (Dockerfile: the pinned lock plus this package); push it and pass it to
# `mtl-ads pipeline compile-vertex --image`. IMAGE=gcr.io/PROJECT/mtl-ads:TAG make image
IMAGE ?= mtl-ads:latest
image:
	docker build -t $(IMAGE) .

# Executes the notebooks and writes readable HTML copies (outputs and plots) to docs/notebooks/.
notebooks: $(STAMP)
	$(VENV)/bin/python tools/publish_notebooks.py

clean:
	rm -rf $(VENV) build *.egg-info
