#!/usr/bin/env python
"""Writes the golden files of `lstm-core/tests/golden/`: what Keras computes for given weights
and inputs (outputs, states, gradients, Adam steps, a `fit`), for the parity test
`lstm-core/tests/golden.rs`, which runs every file it finds.

    python scripts/keras/golden.py [--out DIR] [NAME ...]

Each case of CASES below becomes two files, `NAME_float64.json` and `NAME_float32.json`: the same
draws (NumPy `default_rng(seed)`, float64), the second rounded to float32 and computed by Keras in
float32. A new case is one more line in CASES. Every file's `checks` holds the largest difference
between Keras and `cells.py` (plain float64 NumPy; gradients by complex steps): about 1e-16 in
float64 files, about 1e-7 in float32 ones. The script refuses to write a file whose checks
exceed 1e-12 and 2e-6. A re-run gives the same bytes.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import keras_env  # noqa: E402

tf = keras_env.start(threads=1, onednn=False)
import keras  # noqa: E402
import numpy as np  # noqa: E402

import cells  # noqa: E402

# kind, file name, settings. Kinds: lstm, gru, simple_rnn (one layer: forward, go_backwards,
# Bidirectional, a Dense(1) head with gradients and Adam steps; settings units, input_dim,
# timesteps, batch, seed, and optionally activation and use_bias), stacked, charhead, fit.
CASES = [
    ("lstm", "lstm_u1_d1_t3_b2", dict(units=1, input_dim=1, timesteps=3, batch=2, seed=101)),
    ("lstm", "lstm_u5_d4_t3_b2", dict(units=5, input_dim=4, timesteps=3, batch=2, seed=102)),
    ("lstm", "lstm_u5_d1_t3_b4_relu",
     dict(units=5, input_dim=1, timesteps=3, batch=4, seed=103, activation="relu")),
    ("lstm", "lstm_u3_d2_t6_b2_nobias",
     dict(units=3, input_dim=2, timesteps=6, batch=2, seed=104, use_bias=False)),
    ("gru", "gru_u4_d2_t5_b3", dict(units=4, input_dim=2, timesteps=5, batch=3, seed=201)),
    ("gru", "gru_u2_d5_t3_b4", dict(units=2, input_dim=5, timesteps=3, batch=4, seed=202)),
    ("gru", "gru_u3_d1_t4_b2_relu",
     dict(units=3, input_dim=1, timesteps=4, batch=2, seed=203, activation="relu")),
    ("simple_rnn", "simple_rnn_u3_d2_t4_b2", dict(units=3, input_dim=2, timesteps=4, batch=2, seed=301)),
    ("simple_rnn", "simple_rnn_u1_d3_t3_b2", dict(units=1, input_dim=3, timesteps=3, batch=2, seed=302)),
    ("simple_rnn", "simple_rnn_u5_d1_t3_b4_relu",
     dict(units=5, input_dim=1, timesteps=3, batch=4, seed=303, activation="relu")),
    ("stacked", "stacked", dict(units=(4, 3), input_dim=2, timesteps=5, batch=3, seed=1234)),
    ("charhead", "charhead", dict(units=6, vocab=5, timesteps=4, batch=3, seed=777)),
    ("fit", "fit", dict(units=5, samples=10, timesteps=3, batch_size=4, epochs=3, seed=4242)),
]

ADAM = dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)
ADAM_STEPS = 3
LAYERS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple_rnn": keras.layers.SimpleRNN}
BLOCKS = {"lstm": 4, "gru": 3, "simple_rnn": 1}
KIND_TAG = {"lstm": "single_lstm", "gru": "gru", "simple_rnn": "simple_rnn", "stacked": "stacked",
            "charhead": "charhead", "fit": "fit_trace"}
# Largest |Keras - NumPy| accepted: rounding in float64, and float32's own precision.
CHECK_LIMIT = {"float64": 1e-12, "float32": 2e-6}


def lists(a):
    """Nested lists of Python floats; a float32 value widens to float64 exactly."""
    return np.asarray(a, dtype=np.float64).tolist()


def numpy_of(t):
    return np.asarray(t.numpy() if hasattr(t, "numpy") else t)


def worst(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def draw_recurrent(rng, kind, inputs, units, use_bias=True):
    width = BLOCKS[kind] * units
    w = {"kernel": rng.uniform(-0.5, 0.5, (inputs, width)),
         "recurrent_kernel": rng.uniform(-0.5, 0.5, (units, width))}
    if use_bias:
        w["bias"] = rng.uniform(-0.5, 0.5, (2, width) if kind == "gru" else (width,))
    return w


def draw_dense(rng, inputs, outputs):
    return {"kernel": rng.uniform(-0.5, 0.5, (inputs, outputs)), "bias": rng.uniform(-0.5, 0.5, (outputs,))}


def as_dtype(tree, dtype):
    if isinstance(tree, dict):
        return {k: as_dtype(v, dtype) for k, v in tree.items()}
    return np.asarray(tree).astype(dtype)


def set_weights(layer, w):
    """Sets a Keras layer's weights by name (kernel, recurrent_kernel, bias), checking shapes."""
    names = [v.path.split("/")[-1] for v in layer.weights]
    assert sorted(names) == sorted(w), (names, list(w))
    for v, name in zip(layer.weights, names):
        assert tuple(v.shape) == w[name].shape, (name, v.shape, w[name].shape)
    layer.set_weights([w[n] for n in names])


def weight_vars(layer):
    return {v.path.split("/")[-1]: v for v in layer.trainable_weights}


def recurrent(kind, units, dtype, **options):
    layer = LAYERS[kind](units, dtype=dtype, **options)
    if kind == "gru":
        assert layer.cell.reset_after, "the golden GRU files use Keras 3's default reset_after=True"
    return layer


def built(layer, shape, w):
    layer.build(shape)
    set_weights(layer, w)
    return layer


def adam_record(step, loss, named_vars):
    rec = {"step": step, "loss_before": float(numpy_of(loss))}
    for name, var in named_vars.items():
        if isinstance(var, dict):
            rec[name] = {k: lists(numpy_of(v)) for k, v in var.items()}
        else:
            rec[name] = lists(numpy_of(var))
    return rec


def keras_adam_steps(keras_loss, named, variables):
    """Keras' Adam with its defaults, ADAM_STEPS steps, each on a fresh gradient of
    `keras_loss()[0]`; the record of every step (the loss before it, every weight after it)."""
    optimizer, steps = keras.optimizers.Adam(**ADAM), []
    for k in range(1, ADAM_STEPS + 1):
        with tf.GradientTape() as tape:
            loss_k = keras_loss()[0]
        optimizer.apply_gradients(zip(tape.gradient(loss_k, variables), variables))
        steps.append(adam_record(k, loss_k, named))
    return steps


def check_adam_steps(checks, steps, params, loss):
    """Replays Keras' steps in NumPy from `params` (the input `x` stays fixed) and records each
    step's largest difference, in the loss before it and in every weight after it. A weight named
    `group.name` sits in the step's record as `[group][name]`."""
    fixed = {k: v for k, v in params.items() if k != "x"}
    replay = numpy_adam_steps(fixed, lambda p: loss(dict(p, x=params["x"])))
    for k, (step, (before, after)) in enumerate(zip(steps, replay), 1):
        def recorded(name):
            group, _, leaf = name.partition(".")
            return step[group][leaf] if leaf else step[group]
        checks[f"adam_step{k}"] = max([abs(step["loss_before"] - before)]
                                      + [worst(recorded(n), v) for n, v in after.items()])


def numpy_adam_steps(params, loss):
    """The Adam steps again in NumPy, gradients by complex steps."""
    params = {k: v.copy() for k, v in params.items()}
    adam, out = cells.KerasAdam(**ADAM), []
    for _ in range(ADAM_STEPS):
        before = loss(params)
        adam.step(params, cells.numeric_gradients(loss, params))
        out.append((before, {k: v.copy() for k, v in params.items()}))
    return out


