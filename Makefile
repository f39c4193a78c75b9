# The two commands of the README. Each sets everything up on a fresh machine.
#   make demo   a sample problem answered greedily and by weighted best-of-16, side by side
#   make test   run the test suite (every tier), including real vLLM (scripts/setup-vllm.sh
#               makes .venv-vllm once, ~10 min and 3.7 GB); make test VLLM=0 skips those tests
# For developers:
#   make test-fast   the tests that load no model and start no Python process (<= 60 s):
#                    pytest -m "not model and not subprocess and not slow"; see tests/conftest.py
.PHONY: demo test test-fast lint bench setup figures

QUESTION ?= Tom has 12 apples and buys 30 more. How many apples does he have now?

demo:
	@scripts/setup.sh
	.venv/bin/ttc-graph solve "$(QUESTION)" --strategy weighted --n 16 --max-new-tokens 64 --seed 0 --compare

VLLM ?= 1

test:
	@scripts/setup.sh dev
	@scripts/install-test-deps.sh
ifeq ($(VLLM),0)
	TTC_GRAPH_SKIP_VLLM=1 .venv/bin/python -m pytest -q -n auto --dist loadscope --durations=25
else
	@scripts/setup-vllm.sh
	.venv/bin/python -m pytest -q -n auto --dist loadscope --durations=25
endif

FAST = not model and not subprocess and not slow

test-fast:
	@scripts/setup.sh dev
	.venv/bin/python -m pytest -q -m "$(FAST)"

lint:
	@scripts/setup.sh dev
	.venv/bin/ruff check ttc_graph tests examples benchmarks
	.venv/bin/mypy

bench:
	@scripts/setup.sh dev
	.venv/bin/python benchmarks/run.py

# Every generated table of README.md and docs/, from the specs and committed raw results.
figures:
	@scripts/setup.sh dev
	.venv/bin/python scripts/figures.py
