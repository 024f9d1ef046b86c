# ChildPact Messenger: `make run` and `make test` set up everything they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install run test catalogs model extract lint bench mutation clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

catalogs: install
	$(BIN)/pybabel compile --domain messages --directory locales --statistics 2>&1 | grep -v "^compiling" || true
	$(BIN)/pybabel compile --domain admin --directory locales --statistics 2>&1 | grep -v "^compiling" || true

# The safeguarding model, trained once from its corpus and kept in a cache named after it, so
# that neither the service nor the tests' many processes wait for it at start.
model: install
	$(BIN)/childpact knowledge train

run: catalogs model
	$(BIN)/childpact serve

# Four workers on two cores: most tests wait on fakes, limits and processes, not on the CPU.
test: catalogs model
	$(BIN)/python -m pytest -n 4

# The code's style, and who may import whom (the contracts in pyproject.toml).
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# After changing any text, the members' or the dashboard's: refresh both domains' templates
# and every catalog.
extract: install
	$(BIN)/childpact catalogs extract

# Mutation testing of the core modules (docs/mutation.md); not in CI: it takes a while.
# `make mutation MODULE=bot/conversation/engine.py` for one module; WORKERS=1 or 2;
# SURVIVORS=1 runs only the last session's survivors again, against the tests as they are now.
MODULE ?=
WORKERS ?= 2
mutation: catalogs model
	$(BIN)/python -m pip install --quiet -e '.[test,mutation]'
	$(BIN)/python -m mutation --workers $(WORKERS) $(if $(MODULE),--module $(MODULE)) $(if $(SURVIVORS),--survivors)

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache
