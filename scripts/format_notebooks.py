#!/usr/bin/env python3
"""`cargo fmt` for the notebooks: formats every Rust code cell with rustfmt (lines of at most 100
columns, the crate's style) and leaves evcxr's `:dep`-style commands and the outputs alone.

    python3 scripts/format_notebooks.py [--check] [NOTEBOOK ...]

A cell is a list of statements, so it is formatted as the body of a function and unwrapped
again. With --check nothing is written, and the exit status says whether a cell would change.
"""
import argparse
import json
import pathlib
import subprocess
import sys

WIDTH = 100
INDENT = "    "
WRAP_OPEN = "fn __notebook_cell__() {"


def format_cell(source):
    """The cell formatted, or None when rustfmt cannot parse it (left as it is)."""
    lines = source.split("\n")
    commands = [l for l in lines if l.startswith(":")]
    code = "\n".join(INDENT + l if l else l for l in lines if not l.startswith(":"))
    if not code.strip():
        return source
    wrapped = f"{WRAP_OPEN}\n{code}\n}}\n"
    run = subprocess.run(
        ["rustfmt", "--edition", "2021", "--config", f"max_width={WIDTH + len(INDENT)}"],
        input=wrapped, capture_output=True, text=True)
    if run.returncode != 0:
        return None
    body = run.stdout.rstrip("\n").split("\n")
    assert body[0] == WRAP_OPEN and body[-1] == "}", body[:1] + body[-1:]
    body = [l[len(INDENT):] if l.startswith(INDENT) else l for l in body[1:-1]]
    return "\n".join(commands + body)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true")
    parser.add_argument("notebooks", nargs="*")
    args = parser.parse_args()
    root = pathlib.Path(__file__).resolve().parent.parent
    paths = [pathlib.Path(p) for p in args.notebooks] or sorted((root / "notebooks").glob("*.ipynb"))
    changed, failed = [], []
    for path in paths:
        nb = json.loads(path.read_text())
        dirty = False
        for k, cell in enumerate(nb["cells"]):
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            formatted = format_cell(source)
            if formatted is None:
                failed.append(f"{path.name} cell {k}")
            elif formatted != source:
                dirty = True
                changed.append(f"{path.name} cell {k}")
                cell["source"] = [l + "\n" for l in formatted.split("\n")[:-1]] + [formatted.split("\n")[-1]]
        if dirty and not args.check:
            path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    for f in failed:
        print(f"rustfmt could not parse {f}", file=sys.stderr)
    if args.check and changed:
        print("not formatted (run scripts/format_notebooks.py):\n  " + "\n  ".join(changed), file=sys.stderr)
    sys.exit(1 if failed or (args.check and changed) else 0)


if __name__ == "__main__":
    main()
