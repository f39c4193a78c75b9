# The commands of the README. Each sets everything up on a fresh machine.
#   make demo       a sample problem answered greedily and by weighted best-of-16, side by side
#   make test       the test suite without vLLM (<= 5 minutes on 2 cores): both tiers,
#                   tests/unit (pure logic, every strategy's graph on a scripted policy) and
#                   tests/integration (the embedded model, Python processes, servers, the browser)
#   make test-vllm  the real-vLLM tests, tests/integration/vllm (marker vllm); scripts/setup-vllm.sh
#                   makes .venv-vllm first (once, ~10 min and 3.7 GB). CI (.ci/run) runs both.
# For developers:
#   make test-fast  the unit tier alone, tests/unit: no model, no Python process (<= 60 s);
#                   tests/conftest.py fails a unit test that loads weights or starts Python
.PHONY: demo test test-vllm test-fast lint bench setup figures

QUESTION ?= Tom has 12 apples and buys 30 more. How many apples does he have now?

demo:
	@scripts/setup.sh
	.venv/bin/ttc-graph solve "$(QUESTION)" --strategy weighted --n 16 --max-new-tokens 64 --seed 0 --compare

PYTEST = .venv/bin/python -m pytest -q -n auto --dist loadscope --durations=25

test:
	@scripts/setup.sh dev
	@scripts/install-test-deps.sh
	$(PYTEST) -m "not vllm" tests/unit tests/integration

test-vllm:
	@scripts/setup.sh dev
	@scripts/setup-vllm.sh
	$(PYTEST) -m vllm tests/integration/vllm

test-fast:
	@scripts/setup.sh dev
	.venv/bin/python -m pytest -q tests/unit

lint:
	@scripts/setup.sh dev
	.venv/bin/ruff check ttc_graph tests examples benchmarks scripts
	.venv/bin/ruff format --check ttc_graph tests examples benchmarks scripts
	.venv/bin/mypy

bench:
	@scripts/setup.sh dev
	.venv/bin/python benchmarks/run.py

# Every generated table of README.md and docs/, from the specs and committed raw results.
figures:
	@scripts/setup.sh dev
	.venv/bin/python scripts/figures.py
