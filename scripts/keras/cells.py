"""The recurrent cells in plain float64 NumPy, written from their equations: the independent
check of every golden file. Gradients come from complex-step differentiation of these forward
passes (exact to rounding, and no code shared with TensorFlow's backpropagation), so every
function here also runs on complex arrays."""
import numpy as np

# relu keeps its input where the real part is positive, so that it also works on complex steps.
ACTIVATIONS = {"tanh": np.tanh, "relu": lambda a: np.where(a.real > 0, a, 0.0), "linear": lambda a: a}


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def lstm_step(x_t, state, w, act):
    """Keras' LSTMCell: gates i, f, c (the candidate g), o along the 4u axis."""
    h, c = state
    u = h.shape[1]
    z = x_t @ w["kernel"] + h @ w["recurrent_kernel"] + w.get("bias", 0.0)
    i, f = sigmoid(z[:, :u]), sigmoid(z[:, u:2 * u])
    g, o = act(z[:, 2 * u:3 * u]), sigmoid(z[:, 3 * u:])
    c = f * c + i * g
    h = o * act(c)
    return (h, c), {"i": i, "f": f, "g": g, "o": o, "c": c, "h": h}


def gru_step(x_t, state, w, act):
    """Keras' GRUCell with reset_after=True: blocks z, r, h; bias rows input, recurrent."""
    (h,) = state
    u = h.shape[1]
    b = w.get("bias", np.zeros((2, 3 * u)))
    xp = x_t @ w["kernel"] + b[0]
    hp = h @ w["recurrent_kernel"] + b[1]
    z = sigmoid(xp[:, :u] + hp[:, :u])
    r = sigmoid(xp[:, u:2 * u] + hp[:, u:2 * u])
    hh = act(xp[:, 2 * u:] + r * hp[:, 2 * u:])
    h = z * h + (1.0 - z) * hh
    return (h,), {"z": z, "r": r, "hp_h": hp[:, 2 * u:], "hh": hh, "h": h}


def simple_rnn_step(x_t, state, w, act):
    (h,) = state
    a = x_t @ w["kernel"] + w.get("bias", 0.0) + h @ w["recurrent_kernel"]
    h = act(a)
    return (h,), {"a": a, "h": h}


STEPS = {"lstm": (lstm_step, 2), "gru": (gru_step, 1), "simple_rnn": (simple_rnn_step, 1)}


def run(kind, x, w, activation="tanh", go_backwards=False):
    """The layer over `x` [B, T, D]: the outputs in processing order (as Keras returns them),
    the final states, and every step's intermediate values with its time index."""
    step, n_states = STEPS[kind]
    act = ACTIVATIONS[activation]
    units = w["recurrent_kernel"].shape[0]
    state = tuple(np.zeros((x.shape[0], units)) for _ in range(n_states))
    order = range(x.shape[1] - 1, -1, -1) if go_backwards else range(x.shape[1])
    seq, trace = [], []
    for t in order:
        state, values = step(x[:, t], state, w, act)
        seq.append(state[0])
        trace.append(dict(values, t=t))
    return np.stack(seq, axis=1), state, trace


def mse(pred, y):
    return np.mean((pred - y) ** 2)


def softmax(logits):
    e = np.exp(logits - logits.real.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def numeric_gradients(loss, params, step=1e-30):
    """d loss / d every entry of every array in `params` (a dict), by complex steps:
    f'(x) = Im f(x + i·h) / h, with no cancellation, so exact to rounding."""
    grads = {}
    for name, value in params.items():
        g = np.zeros(value.shape)
        for index in np.ndindex(value.shape):
            moved = value.astype(complex)
            moved[index] += 1j * step
            g[index] = np.imag(loss(dict(params, **{name: moved}))) / step
        grads[name] = g
    return grads


class KerasAdam:
    """Keras 3's Adam: epsilon outside the bias correction, and beta^t from float32 betas (Keras
    casts the betas through float32 even for float64 variables)."""

    def __init__(self, learning_rate, beta_1, beta_2, epsilon):
        self.lr, self.beta_1, self.beta_2, self.epsilon = learning_rate, beta_1, beta_2, epsilon
        self.m, self.v, self.t = {}, {}, 0

    def step(self, params, grads):
        self.t += 1
        b1t = float(np.float32(self.beta_1)) ** self.t
        b2t = float(np.float32(self.beta_2)) ** self.t
        alpha = self.lr * np.sqrt(1 - b2t) / (1 - b1t)
        for k, g in grads.items():
            m = self.m.setdefault(k, np.zeros_like(g))
            v = self.v.setdefault(k, np.zeros_like(g))
            m += (g - m) * (1 - self.beta_1)
            v += (g * g - v) * (1 - self.beta_2)
            params[k] = params[k] - alpha * m / (np.sqrt(v) + self.epsilon)
