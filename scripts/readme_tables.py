#!/usr/bin/env python3
"""Rewrite the README's speed tables from one `make bench-peers` run, so the README never states a
number the code did not measure, and every ratio compares engines measured in the same run.

    python3 scripts/readme_tables.py target/bench-peers.json [README.md]

The JSON is what `scripts/bench_peers.py` writes (`make readme-tables` runs the benchmarks, then
this). The tables go between the markers `<!-- bench:start -->` and `<!-- bench:end -->`.
"""
import json
import sys
from pathlib import Path

START, END = "<!-- bench:start -->", "<!-- bench:end -->"

WORKLOADS = {
    "next": "next number, LSTM(30), 500 epochs",
    "sum": "sum of first two, LSTM(5), 50 epochs",
    "sine": "noisy sine, LSTM(50, relu*), 50 epochs",
    "weather": "weather, LSTM(50, relu*), 30 steps, 50 epochs",
    "textgen": "text, one-hot LSTM(128), 100 epochs",
    "sine_gru": "noisy sine, GRU(50), 50 epochs",
    "sine_simplernn": "noisy sine, SimpleRNN(50), 50 epochs",
}
# The held-out figure each workload's notebook prints for the same seed (05, 06), or what it checks.
METRICS = {
    "next": ("prediction_for_5_6_7", "predicts {:.3} for [5, 6, 7] (Keras 7.995)"),
    "sum": ("val_loss", "validation loss {:.1e}"),
    "sine": ("test_mse", "test MSE {:.4} (notebook 06, seed 42)"),
    "weather": ("test_mse", "test MSE {:.2} °C² (notebook 07, seed 42)"),
    "textgen": ("train_accuracy", "training accuracy {:.3}"),
    "sine_gru": ("test_mse", "test MSE {:.4} (seed 42)"),
    "sine_simplernn": ("test_mse", "test MSE {:.4} (seed 42)"),
}


def seconds(value):
    return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"


def ratio(row, peer):
    value = row.get(f"vs_{peer}")
    if value is None:
        return "–"
    text = f"{value:,.0f}×" if value >= 100 else f"{value:.1f}×"
    return f"**{text}**" if value < 1 else text


def peer_share(ours_gflops, row, product):
    """PyTorch's share of the product: the same work in its time (ours' rate over how many
    times faster ours is)."""
    return ours_gflops / row["vs_torch"] / product


