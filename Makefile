# Two commands on a fresh clone: `make demo` (the example DAG against the local emulator, no key
# needed) and `make test` (the whole suite). Each creates the virtualenv when it is missing.

PYTHON ?= python3
# Bytecode is written and reused: uv installs none, and with PYTHONDONTWRITEBYTECODE set (some
# images set it) every Python process (each test worker, Airflow component, CLI call and task)
# compiled every module it imported from source again, about a fifth of a DAG run's CPU.
unexport PYTHONDONTWRITEBYTECODE
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-test
# Parallel test workers (pytest-xdist), each with its own Airflow home, database, servers and
# ports. More than the cores: much of the suite waits (on DAG runs, a deployment, render times).
TEST_WORKERS ?= 3

.PHONY: demo demo-real test test-long mutation lint bench bench-quick clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip uv
	# uv, not pip, resolves the test set: beside moto and the s3 extra (whose s3fs must match an
	# aiobotocore that lags botocore) pip backtracks for many minutes, uv takes seconds. It compiles
	# the bytecode too, on every core: else the first suite's workers and the Airflow processes they
	# start compile the same modules side by side (docs/testing.md has the figures).
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) scripts/demo.py

demo-real: $(STAMP)
	$(PY) scripts/demo_real.py

# --dist loadgroup: the tests of a group (tests/conftest.py) run on one worker, one after the other.
test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup --durations=15

test-long: $(STAMP)
	ONEMIN_LONG_TESTS=1 $(PY) -m pytest -m long

# Mutation testing of the paid path (docs/testing.md): long, not in CI. The modules and tests it
# uses are in pyproject.toml, [tool.mutmut]; MUTMUT_CHILDREN sets how many mutants run at once.
MUTMUT_CHILDREN ?= 1
mutation: $(STAMP)
	$(VENV)/bin/uv pip install --quiet --python $(PY) 'mutmut==3.8.1'
	$(VENV)/bin/mutmut run --max-children $(MUTMUT_CHILDREN)
	$(VENV)/bin/mutmut results

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(STAMP)
	$(VENV)/bin/uv pip install --quiet --python $(PY) -e '.[test,bench]'
	$(PY) benchmarks/run.py

bench-quick: $(STAMP)
	$(VENV)/bin/uv pip install --quiet --python $(PY) -e '.[test,bench]'
	$(PY) benchmarks/run.py --quick

clean:
	rm -rf out .demo-airflow .pytest_cache .ruff_cache .hypothesis mutants