# ---------------------------------------------------------------- one recurrent layer
def single(kind, s, dtype):
    rng = np.random.default_rng(s["seed"])
    use_bias = s.get("use_bias", True)
    activation = s.get("activation", "tanh")
    units, D, T, B = s["units"], s["input_dim"], s["timesteps"], s["batch"]
    w = draw_recurrent(rng, kind, D, units, use_bias)
    x = rng.uniform(-1.0, 1.0, (B, T, D))
    dense = draw_dense(rng, units, 1)
    y = rng.uniform(-1.0, 1.0, (B, 1))
    w_back = draw_recurrent(rng, kind, D, units, use_bias)
    W, W_back, DN, X, Y = (as_dtype(v, dtype) for v in (w, w_back, dense, x, y))
    W64, W_back64, DN64, X64, Y64 = (as_dtype(v, np.float64) for v in (W, W_back, DN, X, Y))
    opts = dict(activation=activation, use_bias=use_bias)
    shape = (B, T, D)
    checks, out = {}, {}

    # forward and go_backwards, with sequences and states
    for key, back in (("forward", False), ("go_backwards", True)):
        layer = built(recurrent(kind, units, dtype, return_sequences=True, return_state=True,
                                go_backwards=back, **opts), shape, W)
        got = [numpy_of(t) for t in layer(tf.constant(X))]
        seq, state, _ = cells.run(kind, X64, W64, activation, go_backwards=back)
        out[key] = {"seq": lists(got[0]), "h": lists(got[1])}
        checks[f"{key}_seq"] = worst(got[0], seq)
        checks[f"{key}_h"] = worst(got[1], state[0])
        if kind == "lstm":
            out[key]["c"] = lists(got[2])
            checks[f"{key}_c"] = worst(got[2], state[1])

    # Bidirectional, concatenated: the last output, and the whole sequence re-aligned in time
    seq_f, state_f, _ = cells.run(kind, X64, W64, activation)
    seq_b, state_b, _ = cells.run(kind, X64, W_back64, activation, go_backwards=True)
    bi = {"merge_mode": "concat", "forward_weights": {k: lists(v) for k, v in W.items()},
          "backward_weights": {k: lists(v) for k, v in W_back.items()}}
    for key, rs, want in (("last", False, np.concatenate([state_f[0], state_b[0]], -1)),
                          ("seq", True, np.concatenate([seq_f, seq_b[:, ::-1]], -1))):
        layer = keras.layers.Bidirectional(recurrent(kind, units, dtype, return_sequences=rs, **opts),
                                           merge_mode="concat", dtype=dtype)
        layer.build(shape)
        set_weights(layer.forward_layer, W)
        set_weights(layer.backward_layer, W_back)
        got = numpy_of(layer(tf.constant(X)))
        bi[key] = lists(got)
        checks[f"bidirectional_{key}"] = worst(got, want)

    # a Dense(1) head: prediction, mean squared error, every gradient
    body = built(recurrent(kind, units, dtype, **opts), shape, W)
    head = keras.layers.Dense(1, dtype=dtype)
    head.build((B, units))
    head.set_weights([DN["kernel"], DN["bias"]])
    x_var = tf.Variable(X)
    named = dict(weight_vars(body), dense_kernel=head.kernel, dense_bias=head.bias)

    def keras_loss():
        h = body(x_var)
        pred = head(h)
        return tf.reduce_mean(tf.square(pred - Y)), h, pred

    with tf.GradientTape() as tape:
        loss, h_last, pred = keras_loss()
    grads = dict(zip(list(named) + ["x"], tape.gradient(loss, list(named.values()) + [x_var])))
    grads = {k: numpy_of(g) for k, g in grads.items()}

    def numpy_loss(p):
        _, state, _ = cells.run(kind, p["x"], {k: p[k] for k in W64}, activation)
        return cells.mse(state[0] @ p["dense_kernel"] + p["dense_bias"], Y64)

    params = dict(W64, dense_kernel=DN64["kernel"], dense_bias=DN64["bias"], x=X64.copy())
    want_grads = cells.numeric_gradients(numpy_loss, params)
    checks["loss"] = abs(float(numpy_of(loss)) - numpy_loss(params))
    for k in grads:
        checks[f"grad_{k}"] = worst(grads[k], want_grads[k])
    regression = {"dense_kernel": lists(DN["kernel"]), "dense_bias": lists(DN["bias"]), "y": lists(Y),
                  "h_last": lists(numpy_of(h_last)), "pred": lists(numpy_of(pred)),
                  "loss": float(numpy_of(loss)),
                  "loss_keras_mse": float(numpy_of(keras.losses.MeanSquaredError()(Y, pred))),
                  "grads": {k: lists(v) for k, v in grads.items()}}

    # three Adam steps, each on a fresh gradient
    steps = keras_adam_steps(keras_loss, named, list(named.values()))
    check_adam_steps(checks, steps, params, numpy_loss)

    config = dict(units=units, input_dim=D, timesteps=T, batch=B, activation=activation,
                  use_bias=use_bias, initial_state="zeros", seed=s["seed"])
    if kind != "simple_rnn":
        config["recurrent_activation"] = "sigmoid"
    config.update({"lstm": dict(gate_order="i,f,c,o"),
                   "gru": dict(gate_order="z,r,h", reset_after=True, bias_rows="input,recurrent"),
                   "simple_rnn": {}}[kind])
    obj = {"config": config, "weights": {k: lists(v) for k, v in W.items()}, "x": lists(X),
           **out, "bidirectional": bi, "regression": regression,
           "adam": {"hyper": ADAM, "steps": steps}}
    if dtype == "float64":
        _, _, trace = cells.run(kind, X64, W64, activation)
        obj["gates_trace"] = [{k: (v if k == "t" else lists(v)) for k, v in entry.items()}
                              for entry in trace]
    return obj, checks


