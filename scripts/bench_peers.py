#!/usr/bin/env python3
"""lstm-core beside PyTorch (CPU, oneDNN/MKL) and Keras (TensorFlow CPU), in one run on one machine.

    make bench-peers     # builds the venv target/peers, runs ours, then each peer, prints the table

What it runs, for every engine, with the same data, sizes and optimiser settings:
- the five tutorial fits and one fit each of GRU and SimpleRNN (the noisy sine, tanh) (data
  exported by our benchmark with `--export-data`): recurrent layer + Dense head,
  Adam(lr 1e-3, eps 1e-7), the same epochs, batch size and validation split, the samples
  shuffled once (seed 42) and kept in that order, as our benchmark does. PyTorch's `nn.LSTM` has
  no relu activation, so its sine and weather rows use tanh (said in the table);
- a training step of LSTM(H), GRU(H) and SimpleRNN(H) + Dense(1), T = 30, batch 32, H = 32, 128,
  512 (median of many); PyTorch's `nn.LSTM`, `nn.GRU`, `nn.RNN` (tanh), Keras' `LSTM`, `GRU`,
  `SimpleRNN`;
- inference on 10,000 windows: ours the median of three calls; PyTorch the median of three at
  each batching (one call, chunks of 256), the better batching; Keras one call each at batch 32
  and 256, the better;
- the f32 matrix-product rate at 1024² (PyTorch: MKL).
PyTorch runs with 1 and with 2 threads and the better is its number. Keras' fits run once (they
take minutes); PyTorch's and ours are the median of three. All three flush denormals to zero
(TensorFlow does by default, ours does as TensorFlow, PyTorch is asked to with
`torch.set_flush_denormal(True)`): one arithmetic mode, and no engine slowed by denormals.

Usage: bench_peers.py --data DIR --ours OURS.json --json OUT.json [--skip-keras] [--skip-torch]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

TIMESTEPS, BATCH, WINDOWS = 30, 32, 10_000
HIDDEN = (32, 128, 512)
LAYERS = ("LSTM", "GRU", "SimpleRNN")
ADAM_EPS = 1e-7  # Keras' default; PyTorch's is 1e-8


def step_data():
    """The throughput table's batch and windows, exactly as the Rust benchmark builds them."""
    import numpy as np

    b, t = np.meshgrid(np.arange(BATCH), np.arange(TIMESTEPS), indexing="ij")
    x = (((b * 31 + t) % 17) / 17.0).astype(np.float32)[..., None]
    y = ((np.arange(BATCH) % 5) / 5.0).astype(np.float32)
    b, t = np.meshgrid(np.arange(WINDOWS), np.arange(TIMESTEPS), indexing="ij")
    windows = (((b * 7 + t) % 13) / 13.0).astype(np.float32)[..., None]
    return x, y, windows


def load_workloads(data_dir):
    import numpy as np

    specs = json.loads((Path(data_dir) / "workloads.json").read_text())
    for spec in specs:
        spec["x"] = np.load(Path(data_dir) / f"{spec['name']}_x.npy").astype(np.float32)
        spec["y"] = np.load(Path(data_dir) / f"{spec['name']}_y.npy").astype(np.float32)
    return specs


def split(spec):
    """Validation split as Keras takes it (the last samples), then one fixed shuffle."""
    import numpy as np

    x, y = spec["x"], spec["y"]
    n_train = int(len(x) * (1.0 - spec["validation_split"]))
    order = np.random.default_rng(42).permutation(n_train)
    return x[:n_train][order], y[:n_train][order], x[n_train:], y[n_train:]


def median(values):
    return statistics.median(values)


