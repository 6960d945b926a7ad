# archlab: `make reproduce` regenerates every figure and table, `make test` checks everything.
# Both create the virtual environment .venv first when it is missing or older than pyproject.toml.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Paper notebooks first, the overview last: it collects their verdicts.
NOTEBOOKS := $(sort $(filter-out notebooks/00_overview.ipynb,$(wildcard notebooks/*.ipynb))) notebooks/00_overview.ipynb
PROFILE ?=
OFFLINE ?= ../shared/data
RUN_ARGS := $(if $(PROFILE),-p profile $(PROFILE),)

.PHONY: reproduce test test-fast bench lab data clean strip help

help:
	@echo "make reproduce   run every notebook headless into results/ (PROFILE=smoke|cpu|gpu|paper, default auto)"
	@echo "make test        unit tests + every notebook in the smoke profile (what CI runs)"
	@echo "make bench       speed benchmarks -> results/bench/bench.json"
	@echo "make lab         JupyterLab on notebooks/"
	@echo "make data        copy offline dataset copies from OFFLINE=$(OFFLINE) into data/"
	@echo "make clean       remove caches and executed notebooks (keeps .venv, data/ and results)"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@# strip notebook outputs on commit (keeps cell tags such as `parameters`); only inside a git checkout
	@git rev-parse --git-dir >/dev/null 2>&1 && $(VENV)/bin/nbstripout --install --keep-id || true
	@touch $(STAMP)

reproduce: $(STAMP)
	$(PY) -m archlab.run $(NOTEBOOKS) $(RUN_ARGS)

# Tests write into a throw-away results folder so committed results are never touched.
test: $(STAMP)
	@tmp=$$(mktemp -d) && ARCHLAB_PROFILE=smoke ARCHLAB_RESULTS=$$tmp ARCHLAB_HEADLESS=1 MPLBACKEND=Agg \
		$(PY) -m pytest -p no:cacheprovider tests notebooks --nbval-lax; rc=$$?; rm -rf $$tmp; exit $$rc

test-fast: $(STAMP)
	ARCHLAB_PROFILE=smoke ARCHLAB_RESULTS=$$(mktemp -d) $(PY) -m pytest -p no:cacheprovider -m "not slow" tests

bench: $(STAMP)
	$(PY) -m bench $(if $(BENCH_SIZE),--size $(BENCH_SIZE),)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

# The offline copies (see README): MNIST in torchvision's raw layout, CIFAR-10 as an image-folder tree.
data:
	@test -d $(OFFLINE) || { echo "no offline copies at OFFLINE=$(OFFLINE)"; exit 2; }
	mkdir -p data/MNIST/raw data/cifar10
	cp $(OFFLINE)/MNIST/raw/* data/MNIST/raw/
	test -d data/cifar10/train || tar -xzf $(OFFLINE)/cifar10-jpeg.tar.gz -C data/cifar10

strip: $(STAMP)
	$(VENV)/bin/nbstripout --keep-id notebooks/*.ipynb

clean:
	rm -rf .pytest_cache lib/*.egg-info data/.archlab-cache results/*/*.ipynb
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +
