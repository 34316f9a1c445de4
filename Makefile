# The two set-up commands: `make run` (demo, no services needed) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

.PHONY: run test bench bench-scale lint format check-services migrate soak messages

# Translations (README "Languages"): each locale/<lang>/LC_MESSAGES/django.po is compiled to its .mo
# by gettext's msgfmt (checking placeholders) whenever the .po is newer; `make messages` gathers new
# strings from the code into every catalogue.
LOCALES := ru es pt_BR tr ar hi id
MO := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/django.po))

%.mo: %.po
	msgfmt --check-format --check-header -o $@ $<

messages: $(BIN)/.installed
	$(BIN)/python scripts/make_messages.py $(LOCALES)

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# Demo: SQLite + the embedded filesystem broker unless DATABASE_URL / REDIS_URL are set; the
# upstream provider is our simulator on SIM_PORT (8081).
run: export DEBUG ?= true
run: export ORDER_POLL_MIN_SECONDS ?= 5
run: $(BIN)/.installed $(MO)
	./scripts/run_demo.sh

check-services:
	@$(BIN)/python scripts/check_services.py

# Split over two processes (pytest-xdist; each has its own test database, Redis database and var
# directory): TEST_WORKERS=1 runs everything in one process.
TEST_WORKERS ?= 2
test: $(BIN)/.installed $(MO) check-services
	$(BIN)/pytest -q $(if $(filter-out 0 1,$(TEST_WORKERS)),-n $(TEST_WORKERS))

# Every benchmark; BENCH_ORDERS=10000000 for the full scale benchmark (seeded once, kept),
# BENCH_ONLY=scale to run only the benchmarks whose title has that word.
bench: $(BIN)/.installed check-services
	$(BIN)/python bench/run.py

bench-scale: $(BIN)/.installed check-services
	BENCH_ONLY=scale $(BIN)/python bench/run.py

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(BIN)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Load and chaos against a real local stack (gunicorn, 2 Celery workers, beat, PostgreSQL, a
# Redis of its own, the simulator with faults); about 5 minutes; not part of `make test`.
soak: $(BIN)/.installed check-services
	$(BIN)/python scripts/soak.py
