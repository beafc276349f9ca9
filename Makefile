# gcrm: two commands do all set-up (see README.md).
#   make run    install, prepare the demo database and start the app on :8501
#   make test   install test dependencies (Python, Chromium, PostgreSQL/PostGIS) and run every test
#   make serve  N app processes behind nginx + job workers on one database (scripts/serve.sh)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501

.PHONY: run test serve serve-stop install install-dev lint typecheck bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

install: $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m gcrm setup --no-demo

install-dev: $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m gcrm assets

run: install
	$(PY) -m gcrm setup
	$(PY) -m streamlit run app.py --server.port $(PORT) --server.headless true

serve: install
	bash scripts/serve.sh

serve-stop:
	bash scripts/serve.sh stop

test: install-dev
	bash scripts/test.sh

lint:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck:
	$(PY) -m mypy

bench:
	$(PY) benchmarks/import_bench.py

clean:
	rm -rf data/*.db data/*.db-* data/cache static/vendor .pytest_cache
