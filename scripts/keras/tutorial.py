#!/usr/bin/env python
"""Trains the tutorial's Keras models on the tutorial's tasks, seed by seed, and writes what the
notebooks compare with: test errors, final losses, predictions and fit times.

The data comes from `cargo run --example keras_tasks` (the notebooks' own data and splits), so
the only difference between a Keras run and an lstm-core run is the framework.

    python scripts/keras/tutorial.py TASKS.json OUT.json [--only TASK ...]

With --only, just those tasks run, and their results replace the ones in OUT.

Every run is seeded (`keras.utils.set_random_seed`) with deterministic ops: on one machine a
re-run changes only the `fit_seconds` values.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keras_env  # noqa: E402

# The examples ran with TensorFlow's default oneDNN and both cores, as a user's would.
tf = keras_env.start(threads=os.cpu_count() or 1, onednn=True)
import keras  # noqa: E402
import numpy as np  # noqa: E402


def arr(v):
    return np.asarray(v["data"], dtype=np.float32).reshape(v["shape"])


def regression_model(shape, units, activation="tanh"):
    model = keras.Sequential([keras.Input(shape), keras.layers.LSTM(units, activation=activation),
                              keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def fit(model, x, y, **kw):
    started = time.perf_counter()
    history = model.fit(x, y, verbose=0, **kw)
    return history, round(time.perf_counter() - started, 2)


def mse(model, x, y):
    pred = model.predict(x, verbose=0).reshape(-1).astype(np.float64)
    return float(np.mean((pred - y.reshape(-1)) ** 2))


def next_number(task):
    x, y, probe = arr(task["x"]), arr(task["y"]), arr(task["probe"])
    runs = []
    for seed in task["seeds"]:
        keras.utils.set_random_seed(seed)
        model = regression_model(x.shape[1:], 30)
        history, seconds = fit(model, x, y, epochs=task["epochs"], batch_size=task["batch_size"])
        pred = float(model.predict(probe, verbose=0)[0, 0]) * task["probe_scale"]
        runs.append({"seed": seed, "prediction": pred, "final_loss": history.history["loss"][-1],
                     "fit_seconds": seconds})
    return {"what": "[1,2,3]→4 … [4,5,6]→7 (÷100), LSTM(30)+Dense(1), 500 epochs; "
                    "prediction = the model's answer for [5,6,7], ×100",
            "runs": runs}


def sum_of_first_two(task):
    runs = []
    for run in task["runs"]:
        keras.utils.set_random_seed(run["seed"])
        x, y, y_raw = arr(run["x"]), arr(run["y"]), arr(run["y_raw"]).reshape(-1)
        model = regression_model(x.shape[1:], 5)
        history, seconds = fit(model, x, y, epochs=task["epochs"], batch_size=task["batch_size"],
                               validation_split=task["validation_split"])
        low, high = run["y_min"], run["y_max"]
        held_out = int(len(x) * (1 - task["validation_split"]))
        pred = model.predict(x[held_out:], verbose=0).reshape(-1).astype(np.float64) * (high - low) + low
        probe = model.predict(arr(run["probe"]), verbose=0).reshape(-1) * (high - low) + low
        runs.append({"seed": run["seed"], "final_loss": history.history["loss"][-1],
                     "val_loss": history.history["val_loss"][-1],
                     "held_out_mae": float(np.mean(np.abs(pred - y_raw[held_out:]))),
                     "probe": [float(p) for p in probe], "fit_seconds": seconds})
    return {"what": "sum of the first two of three numbers in [0, 100), LSTM(5)+Dense(1), 50 epochs, "
                    "batch 16; held_out_mae on the last 20% of the rows (validation_split, never "
                    "trained on); probe = " + json.dumps(arr(task["probe_raw"]).tolist()),
            "runs": runs}


def windows_task(task, activation, what):
    runs = []
    for run in task["runs"]:
        keras.utils.set_random_seed(run["seed"])
        x_train, y_train = arr(run["x_train"]), arr(run["y_train"])
        model = regression_model(x_train.shape[1:], 50, activation)
        history, seconds = fit(model, x_train, y_train, epochs=task["epochs"],
                               batch_size=task["batch_size"], validation_split=task["validation_split"])
        runs.append({"seed": run["seed"], "test_mse": mse(model, arr(run["x_test"]), arr(run["y_test"])),
                     "final_loss": history.history["loss"][-1], "fit_seconds": seconds})
    return {"what": what, "runs": runs}


def next_character(task, encoding):
    data = task["encodings"][encoding]
    x, y = arr(data["x"]), arr(data["y"])
    runs = []
    for seed in task["seeds"]:
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input(x.shape[1:]), keras.layers.LSTM(128),
                                  keras.layers.Dense(y.shape[1], activation="softmax")])
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        history, seconds = fit(model, x, y, epochs=task["epochs"], batch_size=task["batch_size"])
        runs.append({"seed": seed, "final_loss": history.history["loss"][-1],
                     "accuracy": history.history["accuracy"][-1], "fit_seconds": seconds})
    return {"what": f"next character of the tutorial's sentence, {encoding} input, "
                    "LSTM(128)+Dense(27, softmax), 100 epochs; final_loss and accuracy as Keras' "
                    "history reports them for the last epoch",
            "runs": runs}


def main(tasks_path, out_path, only):
    with open(tasks_path) as f:
        tasks = json.load(f)
    sine = "noisy sine, windows of 10, a random 20% of the windows held out; LSTM(50, {})+Dense(1), 50 epochs"
    jobs = {
        "next_number": lambda: next_number(tasks["next_number"]),
        "sum_of_first_two": lambda: sum_of_first_two(tasks["sum_of_first_two"]),
        "noisy_sine_relu": lambda: windows_task(tasks["noisy_sine"], "relu", sine.format("relu")),
        "noisy_sine_tanh": lambda: windows_task(tasks["noisy_sine"], "tanh", sine.format("tanh")),
        "weather": lambda: windows_task(tasks["weather"], "relu",
                                        "synthetic daily temperature, 30-day windows, the last 20% "
                                        "held out; LSTM(50, relu)+Dense(1) on raw °C, 50 epochs"),
        "next_character_raw_index": lambda: next_character(tasks["next_character"], "raw_index"),
        "next_character_one_hot": lambda: next_character(tasks["next_character"], "one_hot"),
    }
    unknown = set(only) - set(jobs)
    if unknown:
        sys.exit(f"unknown task(s) {sorted(unknown)}; the tasks are {list(jobs)}")
    results = {}
    if only:
        with open(out_path) as f:
            results = json.load(f)["tasks"]
    for name, job in jobs.items():
        if only and name not in only:
            continue
        started = time.perf_counter()
        results[name] = job()
        print(f"{name}: {len(results[name]['runs'])} runs in {time.perf_counter() - started:.0f} s",
              flush=True)
    out = {"generator": "scripts/keras/tutorial.py", "versions": keras_env.versions(),
           "machine": keras_env.machine(), "tasks": results}
    with open(out_path, "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {out_path}")


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tasks")
    parser.add_argument("out")
    parser.add_argument("--only", nargs="+", default=[])
    args = parser.parse_args()
    main(args.tasks, args.out, args.only)
