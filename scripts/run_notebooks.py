#!/usr/bin/env python3
"""Execute the notebooks (two at a time on a machine with two cores), fail loudly, export HTML.

nbconvert alone misses two failures of the evcxr kernel: a panic is reported as a successful
cell (only stderr shows `panicked at`), and a compile error arrives with a blank message. So each
notebook is executed with nbclient, every output is scanned for errors and panics, and the
cell's own diagnostic is printed. Exit status 1 if any notebook failed.

evcxr allows one kernel per build folder (EVCXR_TMPDIR), so with `--jobs 2` the second kernel is a
copy of the registered `rust` kernelspec with a build folder of its own (`<folder>-2`), written
under target/evcxr/jupyter/ and visible to this runner only.
"""
import argparse
import asyncio
import atexit
import collections
import concurrent.futures
import copy
import html
import json
import os
import queue
import re
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

import nbformat
from jupyter_core.utils import ensure_async, run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Types with rich display; seen as Debug text, evcxr did not render them (e.g. a cell ending in
# `expr?`, whose type evcxr cannot always infer: bind it first, `let fig = expr?; fig`).
RICH_TYPES = ("Figure {", "Summary {", "History {", "Html(")


# Timings (lstm_core::display::elapsed) arrive marked when LSTM_CORE_TIMINGS=marked: kept in the
# HTML export, replaced in the committed notebook so that a re-run leaves it unchanged.
TIMING = re.compile("⟪([^⟫]*)⟫")
TIMING_PLACEHOLDER = "⏱"


def with_timings(nb, keep):
    """A copy of `nb` whose marked timings are shown (`keep`) or replaced by a placeholder."""
    nb = copy.deepcopy(nb)
    replace = (lambda m: m.group(1)) if keep else (lambda m: TIMING_PLACEHOLDER)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if isinstance(out.get("text"), str):
                out["text"] = TIMING.sub(replace, out["text"])
            for key in ("text/plain", "text/html"):
                value = out.get("data", {}).get(key)
                if isinstance(value, str):
                    out["data"][key] = TIMING.sub(replace, value)
    return nb


def strip_ansi(text):
    return ANSI.sub("", text)


# Lines evcxr forwards from cargo while a `:dep` builds: progress, not problems.
CARGO_PROGRESS = re.compile(r"^\s*(Compiling|Checking|Finished|Blocking|Updating|Downloaded|Downloading|Locking|Adding|Fresh|Running)\b|^\s*$")


def problems_of_cell(number, cell):
    """(cell number, source, message) for every error output or panic in one executed cell."""
    outputs = cell.get("outputs", [])
    stderr = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stderr")
    for out in outputs:
        if out.get("output_type") == "error":
            message = "\n".join(out.get("traceback") or []) or f"{out.get('ename')}: {out.get('evalue')}"
            yield number, cell.source, strip_ansi(message).strip() or strip_ansi(stderr).strip() or "(no message)"
    for out in outputs:
        text = out.get("data", {}).get("text/plain", "") if out.get("output_type") == "execute_result" else ""
        if "text/html" not in out.get("data", {}) and text.lstrip().startswith(RICH_TYPES):
            yield number, cell.source, "a rich value was shown as Debug text instead of HTML/SVG: " + text[:120]
        if text.strip() == "()":
            yield number, cell.source, "the cell shows `()`: it ends in a loop or a unit expression; end it with `;`"
    if "panicked at" in stderr:
        yield number, cell.source, strip_ansi(stderr[stderr.index("thread ") if "thread " in stderr else 0:]).strip()
    else:
        # An error returned with `?` reaches us only as stderr text; the cell's variables are lost.
        lines = [l for l in strip_ansi(stderr).splitlines() if not CARGO_PROGRESS.match(l)]
        if lines:
            yield number, cell.source, "the cell returned an error (or wrote to stderr):\n" + "\n".join(lines[:20])


def cell_problems(nb):
    """Every problem of every code cell of an executed notebook."""
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for number, cell in enumerate(code_cells, start=1):
        yield from problems_of_cell(number, cell)


def title_of(nb, fallback):
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def summary_of(nb):
    """The opening sentence(s) after the title, as plain text, for the index page."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            paragraphs = [p.strip() for p in cell.source.split("\n\n") if p.strip() and not p.startswith("#")]
            if paragraphs:
                text = re.sub(r"\*\*|`|\[([^]]*)\]\([^)]*\)", lambda m: m.group(1) or "", paragraphs[0].replace("\n", " "))
                summary = ""
                for sentence in re.split(r"(?<=[.!?])\s", text):
                    summary = (summary + " " + sentence).strip()
                    if len(summary) >= 60:
                        break
                return summary
    return ""


def main_figure(nb):
    """The first inline SVG among the outputs: the notebook's preview on the index page."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            html_out = out.get("data", {}).get("text/html", "")
            if "<svg" in html_out:
                return html_out[html_out.index("<svg") : html_out.rindex("</svg>") + 6]
    return ""


# How long a cell's late output may trail its reply (evcxr passes lines on after 1 ms of quiet).
LATE_OUTPUT_SECONDS = 0.05


# A cell still running after this long is reported, and again at every further interval, so a
# cold build (minutes) or a long training never looks like a hang.
HEARTBEAT_SECONDS = 30


def first_line(source):
    """A cell's first line that is not blank, stripped."""
    return next((line.strip() for line in source.splitlines() if line.strip()), "")


def compiling_now(build):
    """The crates rustc is compiling for evcxr's build folder right now (read from /proc, so
    Linux only; elsewhere nothing is named)."""
    if not build:
        return []
    names = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:  # the process ended meanwhile
            continue
        if args and args[0].endswith(b"rustc") and b"--crate-name" in args and any((str(build) + os.sep).encode() in a for a in args):
            names.add(args[args.index(b"--crate-name") + 1].decode(errors="replace"))
    return sorted(names)


def dependency_progress(build):
    """What the `:dep` cell's build is doing: the crates being compiled and how many are done."""
    deps = build / "target" / "debug" / "deps" if build else None
    if not deps or not deps.is_dir():
        return ""
    done = len({entry.name.split("-")[0] for entry in deps.glob("lib*.rlib")})
    now = compiling_now(build)
    doing = f"compiling {', '.join(now)}; " if now else ""
    return f"; {doing}{done} crates built in {build.name}/"


SAY = threading.Lock()


def say(line):
    """Prints one whole line (runner threads print at once)."""
    with SAY:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class StopAtFirstProblem(Exception):
    """Raised after the first cell with a problem, so that later cells do not run."""


class FailFastClient(NotebookClient):
    """Checks every code cell right after it ran; stops the notebook at the first problem."""

    code_number = 0
    problems = ()
    cell_seconds = None  # [(code cell number, seconds, first line)] when timings are asked for
    label = ""  # the notebook's name in heartbeat lines
    build = None  # evcxr's build folder of this kernel, if known

    async def heartbeat(self, number, source):
        """Prints a line every HEARTBEAT_SECONDS while a cell runs: what it is and how long."""
        first = first_line(source)
        compiling = first.startswith(":dep")
        started = time.monotonic()
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            seconds = time.monotonic() - started
            if compiling:
                try:
                    progress = dependency_progress(self.build)
                except OSError:  # the folder changed under the scan
                    progress = ""
                what = f"evcxr builds the dependencies: minutes if they are not built yet{progress}"
            else:
                what = (first[:60] + "…") if len(first) > 60 else first
            say(f"   … {self.label} code cell {number}: {seconds:.0f}s so far ({what})")

    async def collect_late_output(self, cell):
        """evcxr forwards a cell's stdout and stderr from a thread of its own, so a line (the
        message of an error returned with `?`) can arrive after the cell's reply, when nbclient
        no longer listens: it was dropped, and the error passed unseen in about one run of four.
        No other request is in flight, so what arrives now is this cell's."""
        while True:
            try:
                message = await ensure_async(self.kc.iopub_channel.get_msg(timeout=LATE_OUTPUT_SECONDS))
            except queue.Empty:
                return
            if message["msg_type"] == "stream":
                content = message["content"]
                cell.outputs.append(nbformat.v4.new_output("stream", name=content["name"], text=content["text"]))

    clear_first = False  # a kept kernel: `:clear` before the first code cell

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if self.clear_first and cell.cell_type == "code":
            self.clear_first = False
            reply = await self.async_wait_for_reply(self.kc.execute(":clear", store_history=False))
            if reply is None or reply["content"].get("status") != "ok":
                # Running on the previous notebook's state would break the isolation promised.
                self.problems = [(None, "", "evcxr's :clear failed on the kept kernel; run again with --fresh-kernels")]
                raise StopAtFirstProblem()
        started = time.monotonic()
        ticking = None
        if cell.cell_type == "code":
            ticking = asyncio.ensure_future(self.heartbeat(self.code_number + 1, cell.source))
        try:
            result = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        finally:
            if ticking:
                ticking.cancel()
        if cell.cell_type == "code":
            seconds = time.monotonic() - started
            await self.collect_late_output(cell)
            self.code_number += 1
            if self.cell_seconds is not None:
                self.cell_seconds.append((self.code_number, round(seconds, 3), first_line(cell.source)[:80]))
            problems = list(problems_of_cell(self.code_number, cell))
            if problems:
                self.problems = problems
                raise StopAtFirstProblem()
        return result


def kernel_names(jobs):
    """One kernel name per parallel job, the first kernel's build folder (None if its spec names
    none) and the build folders of the others. The first is the registered `rust` kernel; each other is a copy of it with its own evcxr
    build folder (a folder serves one kernel at a time)."""
    if jobs <= 1:
        return ["rust"], kernel_build("rust"), []
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("rust")
    build = spec.env.get("EVCXR_TMPDIR")
    if not build:
        return ["rust"] * jobs, None, []  # every kernel builds in a fresh temporary folder of its own
    extra = ROOT / "target" / "evcxr" / "jupyter"
    names, other_builds = ["rust"], []
    for k in range(2, jobs + 1):
        name, other_build = f"rust-runner-{k}", Path(f"{build}-{k}")
        folder = extra / "kernels" / name
        folder.mkdir(parents=True, exist_ok=True)
        copy_spec = {
            "argv": spec.argv,
            "display_name": f"Rust (runner {k})",
            "language": spec.language,
            "interrupt_mode": spec.interrupt_mode,
            "env": {**spec.env, "EVCXR_TMPDIR": str(other_build)},
        }
        (folder / "kernel.json").write_text(json.dumps(copy_spec, indent=2) + "\n")
        other_build.mkdir(parents=True, exist_ok=True)
        names.append(name)
        other_builds.append(other_build)
    os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(extra), os.environ.get("JUPYTER_PATH", "")) if p)
    return names, Path(build), other_builds


