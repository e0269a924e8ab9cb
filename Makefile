# Template entry points. Both create their virtual environments themselves.
# Python >= 3.12 is needed; override with `make test PYTHON=/path/to/python3.12`.
PYTHON ?= python3.12
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR := build/demo
# The default project_slug in cookiecutter.json (checked by tests/test_bake.py).
DEMO_SLUG := schools-analysis

.PHONY: demo test test-fast bench lock clean

demo: $(STAMP)  ## bake the default project and run its whole pipeline to HTML
	$(BIN)/cookiecutter --no-input --overwrite-if-exists --output-dir $(DEMO_DIR) .
	$(MAKE) -C $(DEMO_DIR)/$(DEMO_SLUG) run PYTHON=$(PYTHON)
	@echo "Open $(DEMO_DIR)/$(DEMO_SLUG)/reports/index.html"

test: $(STAMP)  ## every template test, including a full bake-build-run of the default project
	$(BIN)/python -m pytest

bench: $(STAMP)  ## `make demo` from a fresh clone, set-up against pipeline time (benchmarks/demo.py; minutes)
	$(BIN)/python benchmarks/demo.py --python $(PYTHON)

test-fast: $(STAMP)  ## the template tests that take seconds
	$(BIN)/python -m pytest -m "not slow"

# The generated project's uv.lock, resolved in a bake of the default project and copied back with
# the placeholder name the post-generation hook fills in. UPGRADE=1: the newest versions allowed.
LOCK_DIR := build/lock
TEMPLATE_LOCK := {{cookiecutter.project_slug}}/uv.lock
lock: $(STAMP)  ## re-resolve the generated project's uv.lock after a change to its pyproject.toml (UPGRADE=1: newest versions)
	rm -rf $(LOCK_DIR)
	$(BIN)/cookiecutter --no-input --output-dir $(LOCK_DIR) . init_git=no
	cd $(LOCK_DIR)/$(DEMO_SLUG) && UV_PYTHON_DOWNLOADS=never $(CURDIR)/$(BIN)/uv lock $(if $(UPGRADE),--upgrade) --python $(PYTHON)
	sed 's/^name = "$(DEMO_SLUG)"$$/name = "{{ cookiecutter.project_slug }}"/' $(LOCK_DIR)/$(DEMO_SLUG)/uv.lock > '$(TEMPLATE_LOCK)'

$(STAMP): requirements-dev.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 12), "Python >= 3.12 needed: make PYTHON=/path/to/python3.12"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

clean:
	rm -rf build
