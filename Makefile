# The two commands: `make run` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LSVENV := .venv-localstack
# Outside material for the upload tests: Pillow's own test images (real camera files, EXIF/XMP edge
# cases, fuzzing crashers) from its source distribution on PyPI, at the pinned Pillow version.
PILLOW_VERSION := $(shell sed -n 's/^pillow==//p' requirements.txt)
CORPUS := .corpus/pillow-$(PILLOW_VERSION)
# Real HEIC/HEIF files (phones' bursts, stereo pairs, depth and auxiliary images, corrupt and truncated
# files, a 200 MP one) from pillow-heif's source distribution, at the pinned version.
HEIF_VERSION := $(shell sed -n 's/^pillow-heif==//p' requirements.txt)
HEIF_CORPUS := .corpus/pillow-heif-$(HEIF_VERSION)
PORT ?= $(or $(STREAMLIT_SERVER_PORT),8501)
# axe-core for the accessibility test (tests/test_a11y_browser.py), pinned in tests/axe/package-lock.json.
AXE := tests/axe/node_modules/axe-core/axe.min.js

.PHONY: run test lint format axe bench bench-quick screenshots corpus clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

# LocalStack (test-only) needs its own environment: its pins conflict with the app's.
$(LSVENV)/.installed: requirements-localstack.txt
	$(PYTHON) -m venv $(LSVENV)
	$(LSVENV)/bin/python -m pip install --quiet --upgrade pip
	$(LSVENV)/bin/pip install --quiet --no-deps -r requirements-localstack.txt
	touch $@

$(CORPUS)/.installed: requirements.txt | $(BIN)/python
	rm -rf $(CORPUS) && mkdir -p $(CORPUS)/sdist
	$(BIN)/pip download --quiet --no-binary :all: --no-deps pillow==$(PILLOW_VERSION) -d $(CORPUS)/sdist
	tar -xzf $(CORPUS)/sdist/pillow-$(PILLOW_VERSION).tar.gz -C $(CORPUS) --strip-components=2 \
		pillow-$(PILLOW_VERSION)/Tests/images
	rm -rf $(CORPUS)/sdist
	touch $@

$(HEIF_CORPUS)/.installed: requirements.txt | $(BIN)/python
	rm -rf $(HEIF_CORPUS) && mkdir -p $(HEIF_CORPUS)/sdist
	$(BIN)/pip download --quiet --no-binary :all: --no-deps pillow-heif==$(HEIF_VERSION) -d $(HEIF_CORPUS)/sdist
	tar -xzf $(HEIF_CORPUS)/sdist/pillow_heif-$(HEIF_VERSION).tar.gz -C $(HEIF_CORPUS) --strip-components=2 \
		pillow_heif-$(HEIF_VERSION)/tests/images
	rm -rf $(HEIF_CORPUS)/sdist
	touch $@

corpus: $(CORPUS)/.installed $(HEIF_CORPUS)/.installed

$(AXE): tests/axe/package.json tests/axe/package-lock.json
	npm ci --prefix tests/axe --no-audit --no-fund --silent
	touch $@

axe: $(AXE)

run: $(VENV)/.runtime
	$(BIN)/streamlit run app.py --server.port $(PORT)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint deploy/Dockerfile
	node --check ui/direct_upload.js   # the direct-upload component's browser side

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint $(LSVENV)/.installed $(CORPUS)/.installed $(HEIF_CORPUS)/.installed $(AXE)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Benchmarks (bench/, results in docs/benchmarks.md): full mode for the README figures, quick mode in
# a few minutes. `make bench BENCH_ARGS="--quick pages"` runs chosen topics.
bench: $(VENV)/.dev
	$(BIN)/python -m bench $(BENCH_ARGS)

bench-quick: $(VENV)/.dev
	$(BIN)/python -m bench --quick $(BENCH_ARGS)

screenshots: $(VENV)/.dev
	$(BIN)/python docs/screenshots.py $(PAGES)

test-live: $(VENV)/.dev
	R2_LIVE_TEST=1 $(BIN)/python -m pytest -v tests/test_live_r2.py

clean:
	rm -rf $(VENV) $(LSVENV) .corpus .pytest_cache .mypy_cache .ruff_cache tests/axe/node_modules
