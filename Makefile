# Front door: `make notebooks` (set up, execute, export HTML), `make test`, `make lab`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
EVCXR_VERSION := 0.22.0
CARGO_BIN := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin
SITE := target/site

# The Rust kernel is registered inside the venv, never globally; evcxr keeps its build folder
# under target/ so a second run reuses compiled dependencies, and builds them optimised
# (scripts/kernel_env.py writes both into the kernelspec, for every way of starting the kernel).
export JUPYTER_PATH := $(CURDIR)/$(VENV)/share/jupyter
EVCXR_ROOT := $(CURDIR)/target/evcxr
export EVCXR_TMPDIR := $(EVCXR_ROOT)/build
export PATH := $(CARGO_BIN):$(PATH)

.PHONY: notebooks test lab setup kernel cargo-test lint bench bench-step bench-load bench-peers readme-tables memory-study golden keras-reference

## Execute every notebook, write the outputs back, export HTML into target/site/.
notebooks: setup
	$(VENV_PY) scripts/run_notebooks.py --write --site $(SITE)
	$(VENV_PY) scripts/check_pages.py $(SITE)

## cargo test, then execute every notebook (committed files untouched), export HTML.
test: cargo-test setup
	$(VENV_PY) scripts/check_runner.py
	$(VENV_PY) scripts/run_notebooks.py --site $(SITE)
	$(VENV_PY) scripts/check_pages.py $(SITE)

## The tutorial's workloads and the throughput table (see the README).
bench:
	cargo run --release -p lstm-core --example tutorial_benchmarks

## Ours, then PyTorch (CPU) and Keras on the same data and sizes, one after another on this
## machine; prints the side-by-side table and writes target/bench-peers.json. Not in CI: the
## peers' venv (target/peers) is about 7 GB.
PEERS := target/peers
bench-peers: $(PEERS)/.installed
	cargo run --release -q -p lstm-core --example tutorial_benchmarks -- --json target/bench.json --export-data target/bench-data
	$(PEERS)/bin/python scripts/bench_peers.py --data target/bench-data --ours target/bench.json --json target/bench-peers.json

$(PEERS)/.installed: scripts/requirements-peers.txt $(PEERS)/.keras
	$(PEERS)/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/requirements-peers.txt
	touch $@

# TensorFlow (CPU) and Keras alone, about 1 GB: all that `golden` and `keras-reference` need.
$(PEERS)/.keras: scripts/keras/requirements.txt
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/keras/requirements.txt
	touch $@

## Rewrite lstm-core/tests/golden/ from Keras (scripts/keras/golden.py; a case is one line of
## its CASES). On an unchanged tree the files come out byte for byte the same.
golden: $(PEERS)/.keras
	$(PEERS)/bin/python scripts/keras/golden.py

## Train the tutorial's Keras models on the notebooks' own data, seed by seed, and rewrite
## data/keras_reference.json, which the notebooks compare with (about 15 minutes on 2 cores).
## On the same machine only the fit_seconds values change.
keras-reference: $(PEERS)/.keras
	cargo run --release -q -p lstm-core --example keras_tasks -- target/keras-tasks.json
	$(PEERS)/bin/python scripts/keras/tutorial.py target/keras-tasks.json data/keras_reference.json

## Run `bench-peers` and rewrite the README's speed tables from that one run.
readme-tables: bench-peers
	$(PYTHON) scripts/readme_tables.py target/bench-peers.json README.md

## The memory study of notebook 14 (every layer trained to a plateau, rates chosen on validation
## data, five seeds, two budgets): rewrites data/memory_study.json; about an hour on two cores.
memory-study:
	cargo run --release -p lstm-core --example memory_study -- data/memory_study.json

## load_csv on a 2-million-row CSV, with and without empty values: rows per second, peak memory.
bench-load:
	cargo run --release -q -p lstm-core --features polars --example loading -- --json target/bench-load.json

## Criterion benches of the LSTM layer's forward and backward pass and of a training step.
bench-step:
	cargo bench -p lstm-core --bench lstm_step

## JupyterLab on notebooks/ with the Rust kernel.
lab: setup
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

## Tests with every feature, then without polars (the build most users of the crate get).
cargo-test:
	cargo test --workspace --all-features
	cargo test --workspace --lib --tests

## Formatting (the crate, and the notebooks' code cells: scripts/format_notebooks.py), clippy with and without polars, and of the engine alone (no default features) (clippy's incompatible_msrv lint checks std APIs
## against the declared rust-version), and the docs with warnings denied.
lint:
	cargo fmt --all -- --check
	$(PYTHON) scripts/format_notebooks.py --check
	cargo clippy --workspace --all-targets --all-features -- -D warnings
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p lstm-core --lib --no-default-features -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --all-features --no-deps

setup: $(VENV)/.installed kernel

$(VENV)/.installed: requirements-notebooks.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --quiet --disable-pip-version-check -r requirements-notebooks.txt
	touch $@

kernel: $(VENV)/.installed
	@if ! cargo install --list | grep -q '^evcxr_jupyter v$(EVCXR_VERSION):'; then \
		echo "Installing evcxr_jupyter $(EVCXR_VERSION), the Rust kernel, once: about 11 minutes on 2 cores."; \
		echo "cargo names each of its ~270 crates as it compiles them; the longest are rust-analyzer's (ra_ap_*), which evcxr runs to infer each variable's type."; \
		started=$$(date +%s); \
		cargo install --locked evcxr_jupyter --version $(EVCXR_VERSION) || exit 1; \
		took=$$(( $$(date +%s) - started )); \
		echo "evcxr_jupyter installed in $$(( took / 60 )) min $$(( took % 60 )) s"; \
	fi
	@evcxr_jupyter --install >/dev/null
	@test -f $(VENV)/share/jupyter/kernels/rust/kernel.json || { echo "rust kernelspec missing in $(VENV)"; exit 1; }
	@$(VENV_PY) scripts/kernel_env.py $(VENV)/share/jupyter/kernels/rust/kernel.json $(EVCXR_ROOT)