# ---------------------------------------------------------------------------------------- PyTorch
def torch_side():
    import numpy as np
    import torch

    torch.manual_seed(42)
    # The mode TensorFlow's kernels and ours compute in (see the docstring).
    assert torch.set_flush_denormal(True), "this CPU cannot flush denormals"

    class Net(torch.nn.Module):
        def __init__(self, features, units, outputs, layer="LSTM"):
            super().__init__()
            kinds = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "SimpleRNN": torch.nn.RNN}
            self.rnn = kinds[layer](features, units, batch_first=True)
            self.dense = torch.nn.Linear(units, outputs)

        def forward(self, x):
            _, h = self.rnn(x)
            if isinstance(h, tuple):  # the LSTM's (h, c)
                h = h[0]
            return self.dense(h[-1])

    def loss_fn(kind):
        if kind == "mse":
            mse = torch.nn.MSELoss()
            return lambda pred, y: mse(pred.reshape(y.shape), y)
        cross_entropy = torch.nn.CrossEntropyLoss()  # softmax + categorical cross-entropy
        return lambda logits, y: cross_entropy(logits, y.argmax(dim=1))

    def fit(spec):
        x_train, y_train, x_val, y_val = (torch.from_numpy(a.copy()) for a in split(spec))
        outputs = y_train.shape[1] if y_train.ndim == 2 else 1
        model = Net(x_train.shape[2], spec["units"], outputs, spec.get("layer", "LSTM"))
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=ADAM_EPS)
        loss = loss_fn(spec["loss"])
        batch = spec["batch_size"]
        started = time.perf_counter()
        for _ in range(spec["epochs"]):
            total = 0.0
            for i in range(0, len(x_train), batch):
                xb, yb = x_train[i : i + batch], y_train[i : i + batch]
                optimizer.zero_grad()
                value = loss(model(xb), yb)
                value.backward()
                optimizer.step()
                total += value.item() * len(xb)
            if len(x_val):
                with torch.no_grad():
                    loss(model(x_val), y_val).item()
        return time.perf_counter() - started, total / len(x_train)

    def step_and_inference(layer, hidden):
        x, y, windows = (torch.from_numpy(a) for a in step_data())
        model = Net(1, hidden, 1, layer)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=ADAM_EPS)
        loss = loss_fn("mse")

        def train_step():
            optimizer.zero_grad()
            loss(model(x), y).backward()
            optimizer.step()

        train_step()  # warm-up
        steps = 15 if hidden >= 512 else 50
        times = []
        for _ in range(steps):
            started = time.perf_counter()
            train_step()
            times.append(time.perf_counter() - started)
        rates = []
        with torch.no_grad():
            model(windows[:256])  # warm-up
            for chunk in (WINDOWS, 256):
                calls = []
                for _ in range(3):
                    started = time.perf_counter()
                    for i in range(0, WINDOWS, chunk):
                        model(windows[i : i + chunk])
                    calls.append(time.perf_counter() - started)
                rates.append(WINDOWS / median(calls))
        return {"ms_per_step": median(times) * 1e3, "inference_samples_per_s": max(rates)}

    def sgemm_gflops():
        n = 1024
        a, b = torch.rand(n, n), torch.rand(n, n)
        torch.mm(a, b)
        times = []
        for _ in range(9):
            started = time.perf_counter()
            torch.mm(a, b)
            times.append(time.perf_counter() - started)
        return 2 * n**3 / median(times) / 1e9

    out = {"version": torch.__version__, "threads": {}}
    specs = load_workloads(ARGS.data)
    for threads in (1, 2):
        torch.set_num_threads(threads)
        side = {"workloads": {}, "throughput": {}}
        for spec in specs:
            runs = [fit(spec) for _ in range(3)]
            side["workloads"][spec["name"]] = {
                "fit_seconds": median([r[0] for r in runs]),
                "final_loss": runs[0][1],
                "activation": "tanh",
            }
            print(f"  torch, {threads} thread(s): {spec['name']} {median([r[0] for r in runs]):.3f} s", flush=True)
        for layer in LAYERS:
            for hidden in HIDDEN:
                side["throughput"][f"{layer}_{hidden}"] = step_and_inference(layer, hidden)
        side["sgemm_gflops"] = sgemm_gflops()
        out["threads"][str(threads)] = side
    return out