def tables(report):
    rows_by_name = {row["row"]: row for row in report["rows"]}
    ours = {w["name"]: w for w in report["ours"]["workloads"]}
    peak = rows_by_name.get("sgemm", {})
    out = [
        "| workload | lstm-core `fit` | PyTorch `fit` (threads) | ours vs PyTorch | Keras `fit` | ours vs Keras | final training loss (ours / PyTorch / Keras) | held-out check | training work |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, label in WORKLOADS.items():
        row, w = rows_by_name.get(name), ours.get(name)
        if row is None or w is None:
            continue
        key, fmt = METRICS[name]
        metric = w.get("metric", {}).get(key)
        losses = " / ".join(
            f"{row[k]:.3g}" if k in row else "–" for k in ("ours_loss", "torch_loss", "keras_loss")
        )
        torch = f"{seconds(row['torch'])} ({row['torch_threads']})" if "torch" in row else "–"
        keras = seconds(row["keras"]) if "keras" in row else "–"
        out.append(
            f"| {label} | {seconds(row['ours'])} | {torch} | {ratio(row, 'torch')} | {keras} | "
            f"{ratio(row, 'keras')} | {losses} | {fmt.format(metric) if metric is not None else '–'} | "
            f"{w['training_gflop']:.2g} GFLOP |"
        )
    out += [
        "",
        "| layer(H) + Dense(1), T = 30 | training step, batch 32: ours (GFLOPS, share of the fastest f32 product) | PyTorch (threads, share) | ours vs PyTorch | Keras | ours vs Keras | inference, 10,000 windows: ours (share) | PyTorch (share) | ours vs PyTorch | Keras | ours vs Keras |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    # The fastest f32 product of the run, whichever engine measured it (absent or null values,
    # from older or partial runs, skipped).
    measured = [peak.get(key) for key in ("ours", "ours_packed", "torch")]
    product = max((value for value in measured if value), default=float("nan"))
    percent = lambda value: "–" if value != value else f"{value:.0%}"  # NaN: not measured
    share = lambda gflops, row: percent(peer_share(gflops, row, product)) if "vs_torch" in row else "–"
    for t in report["ours"]["throughput"]:
        layer, h = t.get("layer", "LSTM"), t["hidden"]
        step, infer = rows_by_name[f"step_{layer}_{h}"], rows_by_name[f"inference_{layer}_{h}"]
        cell = lambda row, key, fmt: fmt.format(row[key]) if key in row else "–"
        infer_gflops = t.get("inference_gflops") or float("nan")
        out.append(
            f"| {layer}({h}) | {step['ours']:.2f} ms ({t['gflops']:.0f} GFLOPS, {percent(t['gflops'] / product)}) | "
            f"{cell(step, 'torch', '{:.2f} ms')} ({step.get('torch_threads', '–')}, {share(t['gflops'], step)}) | "
            f"{ratio(step, 'torch')} | {cell(step, 'keras', '{:.2f} ms')} | {ratio(step, 'keras')} | "
            f"{infer['ours']:,.0f} /s ({percent(infer_gflops / product)}) | "
            f"{cell(infer, 'torch', '{:,.0f} /s')} ({share(infer_gflops, infer)}) | {ratio(infer, 'torch')} | "
            f"{cell(infer, 'keras', '{:,.0f} /s')} | {ratio(infer, 'keras')} |"
        )
    # The largest layers' rows (H = 512) as fractions of the fastest product: how close each
    # engine runs to what the machine's matrix products reach, and what 1.1x PyTorch would take.
    largest = max((t["hidden"] for t in report["ours"]["throughput"]), default=None)
    for t in report["ours"]["throughput"]:
        layer, h = t.get("layer", "LSTM"), t["hidden"]
        if h != largest or product != product:  # NaN: no product measured
            continue
        parts = []
        for label, prefix, gflops in (("training step", "step", t["gflops"]), ("inference", "inference", t.get("inference_gflops"))):
            row = rows_by_name[f"{prefix}_{layer}_{h}"]
            if not gflops or "vs_torch" not in row:
                continue
            theirs = peer_share(gflops, row, product)
            parts.append(
                f"{label} ours {gflops / product:.0%}, PyTorch {theirs:.0%} "
                f"(1.1× PyTorch would take {1.1 * theirs:.0%})"
            )
        if parts:
            out.append(f"\n{layer}({h}), share of the fastest product: " + "; ".join(parts) + ".")
    packed_rate = f"{peak['ours_packed']:.0f}" if peak.get("ours_packed") else "–"
    out += [
        "",
        f"Generated by `make readme-tables` from one `make bench-peers` run on {report['cpu']} "
        f"({report['cores']} cores; SIMD: {', '.join(report['simd'])}); PyTorch {report.get('torch_version') or '–'} "
        f"(best of 1 and 2 threads), Keras {report.get('keras_version') or '–'} on TensorFlow (CPU). "
        f"f32 matrix product at 1024² in the same run, both cores: ours {peak.get('ours', float('nan')):.0f} GFLOPS (matrixmultiply, "
        f"the whole-sequence products) and {packed_rate} GFLOPS (the packed kernel of the steps), "
        f"PyTorch (MKL) {peak.get('torch', float('nan')):.0f} GFLOPS. **Bold**: the peer is faster. "
        "\\* PyTorch's `nn.LSTM` has no relu activation: its sine and weather fits use tanh. "
        "GRU and SimpleRNN: PyTorch's `nn.GRU` and `nn.RNN` (tanh), Keras' `GRU` and `SimpleRNN`; "
        "a share is the layer's rate of floating-point work (training step: forward and backward; "
        "inference: forward) over the fastest of these three products. "
        "Inference: ours and PyTorch the median of three calls (PyTorch at its better batching, "
        "one call or chunks of 256), Keras one call at batch 32 and at 256, the better. "
        "All three engines flush denormals to zero, TensorFlow's default (PyTorch: "
        "`torch.set_flush_denormal(True)`).",
    ]
    return "\n".join(out)


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else "target/bench-peers.json"
    report = json.loads(Path(source).read_text())
    readme = Path(sys.argv[2] if len(sys.argv) > 2 else "README.md")
    text = readme.read_text()
    if START not in text or END not in text:
        print(f"{readme}: no {START} … {END} block to fill", file=sys.stderr)
        return 1
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{tables(report)}\n{END}{tail}")
    print(f"{readme}: speed tables rewritten from {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