# ---------------------------------------------------------------- LSTM → LSTM → Dense(1)
def stacked(_, s, dtype):
    rng = np.random.default_rng(s["seed"])
    (u1, u2), D, T, B = s["units"], s["input_dim"], s["timesteps"], s["batch"]
    w1, w2 = draw_recurrent(rng, "lstm", D, u1), draw_recurrent(rng, "lstm", u1, u2)
    dense = draw_dense(rng, u2, 1)
    x, y = rng.uniform(-1.0, 1.0, (B, T, D)), rng.uniform(-1.0, 1.0, (B, 1))
    W1, W2, DN, X, Y = (as_dtype(v, dtype) for v in (w1, w2, dense, x, y))
    l1 = built(keras.layers.LSTM(u1, return_sequences=True, dtype=dtype), (B, T, D), W1)
    l2 = built(keras.layers.LSTM(u2, dtype=dtype), (B, T, u1), W2)
    head = keras.layers.Dense(1, dtype=dtype)
    head.build((B, u2))
    head.set_weights([DN["kernel"], DN["bias"]])
    x_var = tf.Variable(X)
    named = {"lstm1": weight_vars(l1), "lstm2": weight_vars(l2),
             "dense": {"kernel": head.kernel, "bias": head.bias}}
    flat = [v for group in named.values() for v in group.values()]

    def keras_loss():
        s1 = l1(x_var)
        h2 = l2(s1)
        pred = head(h2)
        return tf.reduce_mean(tf.square(pred - Y)), s1, h2, pred

    with tf.GradientTape() as tape:
        loss, s1, h2, pred = keras_loss()
    g = [numpy_of(v) for v in tape.gradient(loss, flat + [x_var])]
    grads, k = {}, 0
    for group, vs in named.items():
        grads[group] = {}
        for name in vs:
            grads[group][name] = g[k]
            k += 1
    grads["x"] = g[-1]

    def numpy_loss(p):
        seq1, _, _ = cells.run("lstm", p["x"], {k[6:]: v for k, v in p.items() if k.startswith("lstm1.")})
        _, (h, _), _ = cells.run("lstm", seq1, {k[6:]: v for k, v in p.items() if k.startswith("lstm2.")})
        return cells.mse(h @ p["dense.kernel"] + p["dense.bias"], p["y"])

    params = {f"{group}.{k}": as_dtype(v, np.float64) for group, w in (("lstm1", W1), ("lstm2", W2),
                                                                       ("dense", DN)) for k, v in w.items()}
    params["x"] = as_dtype(X, np.float64)
    want = cells.numeric_gradients(lambda p: numpy_loss(dict(p, y=as_dtype(Y, np.float64))), params)
    checks = {"loss": abs(float(numpy_of(loss)) - numpy_loss(dict(params, y=as_dtype(Y, np.float64))))}
    for group in named:
        for name in named[group]:
            checks[f"grad_{group}_{name}"] = worst(grads[group][name], want[f"{group}.{name}"])
    checks["grad_x"] = worst(grads["x"], want["x"])

    steps = keras_adam_steps(keras_loss, named, flat)
    check_adam_steps(checks, steps, params, lambda p: numpy_loss(dict(p, y=as_dtype(Y, np.float64))))

    obj = {"config": dict(input_dim=D, timesteps=T, batch=B, seed=s["seed"],
                          layers=[dict(type="LSTM", units=u1, return_sequences=True, activation="tanh"),
                                  dict(type="LSTM", units=u2, return_sequences=False, activation="tanh"),
                                  dict(type="Dense", units=1, activation="linear")],
                          loss="mean((pred-y)^2)"),
           "weights": {"lstm1": {k: lists(v) for k, v in W1.items()},
                       "lstm2": {k: lists(v) for k, v in W2.items()},
                       "dense": {k: lists(v) for k, v in DN.items()}},
           "x": lists(X), "y": lists(Y),
           "forward": {"lstm1_seq": lists(numpy_of(s1)), "lstm2_h": lists(numpy_of(h2)),
                       "pred": lists(numpy_of(pred)), "loss": float(numpy_of(loss))},
           "grads": {grp: ({k: lists(v) for k, v in grads[grp].items()} if grp != "x" else lists(grads[grp]))
                     for grp in grads},
           "adam": {"hyper": ADAM, "steps": steps}}
    return obj, checks


