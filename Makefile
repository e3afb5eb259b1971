# The two commands of README.md. Both set everything up from nothing.
PY      ?= python3
VENV    ?= .venv
BIN      = $(VENV)/bin
SPEC    ?= examples/unet_cine.bspec

.PHONY: demo test test-fast test-slow test-timm lint fuzz bench clean

$(BIN)/blockspec: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# the CPU build of torch (on this machine's disk); a range in pyproject admits any later one
	$(BIN)/pip install -q "torch==2.13.0" || $(BIN)/pip install -q "torch>=2.4"
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

demo: $(BIN)/blockspec          ## compile an example spec and print its summary
	$(BIN)/blockspec check $(SPEC)
	$(BIN)/blockspec summary $(SPEC)

# tests use tiny tensors: one thread each avoids oversubscribing a small, shared machine
test: export OMP_NUM_THREADS = 1
test: $(BIN)/blockspec          ## the whole suite: fast tests, then the slow ones
	$(BIN)/python -m pytest -q -m "not slow" -p no:cacheprovider
	$(BIN)/python -m pytest -q -m slow -p no:cacheprovider || [ $$? -eq 5 ]  # 5: no slow tests

# timm needs torchvision, which does not load beside the CPU torch 2.13.0 build: a second venv
# with torch 2.14.1 + torchvision 0.29.1 (a large install, built once) runs the timm tests
TIMM_VENV ?= .venv-timm
$(TIMM_VENV)/bin/timm-ready: pyproject.toml
	$(PY) -m venv $(TIMM_VENV)
	$(TIMM_VENV)/bin/pip install -q --upgrade pip
	$(TIMM_VENV)/bin/pip install -q "torch==2.14.1" "torchvision==0.29.1"
	$(TIMM_VENV)/bin/pip install -q timm -e '.[dev]'
	touch $@

test-timm: export OMP_NUM_THREADS = 1
test-timm: $(TIMM_VENV)/bin/timm-ready  ## the timm equality tests, in their own venv
	$(TIMM_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/interop -m "not slow or slow"

lint: $(BIN)/blockspec
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

fuzz: $(BIN)/blockspec          ## a 10-minute fuzz campaign; counterexamples go to fuzz-out/
	$(BIN)/python -m blockspec.testing.fuzz --budget-seconds 600 --out fuzz-out

# every benchmark of BENCHMARKS.md, one after another (about half an hour); run it with nothing
# else on the machine. Results: benchmarks/results/*.json and bench.log. The timm rows need
# $(TIMM_VENV) (make $(TIMM_VENV)/bin/timm-ready) and are skipped without it.
RESULTS = benchmarks/results
bench: export PYTHONPATH = src
bench: $(BIN)/blockspec         ## the hand-run benchmarks of BENCHMARKS.md (not a test)
	{ uptime; \
	  $(BIN)/python benchmarks/bench_ab.py --against naive --pairs 3 --json $(RESULTS)/ab_naive.json; \
	  $(BIN)/python benchmarks/bench_ab.py --against naive --pairs 3 --checkpoint --json $(RESULTS)/ab_naive_checkpoint.json; \
	  $(BIN)/python benchmarks/bench_ab.py --against legacy --rows swin3d swin_t soanet --pairs 3 --json $(RESULTS)/ab_legacy.json; \
	  $(BIN)/python benchmarks/bench_mfu.py --json $(RESULTS)/mfu.json; \
	  $(BIN)/python benchmarks/bench_load.py --json $(RESULTS)/load.json; \
	  $(BIN)/python benchmarks/bench_parser.py cells; \
	  $(BIN)/python benchmarks/bench_ops.py; \
	  if [ -f $(TIMM_VENV)/bin/timm-ready ]; then \
	    $(TIMM_VENV)/bin/python benchmarks/bench_timm.py --threads 2 --pairs 5 --json $(RESULTS)/timm_ab.json; \
	  else echo "timm rows skipped: no $(TIMM_VENV)"; fi; \
	  uptime; } 2>&1 | grep --line-buffered -v '^USDT:' | tee $(RESULTS)/bench.log

clean:
	rm -rf $(VENV) $(TIMM_VENV) .pytest_cache .hypothesis fuzz-out
