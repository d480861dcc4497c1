#!/usr/bin/env python3
"""Gives the registered `rust` kernelspec the environment the notebooks need, so that every way
of starting the kernel (make notebooks, make lab, a user's own Jupyter pointed at .venv) builds
lstm-core the same way:

* EVCXR_TMPDIR: evcxr's build folder under target/, so compiled dependencies are reused;
* the build settings in target/evcxr/.cargo/config.toml (written here) apply to that folder:
  dependencies (lstm-core included) at opt-level 3 without debug assertions or overflow checks,
  a cell's own code unoptimised (it compiles faster; fit and predict run in lstm-core), and no
  incremental compilation (which splits lstm-core into hundreds of code units and costs
  inlining). evcxr's defaults (opt-level 2 with debug assertions, overflow checks and
  incremental for everything) made the notebooks' fits 3-5x slower than the benchmark's.

Usage: kernel_env.py KERNEL_JSON EVCXR_ROOT
"""
import json
import sys
from pathlib import Path

# polars only reads small CSV files here; its crates build unoptimised (level 0). On two cores,
# notebook 07 cold took 592 s with them at level 3 and 395 s at level 1 (an earlier machine);
# here polars-core alone took 5 min at level 1 and 37 s at level 0, and 07's `:dep` cell, polars
# and lstm-core's polars build, 131 s at level 0. The notebooks' CSV cells (730 to 2,300 rows)
# take about 0.4 s longer, and read the same bits.
POLARS_CRATES = """
polars polars-arrow polars-async polars-buffer polars-compute polars-config polars-core
polars-dtype polars-error polars-io polars-ops polars-row polars-schema polars-time polars-utils
""".split()

CARGO_CONFIG = """# Written by scripts/kernel_env.py: how evcxr builds the notebooks.
# A cell's own code unoptimised: it compiles faster, and the work it calls (fit, predict) is
# compiled in lstm-core, below.
[profile.dev]
opt-level = 0

# Dependencies, lstm-core included: optimised as in `cargo build --release` (level 3: at level 2
# the tiny fits ran 1.45x slower than the benchmark's), without debug assertions or overflow checks.
[profile.dev.package."*"]
opt-level = 3
debug-assertions = false
overflow-checks = false

""" + "".join(
    f'\n[profile.dev.package.{name}]\nopt-level = 0\n' for name in POLARS_CRATES
) + """
[build]
incremental = false
"""


def main():
    kernel_json, evcxr_root = Path(sys.argv[1]), Path(sys.argv[2]).resolve()
    build = evcxr_root / "build"
    build.mkdir(parents=True, exist_ok=True)
    (evcxr_root / ".cargo").mkdir(parents=True, exist_ok=True)
    (evcxr_root / ".cargo" / "config.toml").write_text(CARGO_CONFIG)
    spec = json.loads(kernel_json.read_text())
    spec.setdefault("env", {})["EVCXR_TMPDIR"] = str(build)
    kernel_json.write_text(json.dumps(spec, indent=2) + "\n")
    print(f"rust kernel: builds in {build}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