def kernel_build(name):
    """The evcxr build folder a registered kernel uses, if its spec names one."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        build = KernelSpecManager().get_kernel_spec(name).env.get("EVCXR_TMPDIR")
    except Exception:  # no such kernel: the run reports it
        return None
    return Path(build) if build else None


# Each notebook's last time on this machine, shown when it starts again (a rough guide to the wait).
LAST_SECONDS = ROOT / "target" / "evcxr" / "notebook-seconds.json"


def read_last_seconds():
    try:
        return json.loads(LAST_SECONDS.read_text())
    except (OSError, ValueError):
        return {}


def write_last_seconds(seconds):
    LAST_SECONDS.parent.mkdir(parents=True, exist_ok=True)
    LAST_SECONDS.write_text(json.dumps(seconds, indent=1, sort_keys=True) + "\n")


def uses_polars(path):
    """Whether a notebook turns on lstm-core's `polars` feature (in its `:dep` line)."""
    nb = nbformat.read(path, as_version=4)
    return any(c.cell_type == "code" and ":dep" in c.source and "polars" in c.source for c in nb.cells)


def is_warm(build):
    """Whether an evcxr build folder holds compiled dependencies."""
    return (build / "target").is_dir()


def copy_build(source, targets):
    """Gives each other kernel a copy of the first one's compiled dependencies, so that none of
    them compiles lstm-core and plotters again (cargo's fingerprints hold no path of the build
    folder itself, so the copies are fresh)."""
    for target in targets:
        if is_warm(source) and not is_warm(target):
            started = time.monotonic()
            shutil.copytree(source / "target", target / "target", symlinks=True, dirs_exist_ok=True)
            print(f"   copied the compiled dependencies to {target.name} in {time.monotonic() - started:.0f}s", flush=True)


