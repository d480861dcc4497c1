#!/usr/bin/env python3
"""Self-test of run_notebooks.py: a panicking cell, a cell that does not compile, a cell whose `?`
returns an error (evcxr reports it only on stderr), and a figure shown as Debug text must each
fail the run and print the cell's own message. Uses throwaway notebooks
in a temp folder."""
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

CASES = {
    "panics.ipynb": ("let v: Vec<i32> = Vec::new();\nlet x = v[3];", "index out of bounds: the len is 0 but the index is 3"),
    "does_not_compile.ipynb": ('let y: i32 = "not a number";', "expected `i32`, found `&str`"),
    "question_mark_error.ipynb": (
        'let r: Result<i32, String> = Err("the file is missing".into());\nlet v = r?;',
        "the file is missing",
    ),
    "debug_instead_of_figure.ipynb": (
        "#[derive(Debug)]\npub struct Figure { svg: u8 }\nFigure { svg: 1 }",
        "a rich value was shown as Debug text",
    ),
}

# A notebook of five cells whose second panics: the run stops at cell 2 and names it; cell 3,
# which would leave a file behind, never runs.
STOPS = [
    "let a = 1;",
    'let v: Vec<i32> = Vec::new();\nlet x = v[7];',
    'std::fs::write("{marker}", "cell three ran").unwrap();',
    "let c = 3;",
    "let d = 4;",
]

runner = Path(__file__).with_name("run_notebooks.py")
with tempfile.TemporaryDirectory() as tmp:
    ok = True
    for name, (source, expected) in CASES.items():
        nb = new_notebook(cells=[new_code_cell(source)])
        nb.metadata["kernelspec"] = {"name": "rust", "display_name": "Rust", "language": "rust"}
        path = Path(tmp) / name
        nbformat.write(nb, path)
        run = subprocess.run([sys.executable, str(runner), str(path)], capture_output=True, text=True)
        output = run.stdout + run.stderr
        if run.returncode == 0 or expected not in output:
            ok = False
            print(f"FAIL {name}: exit {run.returncode}, expected message {expected!r} in:\n{output}")
        else:
            print(f"ok   {name}: run failed with the cell's message")
    marker = Path(tmp) / "cell-three-ran"
    nb = new_notebook(cells=[new_code_cell(source.replace("{marker}", str(marker))) for source in STOPS])
    nb.metadata["kernelspec"] = {"name": "rust", "display_name": "Rust", "language": "rust"}
    path = Path(tmp) / "stops_at_cell_2.ipynb"
    nbformat.write(nb, path)
    run = subprocess.run([sys.executable, str(runner), str(path)], capture_output=True, text=True)
    output = run.stdout + run.stderr
    third_ran = marker.exists()
    if run.returncode == 0 or "stops_at_cell_2.ipynb, code cell 2" not in output or "index out of bounds" not in output or third_ran:
        ok = False
        print(f"FAIL stops_at_cell_2.ipynb: exit {run.returncode}, third cell ran: {third_ran}, output:\n{output}")
    else:
        print("ok   stops_at_cell_2.ipynb: stopped at cell 2 and named it; cell 3 never ran")
    # Timings: in the HTML export, not in the written notebook (a re-run leaves it unchanged).
    timed = new_notebook(cells=[new_code_cell('let t = std::time::Duration::from_millis(1234);\nlet marked = if std::env::var("LSTM_CORE_TIMINGS").as_deref() == Ok("marked") { "⟪1.2 s⟫" } else { "1.2 s" };\nprintln!("fit: {marked}");')])
    timed.metadata["kernelspec"] = {"name": "rust", "display_name": "Rust", "language": "rust"}
    path = Path(tmp) / "timed.ipynb"
    nbformat.write(timed, path)
    site = Path(tmp) / "site"
    run = subprocess.run([sys.executable, str(runner), "--write", "--site", str(site), str(path)], capture_output=True, text=True)
    written = path.read_text(encoding="utf-8")
    page = (site / "timed.html").read_text(encoding="utf-8") if (site / "timed.html").exists() else ""
    if run.returncode != 0 or "fit: ⏱" not in written or "fit: 1.2 s" in written or "fit: 1.2 s" not in page:
        ok = False
        print(f"FAIL timed.ipynb: exit {run.returncode}; written notebook has the placeholder: {'fit: ⏱' in written}; page has the time: {'fit: 1.2 s' in page}\n{run.stdout}{run.stderr}")
    else:
        print("ok   timed.ipynb: the time is in the HTML page, the notebook keeps a placeholder")
    # A kept kernel (the default) starts each notebook from nothing: the second notebook cannot
    # see the first one's variable, and results are numbered as their cells.
    kept = []
    for name, sources in [("defines.ipynb", ["let leftover = 41;", "leftover + 1"]), ("reads.ipynb", ["1 + 1", "let x = leftover + 1;"])]:
        nb = new_notebook(cells=[new_code_cell(source) for source in sources])
        nb.metadata["kernelspec"] = {"name": "rust", "display_name": "Rust", "language": "rust"}
        kept.append(Path(tmp) / name)
        nbformat.write(nb, kept[-1])
    run = subprocess.run([sys.executable, str(runner), "--jobs", "1", "--write", *map(str, kept)], capture_output=True, text=True)
    output = run.stdout + run.stderr
    written = nbformat.read(kept[0], as_version=4)
    result = [out for out in written.cells[1].outputs if out.output_type == "execute_result"]
    numbered = bool(result) and result[0].execution_count == written.cells[1].execution_count == 2
    if run.returncode == 0 or "reads.ipynb, code cell 2" not in output or "cannot find value `leftover`" not in output or not numbered:
        ok = False
        print(f"FAIL kept kernel: exit {run.returncode}, result numbered as its cell: {numbered}, output:\n{output}")
    else:
        print("ok   kept kernel: the next notebook did not see the previous one's variable; Out[2] beside In[2]")
print("runner self-test:", f"{len(CASES) + 3} passed, 0 failed" if ok else "failed")
sys.exit(0 if ok else 1)