# ---------------------------------------------------------------- one-hot → LSTM → softmax
def charhead(_, s, dtype):
    rng = np.random.default_rng(s["seed"])
    units, V, T, B = s["units"], s["vocab"], s["timesteps"], s["batch"]
    w = draw_recurrent(rng, "lstm", V, units)
    dense = draw_dense(rng, units, V)
    x_idx, y_idx = rng.integers(0, V, (B, T)), rng.integers(0, V, (B,))
    W, DN = as_dtype(w, dtype), as_dtype(dense, dtype)
    X, Y = np.eye(V, dtype=dtype)[x_idx], np.eye(V, dtype=dtype)[y_idx]
    layer = built(keras.layers.LSTM(units, dtype=dtype), (B, T, V), W)
    head = keras.layers.Dense(V, activation="softmax", dtype=dtype)
    head.build((B, units))
    head.set_weights([DN["kernel"], DN["bias"]])
    x_var = tf.Variable(X)
    named = dict(weight_vars(layer), dense_kernel=head.kernel, dense_bias=head.bias)
    cce = keras.losses.CategoricalCrossentropy()

    def keras_loss():
        h = layer(x_var)
        probs = head(h)
        return cce(Y, probs), h, probs

    with tf.GradientTape() as tape:
        loss, h, probs = keras_loss()
    grads = {k: numpy_of(g) for k, g in zip(list(named) + ["x"],
                                            tape.gradient(loss, list(named.values()) + [x_var]))}
    logits = numpy_of(h) @ DN["kernel"] + DN["bias"]
    Y64 = Y.astype(np.float64)

    def numpy_forward(p):
        _, (h_last, _), _ = cells.run("lstm", p["x"], {k: p[k] for k in W})
        return cells.softmax(h_last @ p["dense_kernel"] + p["dense_bias"])

    def numpy_loss(p):
        return np.mean(-np.sum(Y64 * np.log(numpy_forward(p)), axis=1))

    params = dict(as_dtype(W, np.float64), dense_kernel=DN["kernel"].astype(np.float64),
                  dense_bias=DN["bias"].astype(np.float64), x=X.astype(np.float64))
    want = cells.numeric_gradients(numpy_loss, params)
    checks = {"probs": worst(numpy_of(probs), numpy_forward(params)),
              "loss": abs(float(numpy_of(loss)) - numpy_loss(params))}
    for k in grads:
        checks[f"grad_{k}"] = worst(grads[k], want[k])
    steps = keras_adam_steps(keras_loss, named, list(named.values()))
    check_adam_steps(checks, steps, params, numpy_loss)
    obj = {"config": dict(units=units, vocab=V, input_dim=V, timesteps=T, batch=B, seed=s["seed"],
                          input_encoding="one_hot", head="Dense(vocab, softmax)",
                          loss="CategoricalCrossentropy (Keras' defaults)"),
           "weights": {"lstm": {k: lists(v) for k, v in W.items()},
                       "dense": {k: lists(v) for k, v in DN.items()}},
           "x_indices": x_idx.tolist(), "y_indices": y_idx.tolist(), "x": lists(X), "y": lists(Y),
           "forward": {"h_last": lists(numpy_of(h)), "logits": lists(logits), "probs": lists(numpy_of(probs)),
                       "loss": float(numpy_of(loss))},
           "grads": {k: lists(v) for k, v in grads.items()},
           "adam": {"hyper": ADAM, "steps": steps}}
    return obj, checks


