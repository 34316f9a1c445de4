# The two set-up commands: `make run` (demo, no services needed) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

.PHONY: run test bench lint format check-services migrate

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# Demo: SQLite + the embedded filesystem broker unless DATABASE_URL / REDIS_URL are set.
run: export DEBUG ?= true
run: $(BIN)/.installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo "Panel: http://127.0.0.1:$(PORT)/   admin: http://127.0.0.1:$(PORT)/admin/   (Ctrl-C stops everything)"
	PATH="$(CURDIR)/$(BIN):$$PATH" exec $(BIN)/honcho -f Procfile.dev start

check-services:
	@$(BIN)/python scripts/check_services.py

test: $(BIN)/.installed check-services
	$(BIN)/pytest -q

bench: $(BIN)/.installed check-services
	$(BIN)/python bench/run.py

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
