# The two commands a newcomer needs: `make run` (demo on http://127.0.0.1:8000) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py

.PHONY: run test install migrate demo demo-reset lint clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("Python 3.12+ is required (found %s); set PYTHON to a 3.12 interpreter, e.g. make run PYTHON=python3.12, or with pyenv make run PYTHON=\"$$(PYENV_VERSION=3.12.1 pyenv which python)\" (README: This machine'"'"'s python3 is 3.11?)" % sys.version.split()[0]) if sys.version_info < (3, 12) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet ".[dev]"
	touch $@

install: $(VENV)/.installed

migrate: install
	$(MANAGE) migrate --noinput

# demo_load creates the roles the database lacks, and loads the demo once (a second run keeps it as it was left; demo-reset puts it
# back), its dates moved up to now before the scheduler starts: else its first tick would auto-close
# the demo's resolved tickets.
demo: migrate
	$(MANAGE) demo_load
	$(MANAGE) collectstatic --noinput --verbosity 0

demo-reset: migrate
	$(MANAGE) demo_load --reset

# The worker runs background tasks and the scheduler enqueues the periodic ones (auto-close of
# resolved tickets, ...); the recipe stops both when the server stops.
run: demo
	$(MANAGE) db_worker --no-reload & worker=$$!; $(MANAGE) scheduler --verbosity 0 & scheduler=$$!; \
	trap 'kill $$worker $$scheduler 2>/dev/null' EXIT INT TERM; $(MANAGE) runserver 127.0.0.1:8000

test: install
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(MANAGE) makemigrations --check --dry-run

clean:
	rm -rf $(VENV) staticfiles .pytest_cache build *.egg-info