# ------------------------------------------------------------------------------------------ Keras
def keras_side():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    def model_for(features, timesteps, units, activation, outputs, softmax, layer="LSTM"):
        kinds = {"LSTM": keras.layers.LSTM, "GRU": keras.layers.GRU, "SimpleRNN": keras.layers.SimpleRNN}
        model = keras.Sequential(
            [
                keras.Input((timesteps, features)),
                kinds[layer](units, activation=activation),
                keras.layers.Dense(outputs, activation="softmax" if softmax else None),
            ]
        )
        softmax_loss = "categorical_crossentropy"
        model.compile(keras.optimizers.Adam(learning_rate=1e-3, epsilon=ADAM_EPS), loss=softmax_loss if softmax else "mse")
        return model

    out = {"version": keras.__version__, "workloads": {}, "throughput": {}}
    for spec in load_workloads(ARGS.data):
        keras.utils.set_random_seed(42)
        x_train, y_train, x_val, y_val = split(spec)
        softmax = spec["loss"] != "mse"
        outputs = y_train.shape[1] if softmax else 1
        model = model_for(x_train.shape[2], x_train.shape[1], spec["units"], spec["activation"], outputs, softmax,
                          spec.get("layer", "LSTM"))
        validation = (x_val, y_val) if len(x_val) else None
        started = time.perf_counter()
        history = model.fit(
            x_train, y_train, epochs=spec["epochs"], batch_size=spec["batch_size"],
            validation_data=validation, shuffle=False, verbose=0,
        )
        seconds = time.perf_counter() - started
        out["workloads"][spec["name"]] = {"fit_seconds": seconds, "final_loss": history.history["loss"][-1]}
        print(f"  keras: {spec['name']} {seconds:.2f} s", flush=True)

    x, y, windows = step_data()
    for layer, hidden in ((l, h) for l in LAYERS for h in HIDDEN):
        keras.utils.set_random_seed(1)
        model = model_for(1, TIMESTEPS, hidden, "tanh", 1, False, layer)
        batches = 20
        xs, ys = np.tile(x, (batches, 1, 1)), np.tile(y, batches)
        model.fit(xs, ys, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)  # warm-up, tracing
        times = []
        for _ in range(3):
            started = time.perf_counter()
            model.fit(xs, ys, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
            times.append((time.perf_counter() - started) / batches)
        rates = []
        for batch in (32, 256):
            model.predict(windows[:batch], batch_size=batch, verbose=0)
            started = time.perf_counter()
            model.predict(windows, batch_size=batch, verbose=0)
            rates.append(WINDOWS / (time.perf_counter() - started))
        out["throughput"][f"{layer}_{hidden}"] = {"ms_per_step": median(times) * 1e3, "inference_samples_per_s": max(rates)}
        print(f"  keras: {layer} H = {hidden} step {median(times) * 1e3:.2f} ms", flush=True)
    return out


# --------------------------------------------------------------------------------------- the table
LABELS = {
    "next": "fit: next number, LSTM(30), 500 epochs",
    "sum": "fit: sum of two, LSTM(5), 50 epochs",
    "sine": "fit: noisy sine, LSTM(50, relu*), 50 epochs",
    "weather": "fit: weather, LSTM(50, relu*), T = 30, 50 epochs",
    "textgen": "fit: text one-hot, LSTM(128), 100 epochs",
    "sine_gru": "fit: noisy sine, GRU(50), 50 epochs",
    "sine_simplernn": "fit: noisy sine, SimpleRNN(50), 50 epochs",
}


def cpu_flags():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                return [f for f in ("avx2", "fma", "avx512f", "amx_tile") if f in flags]
    except OSError:
        pass
    return []


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def combine(ours, torch, keras):
    """One record per row: ours, PyTorch's best of 1/2 threads, Keras, and the ratios."""
    rows = []

    for w in ours["workloads"]:
        name = w["name"]
        row = {"row": name, "label": LABELS.get(name, name), "unit": "s", "ours": w["fit_seconds"],
               "ours_loss": w["final_loss"], "lower_is_better": True}
        if torch:
            per_thread = {t: s["workloads"][name]["fit_seconds"] for t, s in torch["threads"].items() if name in s["workloads"]}
            threads = min(per_thread, key=per_thread.get)
            row["torch"], row["torch_threads"] = per_thread[threads], threads
            row["torch_loss"] = torch["threads"][threads]["workloads"][name]["final_loss"]
        if keras and name in keras["workloads"]:
            row["keras"] = keras["workloads"][name]["fit_seconds"]
            row["keras_loss"] = keras["workloads"][name]["final_loss"]
        rows.append(row)
    for t in ours["throughput"]:
        layer = t.get("layer", "LSTM")
        h = f"{layer}_{t['hidden']}"
        for kind, key, unit, lower in (("step", "ms_per_step", "ms", True), ("inference", "inference_samples_per_s", "windows/s", False)):
            label = (f"{layer} training step, T = 30, B = 32, H = {t['hidden']}" if kind == "step"
                     else f"{layer} inference, 10,000 windows, H = {t['hidden']}")
            row = {"row": f"{kind}_{h}", "label": label, "unit": unit, "ours": t[key], "lower_is_better": lower}
            if torch:
                per_thread = {th: s["throughput"][h][key] for th, s in torch["threads"].items() if h in s["throughput"]}
                if per_thread:
                    threads = (min if lower else max)(per_thread, key=per_thread.get)
                    row["torch"], row["torch_threads"] = per_thread[threads], threads
            if keras and h in keras["throughput"]:
                row["keras"] = keras["throughput"][h][key]
            rows.append(row)
    sgemm = {"row": "sgemm", "label": "f32 matrix product, 1024²", "unit": "GFLOPS",
             "ours": ours["sgemm_peak_gflops"], "ours_packed": ours.get("packed_product_gflops"),
             "lower_is_better": False}
    if torch:
        per_thread = {th: s["sgemm_gflops"] for th, s in torch["threads"].items()}
        threads = max(per_thread, key=per_thread.get)
        sgemm["torch"], sgemm["torch_threads"] = per_thread[threads], threads
    rows.append(sgemm)
    for row in rows:
        for peer in ("torch", "keras"):
            if peer in row:
                ratio = row[peer] / row["ours"] if row["lower_is_better"] else row["ours"] / row[peer]
                row[f"vs_{peer}"] = ratio
    return rows


def print_table(report):
    print(f"\n{report['cpu']}; SIMD: {', '.join(report['simd'])}; {report['cores']} cores")
    print(f"PyTorch {report.get('torch_version', '-')}, Keras {report.get('keras_version', '-')}; "
          "ratio = how many times faster ours is (>1: ours ahead)\n")
    header = f"{'':52} {'ours':>12} {'PyTorch':>12} {'thr':>3} {'vs PT':>7} {'Keras':>12} {'vs K':>7}"
    print(header)
    for row in report["rows"]:
        fmt = (lambda v: f"{v:12.4f}") if row["unit"] == "s" else (lambda v: f"{v:12.2f}" if row["unit"] == "ms" else f"{v:12,.0f}")
        torch = fmt(row["torch"]) if "torch" in row else f"{'-':>12}"
        keras = fmt(row["keras"]) if "keras" in row else f"{'-':>12}"
        print(f"{row['label'] + ' (' + row['unit'] + ')':52} {fmt(row['ours'])} {torch} {row.get('torch_threads', '-'):>3} "
              f"{row.get('vs_torch', float('nan')):6.2f}× {keras} {row.get('vs_keras', float('nan')):6.2f}×")
    sgemm = next((r for r in report["rows"] if r["row"] == "sgemm"), {})
    if sgemm.get("ours_packed"):
        print(f"f32 product at 1024², ours on the packed kernel of the steps: {sgemm['ours_packed']:.0f} GFLOPS "
              "(the row above: matrixmultiply)")
    print("\n* PyTorch's nn.LSTM has no relu activation: its sine and weather fits use tanh.")
    if report["rows"]:
        h512 = [r for r in report["rows"] if r["row"].endswith("_512") and "torch" in r]
        for r in h512:
            print(f"{r['label']}: {r['vs_torch']:.2f}× PyTorch")
    print("All three engines flush denormals to zero (PyTorch: torch.set_flush_denormal(True)).")


def main():
    if ARGS.side == "torch":
        print(json.dumps(torch_side()))
        return
    if ARGS.side == "keras":
        print(json.dumps(keras_side()))
        return
    ours = json.loads(Path(ARGS.ours).read_text())
    peers = {}
    for side, skip in (("torch", ARGS.skip_torch), ("keras", ARGS.skip_keras)):
        if skip:
            continue
        print(f"running {side} ...", flush=True)
        # Each peer in a process of its own, one after the other: no two thread pools at once.
        done = subprocess.run([sys.executable, __file__, "--side", side, "--data", ARGS.data],
                              stdout=subprocess.PIPE, text=True, check=True)
        for line in done.stdout.splitlines():
            if line.startswith("  "):
                print(line)
        peers[side] = json.loads(done.stdout.splitlines()[-1])
    report = {
        "cpu": cpu_model(), "simd": cpu_flags(), "cores": os.cpu_count(),
        "torch_version": peers.get("torch", {}).get("version"),
        "keras_version": peers.get("keras", {}).get("version"),
        "rows": combine(ours, peers.get("torch"), peers.get("keras")),
        "ours": ours, "peers": peers,
    }
    Path(ARGS.json).write_text(json.dumps(report, indent=1))
    print_table(report)
    print(f"\nwrote {ARGS.json}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--ours")
    parser.add_argument("--json", default="target/bench-peers.json")
    parser.add_argument("--side", choices=("torch", "keras"))
    parser.add_argument("--skip-keras", action="store_true")
    parser.add_argument("--skip-torch", action="store_true")
    ARGS = parser.parse_args()
    main()