# Each runner thread keeps its kernel from notebook to notebook (see `execute`).
THREAD_KERNEL = threading.local()
# Every kept kernel, so that an interrupted run (Ctrl-C, an error in the main thread) leaves no
# evcxr process behind: jupyter_client starts kernels in a session of their own.
KEPT_KERNELS = set()


def thread_kernel(name, folder):
    """This thread's kernel manager for kernel `name` started in `folder` (started by the first
    notebook that uses it; a kernel that died while idle is replaced)."""
    km = getattr(THREAD_KERNEL, "km", None)
    if km is not None and (getattr(THREAD_KERNEL, "key", None) != (name, folder) or (km.has_kernel and not run_sync(km.is_alive)())):
        drop_thread_kernel()
        km = None
    if km is None:
        from jupyter_client.manager import AsyncKernelManager

        km = THREAD_KERNEL.km = AsyncKernelManager(kernel_name=name)
        THREAD_KERNEL.key = (name, folder)
        KEPT_KERNELS.add(km)
    return km


def drop_thread_kernel():
    """Shuts down this thread's kept kernel, if any."""
    km = getattr(THREAD_KERNEL, "km", None)
    THREAD_KERNEL.km = None
    if km is not None:
        KEPT_KERNELS.discard(km)
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=True)


def kill_kept_kernels():
    """Kills whatever kept kernel is still running (a synchronous signal to its process group)."""
    import signal

    for km in list(KEPT_KERNELS):
        pgid = getattr(getattr(km, "provisioner", None), "pgid", None)
        if pgid:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except OSError:
                pass
    KEPT_KERNELS.clear()