# ---------------------------------------------------------------- model.fit, batch by batch
def fit(_, s, dtype):
    rng = np.random.default_rng(s["seed"])
    units, N, T, batch, epochs = s["units"], s["samples"], s["timesteps"], s["batch_size"], s["epochs"]
    w = draw_recurrent(rng, "lstm", 1, units)
    dense = draw_dense(rng, units, 1)
    x = rng.uniform(0.0, 1.0, (N, T, 1))
    y = x[:, 0, :1] + x[:, 1, :1]
    W, DN, X, Y = (as_dtype(v, dtype) for v in (w, dense, x, y))
    model = keras.Sequential([keras.Input((T, 1), dtype=dtype), keras.layers.LSTM(units, dtype=dtype),
                              keras.layers.Dense(1, dtype=dtype)])
    set_weights(model.layers[0], W)
    model.layers[1].set_weights([DN["kernel"], DN["bias"]])
    model.compile(optimizer=keras.optimizers.Adam(**ADAM), loss="mse")
    per_epoch, running = [], []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, _, logs=None):
            running.append(float(logs["loss"]))

        def on_epoch_end(self, epoch, logs=None):
            ws = model.get_weights()
            per_epoch.append({"epoch": epoch + 1, "loss": float(logs["loss"]), "weights_after": {
                "lstm": {"kernel": lists(ws[0]), "recurrent_kernel": lists(ws[1]), "bias": lists(ws[2])},
                "dense": {"kernel": lists(ws[3]), "bias": lists(ws[4])}}})

    model.fit(X, Y, batch_size=batch, epochs=epochs, shuffle=False, verbose=0, callbacks=[Record()])

    # NumPy replay: one Adam step per batch (the last one partial); Keras reports each epoch's
    # loss as the batch-size-weighted mean of the losses before each step.
    p = dict(as_dtype(W, np.float64), dense_kernel=DN["kernel"].astype(np.float64),
             dense_bias=DN["bias"].astype(np.float64))
    adam, checks = cells.KerasAdam(**ADAM), {}
    for e in range(epochs):
        losses, sizes = [], []
        for start in range(0, N, batch):
            xb, yb = X[start:start + batch].astype(np.float64), Y[start:start + batch].astype(np.float64)

            def loss(q, xb=xb, yb=yb):
                _, (h, _), _ = cells.run("lstm", xb, {k: q[k] for k in W})
                return cells.mse(h @ q["dense_kernel"] + q["dense_bias"], yb)

            losses.append(loss(p))
            sizes.append(len(xb))
            adam.step(p, cells.numeric_gradients(loss, p))
        checks[f"epoch{e + 1}_loss"] = abs(per_epoch[e]["loss"] - float(np.average(losses, weights=sizes)))
        after = per_epoch[e]["weights_after"]
        checks[f"epoch{e + 1}_weights"] = max(
            [worst(after["lstm"][k], p[k]) for k in W]
            + [worst(after["dense"]["kernel"], p["dense_kernel"]), worst(after["dense"]["bias"], p["dense_bias"])])
    obj = {"config": dict(units=units, input_dim=1, timesteps=T, n_samples=N, batch_size=batch, epochs=epochs,
                          shuffle=False, optimizer="Adam (Keras' defaults)", loss="mse", seed=s["seed"],
                          target="y = x[:,0,0] + x[:,1,0]"),
           "initial_weights": {"lstm": {k: lists(v) for k, v in W.items()},
                               "dense": {k: lists(v) for k, v in DN.items()}},
           "x": lists(X), "y": lists(Y), "epochs": per_epoch, "keras_running_batch_losses": running}
    return obj, checks


MAKERS = {"lstm": single, "gru": single, "simple_rnn": single, "stacked": stacked, "charhead": charhead,
          "fit": fit}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(HERE, "..", "..", "lstm-core", "tests", "golden"))
    parser.add_argument("names", nargs="*", help="only these cases (default: all)")
    args = parser.parse_args()
    unknown = set(args.names) - {name for _, name, _ in CASES}
    if unknown:
        sys.exit(f"unknown case(s) {sorted(unknown)}; the cases are {[n for _, n, _ in CASES]}")
    os.makedirs(args.out, exist_ok=True)
    versions = keras_env.versions()
    for kind, name, settings in CASES:
        if args.names and name not in args.names:
            continue
        for dtype in ("float64", "float32"):
            keras.config.set_floatx(dtype)
            obj, checks = MAKERS[kind](kind, settings, dtype)
            bad = {k: v for k, v in checks.items() if not v <= CHECK_LIMIT[dtype]}
            if bad:
                sys.exit(f"{name} {dtype}: Keras and NumPy disagree: {bad}")
            head = {"format_version": 1, "kind": KIND_TAG[kind], "name": name, "dtype": dtype,
                    "generator": "scripts/keras/golden.py", "versions": versions}
            path = os.path.join(args.out, f"{name}_{dtype}.json")
            with open(path, "w") as f:
                json.dump({**head, **obj, "checks": checks}, f, indent=1)
                f.write("\n")
            print(f"{path}: worst |Keras - NumPy| {max(checks.values()):.1e}")
    keras.config.set_floatx("float32")


if __name__ == "__main__":
    main()
