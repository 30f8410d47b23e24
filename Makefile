# The two README commands: `make demo` and `make test`.  Both work on a fresh machine:
# they create the venv, install the package, and (test) the pgTAP extension and pg_prove.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: demo test test-deps pgtap pytest bench lint clean venv

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(VENV)/bin/campaigndb demo

test: venv test-deps pgtap pytest

test-deps:
	bash scripts/install-test-deps.sh

pgtap: venv
	$(PY) scripts/run_pgtap.py

# The whole suite, then the integration and concurrency suites again through PgBouncer
# (transaction pooling, a throwaway pgbouncer on loopback; tests/python/conftest.py).  Both
# passes always run; the target fails if either did.
pytest: venv
	$(PY) -m pytest $(PYTEST_ARGS); direct=$$?; \
	CAMPAIGNDB_TEST_PGBOUNCER=1 $(PY) -m pytest tests/python/integration \
	    tests/python/concurrency $(PYTEST_ARGS); \
	bounced=$$?; test $$direct -eq 0 && test $$bounced -eq 0

bench: venv
	$(PY) benchmarks/bench.py

lint: venv
	$(VENV)/bin/ruff check client tests/python benchmarks scripts migrations
	$(VENV)/bin/mypy

clean:
	-$(VENV)/bin/campaigndb db down --name test --destroy
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
