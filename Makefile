# archlab: `make figures` renders every figure and table from the reference runs (trains nothing), `make reproduce`
# retrains them and reports whether the verdicts agree, `make test` checks everything.
# Both create the virtual environment .venv first when it is missing or older than pyproject.toml.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Paper notebooks first, the overview last: it collects their verdicts.
NOTEBOOKS := $(sort $(filter-out notebooks/00_overview.ipynb,$(wildcard notebooks/*.ipynb))) notebooks/00_overview.ipynb
PROFILE ?=
OFFLINE ?=
RUN_ARGS := $(if $(PROFILE),-p profile $(PROFILE),)
# The profile whose reference runs `make figures` renders and `make reference` exports (results/reference/<profile>/).
REF_PROFILE := $(or $(PROFILE),cpu)

.PHONY: reproduce figures reference report test test-fast bench lab data clean strip help site test-browser

help:
	@echo "make figures     re-render every notebook into results/ from the reference runs; trains nothing (PROFILE=cpu)"
	@echo "make reproduce   retrain every notebook headless into results/ (PROFILE=smoke|cpu|gpu|paper, default auto),"
	@echo "                 then the reproduction report against the reference -> results/00_overview/reproduction.csv"
	@echo "make reference   export results/ (after make reproduce) as the reference runs of PROFILE (default cpu)"
	@echo "make test        unit tests + every notebook in the smoke profile (what CI runs)"
	@echo "make test-browser  every notebook in JupyterLab + the site, in headless Chromium (CI runs it after make test)"
	@echo "make site        static HTML book of the executed notebooks in results/ -> docs/_build/site/_build/html (SITE_RESULTS=dir)"
	@echo "make bench       speed benchmarks -> results/bench/bench.json"
	@echo "make lab         JupyterLab on notebooks/ (served from the repository root: the methods-note links open)"
	@echo "make data        copy offline dataset copies into data/ (OFFLINE=/path/to/copies)"
	@echo "make clean       remove caches, the built site and the reference runs' SQLite copies (keeps .venv, data/, results/)"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@# strip source notebooks' outputs on commit (keeps cell tags such as `parameters` and cell ids); only inside a git
	@# checkout. Which files are filtered is in the committed .gitattributes (executed copies under results/ keep their
	@# outputs). An older install's lines in .git/info/attributes outrank .gitattributes and would strip results/ too, so
	@# uninstall removes them first; `--install` records no flags, so the clean command is set with --keep-id here.
	@git rev-parse --git-dir >/dev/null 2>&1 && { $(VENV)/bin/nbstripout --uninstall; \
		$(VENV)/bin/nbstripout --install --attributes .gitattributes && \
		git config filter.nbstripout.clean '"$(CURDIR)/$(PY)" -m nbstripout --keep-id'; } || true
	@touch $(STAMP)

# Retrains into results/runs.sqlite (its own store: headless runs never read the reference), then compares.
reproduce: $(STAMP)
	$(PY) -m archlab.run $(NOTEBOOKS) $(RUN_ARGS)
	$(PY) -m archlab.reference report $(if $(PROFILE),--profile $(PROFILE),)

report: $(STAMP)
	$(PY) -m archlab.reference report $(if $(PROFILE),--profile $(PROFILE),)

# Renders from results/reference/$(REF_PROFILE)/ in a throw-away store with training forbidden: no data needed.
figures: $(STAMP)
	$(PY) -m archlab.reference figures $(NOTEBOOKS) --profile $(REF_PROFILE)

# Replaces results/reference/$(REF_PROFILE)/ with the runs and claims of results/ (run after make reproduce).
reference: $(STAMP)
	$(PY) -m archlab.reference export --profile $(REF_PROFILE)

# Tests write into a throw-away results folder so committed results are never touched.
test: $(STAMP)
	@tmp=$$(mktemp -d) && ARCHLAB_PROFILE=smoke ARCHLAB_RESULTS=$$tmp ARCHLAB_HEADLESS=1 MPLBACKEND=Agg \
		$(PY) -m pytest -p no:cacheprovider tests notebooks --nbval-lax; rc=$$?; rm -rf $$tmp; exit $$rc

# The browser tests and the site need the `browser` and `site` extras (installed once, like .venv itself).
EXTRAS := $(VENV)/.installed-browser-site
$(EXTRAS): $(STAMP) pyproject.toml
	$(PY) -m pip install --quiet -e ".[dev,browser,site]"
	@touch $(EXTRAS)

# JupyterLab on a temp copy of notebooks/ and the site built from SITE_RESULTS (default results/, read only), both in
# Debian's headless Chromium (apt-get install -y chromium; never `playwright install`). Screenshots and Run All times:
# tests/browser/artifacts/.
test-browser: $(EXTRAS)
	@test -x /usr/bin/chromium || { echo "the browser tests need /usr/bin/chromium: apt-get install -y chromium"; exit 2; }
	$(if $(SITE_RESULTS),SITE_RESULTS=$(SITE_RESULTS) ,)$(PY) -m pytest -p no:cacheprovider -m browser tests/browser

# The static book of what `make reproduce` left in results/ (or SITE_RESULTS=dir); executes nothing.
site: $(EXTRAS)
	$(if $(SITE_RESULTS),SITE_RESULTS=$(SITE_RESULTS) ,)$(PY) docs/build_site.py

test-fast: $(STAMP)
	ARCHLAB_PROFILE=smoke ARCHLAB_RESULTS=$$(mktemp -d) $(PY) -m pytest -p no:cacheprovider -m "not slow" tests

bench: $(STAMP)
	$(PY) -m bench $(if $(BENCH_SIZE),--size $(BENCH_SIZE),)

# Served from the repository root and opened on notebooks/, so the notebooks' links to the methods notes
# (../docs/papers/*.md) open in Lab (a server rooted at notebooks/ cannot reach them).
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks

# The offline copies (see README): MNIST in torchvision's raw layout, CIFAR-10 as an image-folder tree.
data:
	@test -n "$(OFFLINE)" || { echo "make data needs OFFLINE=/path/to/copies: a folder with MNIST/raw/* and cifar10-jpeg.tar.gz (see README, Data)"; exit 2; }
	@test -d "$(OFFLINE)" || { echo "no folder at OFFLINE=$(OFFLINE); it should hold MNIST/raw/* and cifar10-jpeg.tar.gz (see README, Data)"; exit 2; }
	mkdir -p data/MNIST/raw data/cifar10
	cp $(OFFLINE)/MNIST/raw/* data/MNIST/raw/
	test -d data/cifar10/train || tar -xzf $(OFFLINE)/cifar10-jpeg.tar.gz -C data/cifar10

strip: $(STAMP)
	$(VENV)/bin/nbstripout --keep-id notebooks/*.ipynb

clean:
	rm -rf .pytest_cache lib/*.egg-info data/.archlab-cache docs/_build tests/browser/artifacts results/reference/*/runs.sqlite*
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +
