//! The LSTM cell, gate by gate, written like the equations.
//!
//! Every function works on a batch: one row per sequence. For one sequence, use a batch of one.
//! The [`Lstm`](crate::Lstm) layer runs [`step_from_preactivations`] and [`step_backward`], so what
//! you read here is what trains.
//!
//! ```text
//! z   = x_t·W + h_{t-1}·U + b      four gates packed side by side: [ i | f | c | o ]
//! i_t = σ(z_i)                     input gate: how much new information to write
//! f_t = σ(z_f)                     forget gate: how much of the old cell state to keep
//! g_t = tanh(z_c)                  candidate: the new information itself
//! o_t = σ(z_o)                     output gate: how much of the cell state to show
//! c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t  cell state update
//! h_t = o_t ⊙ tanh(c_t)            hidden state (the layer's output)
//! ```

use ndarray::{Array2, ArrayView1, ArrayView2, Zip, s};

use crate::activation::{Activation, sigmoid};

/// The four gates in Keras' order along the packed `4·units` axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Input,
    Forget,
    Candidate,
    Output,
}

impl Gate {
    pub const ALL: [Gate; 4] = [Gate::Input, Gate::Forget, Gate::Candidate, Gate::Output];

    /// Position of this gate's block along the packed axis (i, f, c, o).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The letter used in the equations.
    pub fn symbol(self) -> &'static str {
        ["i", "f", "g", "o"][self.index()]
    }
}