atexit.register(kill_kept_kernels)


def renumber(nb):
    """Each result numbered as its cell (Out[5] beside In[5]): evcxr's own count runs one ahead
    after its first `:dep`, and a kept kernel's counts on from the previous notebooks, so the
    kernel's number would depend on how the notebook was run."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            for out in cell.get("outputs", []):
                if "execution_count" in out:
                    out["execution_count"] = cell.execution_count


def execute(path, timeout, kernel_name="rust", cell_seconds=None, build=None, keep_kernel=True):
    """Runs the notebook and stops at the first cell with a problem (an error, a panic, a `?`
    error on stderr): later cells would only run against a broken state. Returns the notebook
    and that cell's problems (empty if every cell ran clean).

    With `keep_kernel`, the thread's kernel serves its next notebook too, after evcxr's `:clear`
    (every variable, item and `:dep` dropped, the process that runs the code restarted): the
    notebook starts from nothing, as in a new kernel, but evcxr's analysis of lstm-core and its
    dependencies (rust-analyzer's, 7-15 s per new kernel, 30 s with polars) is done once."""
    nb = nbformat.read(path, as_version=4)
    km = thread_kernel(kernel_name, path.parent) if keep_kernel else None
    client = FailFastClient(
        nb,
        km=km,
        timeout=timeout,
        kernel_name=kernel_name,
        allow_errors=True,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.cell_seconds = cell_seconds
    client.label = path.name
    client.build = build
    client.clear_first = km is not None and km.has_kernel
    problems, clean = None, False
    try:
        client.execute()
        problems = list(cell_problems(nb))
        clean = not problems
    except StopAtFirstProblem:
        problems = client.problems
    except (CellTimeoutError, DeadKernelError) as e:
        problems = [(client.code_number + 1, "", f"{type(e).__name__}: {e}")]
    finally:
        if km is not None and client.kc is not None:
            client.kc.stop_channels()
        if km is not None and not clean:
            drop_thread_kernel()  # the next notebook gets a new kernel, whatever state this one left
    renumber(nb)
    return nb, problems


PAGE_STYLE = """<style>
.jp-InputArea-editor pre, .jp-InputArea-editor .highlight pre, .jp-OutputArea-output pre {
  white-space: pre-wrap; overflow-wrap: anywhere;
}
.jp-OutputArea-output svg { max-width: 100%; height: auto; }
</style>
"""


def export_html(nb, path, site):
    exporter = HTMLExporter(template_name="lab")
    try:
        from nbconvert.preprocessors import CoalesceStreamsPreprocessor

        exporter.register_preprocessor(CoalesceStreamsPreprocessor(enabled=True), enabled=True)
    except ImportError:
        pass
    body, _ = exporter.from_notebook_node(nb)
    # Long code lines wrap instead of being clipped at the cell's edge; wide figures shrink to fit.
    body = body.replace("</head>", PAGE_STYLE + "</head>", 1)
    target = site / (path.stem + ".html")
    target.write_text(body, encoding="utf-8")
    return target


def write_index(site, entries):
    cards = "\n".join(
        f'''<a class="card" href="{html.escape(page.name)}">
  <div class="preview">{preview}</div>
  <div class="text"><h2>{html.escape(title)}</h2><p>{html.escape(summary)}</p></div>
</a>'''
        for page, title, summary, preview in entries
    )
    site.joinpath("index.html").write_text(
        f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>LSTMs, explained and trained in Rust notebooks</title>
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:72rem;margin:2rem auto;padding:0 1.2rem;color:#222;line-height:1.5}}
header p{{max-width:48rem;color:#444}}
.grid{{display:grid;grid-template-columns:repeat(auto-fill,minmax(20rem,1fr));gap:1.2rem;margin-top:1.5rem}}
.card{{display:flex;flex-direction:column;border:1px solid #ddd;border-radius:10px;overflow:hidden;text-decoration:none;color:inherit;background:#fff;transition:box-shadow .15s}}
.card:hover{{box-shadow:0 4px 16px rgba(0,0,0,.12)}}
.preview{{background:#fafafa;border-bottom:1px solid #eee;height:12rem;display:flex;align-items:center;justify-content:center;overflow:hidden}}
.preview svg{{width:100%;height:100%}}
.text{{padding:.8rem 1rem}} .text h2{{font-size:1.1rem;margin:.2rem 0 .4rem}} .text p{{font-size:.9rem;color:#555;margin:0}}
</style></head>
<body><header><h1>LSTMs, explained and trained in Rust notebooks</h1>
<p>A Keras-style LSTM tutorial, section by section, run in Jupyter with the Rust kernel (evcxr). The crate <code>lstm-core</code>
matches Keras' numbers (weights, outputs, gradients, optimizer steps) and trains the tutorial's models in milliseconds to seconds.
Each page below is an executed notebook; read them in order.</p></header>
<div class="grid">
{cards}
</div></body></html>
""",
        encoding="utf-8",
    )


def report_cell_times(cell_times, target):
    """Writes every code cell's seconds, and prints the median cell and the slowest ones."""
    rows = [(seconds, name, number, first) for name, cells in cell_times.items() for number, seconds, first in cells]
    target.write_text(json.dumps({name: [{"cell": n, "seconds": s, "code": f} for n, s, f in cells] for name, cells in cell_times.items()}, indent=1) + "\n")
    if not rows:
        return
    ordered = sorted(row[0] for row in rows)
    median = statistics.median(ordered)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    print(f"{len(rows)} code cells: median {median:.2f}s, 90th percentile {p90:.2f}s, total {sum(ordered):.0f}s; the slowest:")
    for seconds, name, number, first in sorted(rows, reverse=True)[:12]:
        print(f"   {seconds:7.1f}s  {name} cell {number}: {first}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb in order")
    parser.add_argument("--write", action="store_true", help="write executed outputs back into the notebooks")
    parser.add_argument("--site", type=Path, help="export HTML and index.html into this folder")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell (a cold :dep compiles for minutes)")
    parser.add_argument("--fresh-kernels", action="store_true", help="a new kernel for every notebook (default: each runner's kernel is kept and cleared with :clear between notebooks)")
    parser.add_argument("--cell-times", type=Path, help="write each code cell's seconds (JSON) here, and print the slowest cells and the median")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="notebooks executed at once (default: 2 on two or more cores)")
    args = parser.parse_args()

    os.environ["LSTM_CORE_TIMINGS"] = "marked"  # the kernels inherit it
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 1
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        print(f"no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 1
    if args.site:
        args.site.mkdir(parents=True, exist_ok=True)
        # Pages of notebooks that no longer exist (renamed or removed) would stay in the site,
        # unlinked from its index.
        current = {path.stem for path in sorted((ROOT / "notebooks").glob("*.ipynb"))}
        for page in args.site.glob("*.html"):
            if page.name != "index.html" and page.stem not in current:
                page.unlink()

    started_all = time.monotonic()
    names, first_build, other_builds = kernel_names(max(1, min(args.jobs, len(paths))))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if len(names) > 1 and len(names) >= cores:
        # The kernels fill the cores between them: each trains on one thread, or each one's
        # helper thread would wait for a core the other kernel holds (the same bits either way).
        os.environ.setdefault("LSTM_CORE_THREADS", "1")

    cell_times = {}

    builds = dict(zip(names, [first_build, *other_builds]))
    last_seconds = read_last_seconds()

    def run(path, name):
        started = time.monotonic()
        before = last_seconds.get(path.name)
        expected = f"{before:.0f}s last time here" if before else "no earlier time on record here"
        say(f"-> {path.name} started ({expected})")
        seconds = cell_times.setdefault(path.name, []) if args.cell_times else None
        nb, problems = execute(path, args.timeout, name, seconds, builds.get(name), not args.fresh_kernels)
        return nb, problems, time.monotonic() - started

    paths = [path.resolve() for path in paths]
    futures = {path: concurrent.futures.Future() for path in paths}
    queue = collections.deque(paths)
    if other_builds and not all(is_warm(b) for b in other_builds):
        # Cold: the first notebook compiles the dependencies alone, then the others copy them.
        print(f"executing {paths[0].name} alone: it compiles the dependencies for every kernel", flush=True)
        futures[paths[0]].set_result(run(queue.popleft(), names[0]))
        drop_thread_kernel()  # this thread runs no further notebook
        copy_build(first_build, other_builds)
    # A notebook with polars always runs on the first kernel: polars then compiles (for minutes)
    # in one build folder only.
    pinned = [path for path in queue if len(names) > 1 and uses_polars(path)]
    for path in pinned:
        queue.remove(path)
    lock = threading.Lock()

    def worker(name, own):
        while True:
            if own:
                path = own.pop(0)
            else:
                with lock:
                    if not queue:
                        drop_thread_kernel()
                        return
                    path = queue.popleft()
            try:
                futures[path].set_result(run(path, name))
            except BaseException as error:  # reported in the main thread
                futures[path].set_exception(error)

    if len(names) > 1:
        print(f"executing {len(queue) + len(pinned)} notebooks, {len(names)} at a time", flush=True)
    workers = [threading.Thread(target=worker, args=(name, pinned if k == 0 else []), daemon=True) for k, name in enumerate(names)]
    for thread in workers:
        thread.start()
    failed, entries = [], []
    for path in paths:  # reported in reading order, whatever finishes first
        try:
            nb, problems, seconds = futures[path].result()
        except Exception as error:  # the kernel could not start or died: a failure like any other
            nb, problems, seconds = None, [(None, "", f"{type(error).__name__}: {error}")], 0.0
        say(f"== {path.name}")
        if problems:
            failed.append(path.name)
            say(f"!! {path.name} FAILED after {seconds:.0f}s")
            for number, source, message in problems:
                where = f"{path.name}, code cell {number} (the run stopped there)" if number else f"{path.name}: kernel"
                print(f"--- {where}:", file=sys.stderr)
                if source:
                    print("    " + "\n    ".join(source.splitlines()[:8]), file=sys.stderr)
                print(message, file=sys.stderr, flush=True)
            continue
        say(f"   ok in {seconds:.0f}s")
        last_seconds[path.name] = round(seconds, 1)
        if args.write:
            nbformat.write(with_timings(nb, keep=False), path)
        if args.site:
            shown = with_timings(nb, keep=True)
            entries.append((export_html(shown, path, args.site), title_of(nb, path.stem), summary_of(nb), main_figure(nb)))

    write_last_seconds(last_seconds)
    if args.cell_times:
        report_cell_times(cell_times, args.cell_times)
    for thread in workers:
        thread.join()  # each shuts its kept kernel down
    if args.site and entries:
        write_index(args.site, entries)
        print(f"HTML: {args.site.resolve() / 'index.html'}")
    if failed:
        print(f"{len(failed)} of {len(paths)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"all {len(paths)} notebook(s) ran without errors or panics in {time.monotonic() - started_all:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
