#!/usr/bin/env python3
"""`cargo fmt` for the notebooks: formats every Rust code cell with rustfmt (lines of at most 100
columns, the crate's style) and leaves evcxr's `:dep`-style commands and the outputs alone.

    python3 scripts/format_notebooks.py [--check] [NOTEBOOK ...]

A cell is a list of statements, so it is formatted as the body of a function and unwrapped
again. Lines rustfmt leaves long are shortened first: a trailing comment moves above its line,
a long comment is wrapped, and a long string literal is continued on the next line with `\`
(Rust drops the line break and the indentation, so the printed text is unchanged). With --check
nothing is written, and the exit status says whether a cell would change or a line stays long.
"""
import argparse
import json
import pathlib
import re
import subprocess
import sys

WIDTH = 100
INDENT = "    "
WRAP_OPEN = "fn __notebook_cell__() {"


def wrap_comment(indent, text, width):
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(indent) + 3 + len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return [f"{indent}// {l}" for l in lines]


def split_string(line, width, inside=False):
    """Splits the string literal that crosses `width` at a space outside `{}`, or returns None.
    `inside`: the line continues a literal from the line before."""
    in_string, depth, start, space = inside, 0, None, None
    k = len(line) - len(line.lstrip()) if inside else 0
    start = k - 11 if inside else None
    while k < len(line):
        ch = line[k]
        if in_string:
            if ch == "\\":
                k += 2
                continue
            if ch == '"':
                in_string = False
                if space is not None:
                    break
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth = max(depth - 1, 0)
            elif ch == " " and depth == 0 and k - start > 10 and k < width - 2:
                space = k
        elif ch == '"':
            in_string, start, depth = True, k, 0
        elif ch == "/" and line[k:k + 2] == "//":
            break
        k += 1
    if space is None:
        return None
    indent = len(line) - len(line.lstrip()) + 4
    return [line[:space + 1] + "\\", " " * indent + line[space + 1:]]


def shorten(code, width):
    out = []
    for line in code.split("\n"):
        stripped = line.lstrip()
        indent = line[:len(line) - len(stripped)]
        if len(line) <= width:
            out.append(line)
        elif stripped.startswith("//"):
            out.extend(wrap_comment(indent, stripped[2:].strip(), width))
        elif "; // " in line and '"' not in line.split("; // ")[1]:
            code_part, comment = line.split("; // ", 1)
            out.extend(wrap_comment(indent, comment, width) + [code_part + ";"])
        else:
            pieces = [line]
            while len(pieces[-1]) > width:
                split = split_string(pieces[-1], width, inside=len(pieces) > 1)
                if split is None:
                    break
                pieces[-1:] = split
            out.extend(pieces)
    return "\n".join(out)


def join_continued_strings(code):
    """Undoes earlier string splits: a line ending in `\\` continues a string literal."""
    out = []
    for line in code.split("\n"):
        if out and out[-1].endswith("\\") and not out[-1].endswith("\\\\"):
            out[-1] = out[-1][:-1] + line.lstrip()
        else:
            out.append(line)
    return "\n".join(out)


def rustfmt(code):
    """The statements formatted as a function body, or None when rustfmt cannot parse them."""
    body = "\n".join(INDENT + l if l else l for l in code.split("\n"))
    run = subprocess.run(
        ["rustfmt", "--edition", "2021", "--config", f"max_width={WIDTH + len(INDENT)},use_small_heuristics=Max"],
        input=f"{WRAP_OPEN}\n{body}\n}}\n", capture_output=True, text=True)
    if run.returncode != 0:
        return None
    lines = run.stdout.rstrip("\n").split("\n")
    assert lines[0] == WRAP_OPEN and lines[-1] == "}", lines[:1] + lines[-1:]
    return "\n".join(l[len(INDENT):] if l.startswith(INDENT) else l for l in lines[1:-1])


def ends_in_block(code):
    """Whether the last statement is a loop, `if` or block: evcxr would show its `()`, so the
    cell keeps a `;` after it (which rustfmt removes as an empty statement)."""
    lines = [l for l in code.split("\n") if l.strip()]
    if not lines or lines[-1] != "}":
        return False
    for line in reversed(lines[:-1]):
        if not line.startswith((" ", "}")):
            return bool(re.match(r"(for|while|if|loop)\b|\{", line))
    return False


def format_cell(source):
    """The cell formatted, or None when rustfmt cannot parse it (left as it is)."""
    lines = source.split("\n")
    commands = [l for l in lines if l.startswith(":")]
    code = "\n".join(l for l in lines if not l.startswith(":"))
    if not code.strip():
        return source
    # rustfmt first; then the lines it left long are shortened, and rustfmt places the result.
    code = rustfmt(join_continued_strings(code))
    if code is None:
        return None
    code = rustfmt(shorten(code, WIDTH))
    if code is None:
        return None
    if ends_in_block(code):
        code += ";"
    return "\n".join(commands + code.split("\n"))


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
    long = []
    for path in paths:
        for k, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] == "code":
                source = "".join(cell["source"]) if not args.check else format_cell("".join(cell["source"])) or ""
                long += [f"{path.name} cell {k}: {len(l)} columns" for l in source.split("\n") if len(l) > WIDTH]
    for f in failed:
        print(f"rustfmt could not parse {f}", file=sys.stderr)
    for f in long:
        print(f"line over {WIDTH} columns: {f}", file=sys.stderr)
    if args.check and changed:
        print("not formatted (run scripts/format_notebooks.py):\n  " + "\n  ".join(changed), file=sys.stderr)
    sys.exit(1 if failed or long or (args.check and changed) else 0)


if __name__ == "__main__":
    main()