/// This gate's columns of a packed `[.., 4·units]` array.
pub fn gate_slice(packed: ArrayView2<'_, f32>, gate: Gate) -> ArrayView2<'_, f32> {
    let units = packed.ncols() / 4;
    let start = gate.index() * units;
    packed.slice_move(s![.., start..start + units])
}

/// This gate's part of a packed `[4·units]` bias.
pub fn gate_bias(packed: ArrayView1<'_, f32>, gate: Gate) -> ArrayView1<'_, f32> {
    let units = packed.len() / 4;
    let start = gate.index() * units;
    packed.slice_move(s![start..start + units])
}

/// `z = x·W + h_prev·U + b`, for one gate (`W: [in, u]`) or all four packed (`W: [in, 4u]`).
pub fn preactivation(
    x: ArrayView2<f32>,
    h_prev: ArrayView2<f32>,
    kernel: ArrayView2<f32>,
    recurrent_kernel: ArrayView2<f32>,
    bias: ArrayView1<f32>,
) -> Array2<f32> {
    x.dot(&kernel) + h_prev.dot(&recurrent_kernel) + bias
}

/// `i_t = σ(z_i)`
pub fn input_gate(z_i: ArrayView2<f32>) -> Array2<f32> {
    z_i.mapv(sigmoid)
}

/// `f_t = σ(z_f)`
pub fn forget_gate(z_f: ArrayView2<f32>) -> Array2<f32> {
    z_f.mapv(sigmoid)
}

/// `g_t = act(z_c)`, where `act` is the layer's activation (tanh by default).
pub fn candidate(z_c: ArrayView2<f32>, activation: Activation) -> Array2<f32> {
    z_c.mapv(|v| activation.apply(v))
}

/// `o_t = σ(z_o)`
pub fn output_gate(z_o: ArrayView2<f32>) -> Array2<f32> {
    z_o.mapv(sigmoid)
}

/// `c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t`
pub fn update_cell_state(
    f: ArrayView2<f32>,
    c_prev: ArrayView2<f32>,
    i: ArrayView2<f32>,
    g: ArrayView2<f32>,
) -> Array2<f32> {
    Zip::from(f)
        .and(c_prev)
        .and(i)
        .and(g)
        .map_collect(|&f, &c, &i, &g| f * c + i * g)
}

/// `h_t = o_t ⊙ act(c_t)`
pub fn hidden_state(o: ArrayView2<f32>, c: ArrayView2<f32>, activation: Activation) -> Array2<f32> {
    Zip::from(o)
        .and(c)
        .map_collect(|&o, &c| o * activation.apply(c))
}

/// Everything one step computes; the layer keeps these for backpropagation and for `inspect`.
#[derive(Debug, Clone, PartialEq)]
pub struct CellStep {
    pub i: Array2<f32>,
    pub f: Array2<f32>,
    pub g: Array2<f32>,
    pub o: Array2<f32>,
    pub c: Array2<f32>,
    pub h: Array2<f32>,
}

/// One step from the packed pre-activations `z = x·W + h_prev·U + b` (`[batch, 4u]`).
pub fn step_from_preactivations(
    z: ArrayView2<f32>,
    c_prev: ArrayView2<f32>,
    activation: Activation,
) -> CellStep {
    let i = input_gate(gate_slice(z, Gate::Input));
    let f = forget_gate(gate_slice(z, Gate::Forget));
    let g = candidate(gate_slice(z, Gate::Candidate), activation);
    let o = output_gate(gate_slice(z, Gate::Output));
    let c = update_cell_state(f.view(), c_prev, i.view(), g.view());
    let h = hidden_state(o.view(), c.view(), activation);
    CellStep { i, f, g, o, c, h }
}

/// One full step of the cell with packed Keras weights
/// (`kernel: [in, 4u]`, `recurrent_kernel: [u, 4u]`, `bias: [4u]`).
pub fn step(
    x: ArrayView2<f32>,
    h_prev: ArrayView2<f32>,
    c_prev: ArrayView2<f32>,
    kernel: ArrayView2<f32>,
    recurrent_kernel: ArrayView2<f32>,
    bias: ArrayView1<f32>,
    activation: Activation,
) -> CellStep {
    let z = preactivation(x, h_prev, kernel, recurrent_kernel, bias);
    step_from_preactivations(z.view(), c_prev, activation)
}

/// Backpropagation through one step.
///
/// Given `dh` (gradient reaching `h_t`) and `dc_next` (gradient reaching `c_t` from step t+1),
/// returns `(dz, dc_prev)`: the gradient of the packed pre-activations `[batch, 4u]` and of `c_{t-1}`.
pub fn step_backward(
    step: &CellStep,
    c_prev: ArrayView2<f32>,
    dh: ArrayView2<f32>,
    dc_next: ArrayView2<f32>,
    activation: Activation,
) -> (Array2<f32>, Array2<f32>) {
    let (batch, units) = step.c.dim();
    let mut dz = Array2::zeros((batch, 4 * units));
    let mut dc_prev = Array2::zeros((batch, units));
    for b in 0..batch {
        for u in 0..units {
            let (i, f, g, o) = (
                step.i[[b, u]],
                step.f[[b, u]],
                step.g[[b, u]],
                step.o[[b, u]],
            );
            let act_c = activation.apply(step.c[[b, u]]);
            let dh = dh[[b, u]];
            // h = o·act(c)
            let d_o = dh * act_c;
            let dc = dc_next[[b, u]] + dh * o * activation.derivative_from_output(act_c);
            // c = f·c_prev + i·g
            let d_f = dc * c_prev[[b, u]];
            let d_i = dc * g;
            let d_g = dc * i;
            dz[[b, u]] = d_i * i * (1.0 - i);
            dz[[b, units + u]] = d_f * f * (1.0 - f);
            dz[[b, 2 * units + u]] = d_g * activation.derivative_from_output(g);
            dz[[b, 3 * units + u]] = d_o * o * (1.0 - o);
            dc_prev[[b, u]] = dc * f;
        }
    }
    (dz, dc_prev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr1, arr2};

    #[test]
    fn one_unit_step_matches_hand_computation() {
        // units = 1, input_dim = 1: z = x·W + h·U + b per gate.
        let kernel = arr2(&[[0.5, -0.3, 0.8, 0.1]]);
        let recurrent = arr2(&[[0.2, 0.4, -0.6, 0.7]]);
        let bias = arr1(&[0.0, 1.0, 0.1, -0.2]);
        let (x, h, c) = (arr2(&[[2.0]]), arr2(&[[0.5]]), arr2(&[[-1.0]]));
        let out = step(
            x.view(),
            h.view(),
            c.view(),
            kernel.view(),
            recurrent.view(),
            bias.view(),
            Activation::Tanh,
        );
        let sig = |v: f32| 1.0 / (1.0 + (-v).exp());
        let i = sig(2.0 * 0.5 + 0.5 * 0.2);
        let f = sig(2.0 * -0.3 + 0.5 * 0.4 + 1.0);
        let g = (2.0f32 * 0.8 + 0.5 * -0.6 + 0.1).tanh();
        let o = sig(2.0 * 0.1 + 0.5 * 0.7 - 0.2);
        let c_new = -f + i * g; // c_prev = -1
        let h_new = o * c_new.tanh();
        for (got, want) in [
            (out.i[[0, 0]], i),
            (out.f[[0, 0]], f),
            (out.g[[0, 0]], g),
            (out.o[[0, 0]], o),
            (out.c[[0, 0]], c_new),
            (out.h[[0, 0]], h_new),
        ] {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
    }

    #[test]
    fn backward_matches_finite_differences() {
        let units = 2;
        let z = arr2(&[[0.3, -0.2, 0.5, 0.1, -0.4, 0.9, 0.2, -0.7]]);
        let c_prev = arr2(&[[0.4, -0.6]]);
        let (dh, dc_next) = (arr2(&[[1.0, -0.5]]), arr2(&[[0.3, 0.2]]));
        for act in [Activation::Tanh, Activation::Relu] {
            let loss = |z: &Array2<f32>, c_prev: &Array2<f32>| {
                let s = step_from_preactivations(z.view(), c_prev.view(), act);
                (&s.h * &dh).sum() + (&s.c * &dc_next).sum()
            };
            let s = step_from_preactivations(z.view(), c_prev.view(), act);
            let (dz, dc_prev) = step_backward(&s, c_prev.view(), dh.view(), dc_next.view(), act);
            let h = 1e-3;
            for k in 0..4 * units {
                let (mut zp, mut zm) = (z.clone(), z.clone());
                zp[[0, k]] += h;
                zm[[0, k]] -= h;
                let numeric = (loss(&zp, &c_prev) - loss(&zm, &c_prev)) / (2.0 * h);
                assert!(
                    (numeric - dz[[0, k]]).abs() < 2e-3,
                    "{act:?} dz[{k}]: {numeric} vs {}",
                    dz[[0, k]]
                );
            }
            for u in 0..units {
                let (mut cp, mut cm) = (c_prev.clone(), c_prev.clone());
                cp[[0, u]] += h;
                cm[[0, u]] -= h;
                let numeric = (loss(&z, &cp) - loss(&z, &cm)) / (2.0 * h);
                assert!((numeric - dc_prev[[0, u]]).abs() < 2e-3);
            }
        }
    }
}
