# Two commands do everything on a fresh machine with Python 3:
#   make demo   set up, fetch MNIST, train + evaluate the article's model (the `seed` preset), write the figure
#   make test   set up and run the test suite (browser tests use the system's `chromium` when it is installed)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN ?= runs/seed-$(shell date +%Y%m%d-%H%M%S)

.PHONY: demo test setup bench clean
demo: $(VENV)/.installed
	$(BIN)/aekit train --preset seed --out $(RUN)

test: $(VENV)/.installed
	$(BIN)/lint-imports --no-cache
	$(BIN)/python tools/long_functions.py
	$(BIN)/python -m pytest -q

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test,serve,tensorboard]'
	touch $@

# The Keras comparison needs TensorFlow (the `bench` extra, about 1 GB); not needed by the demo or the tests.
bench: $(VENV)/.installed
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test,bench]'
	$(BIN)/python benchmarks/seed.py

clean:
	rm -rf $(VENV) build *.egg-info
