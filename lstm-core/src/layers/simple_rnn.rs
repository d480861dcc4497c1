//! `SimpleRNN`: the cell of [`crate::math::simple_rnn`] run over time by the shared recurrent layer.

use ndarray::{Array1, ArrayD, ArrayViewD, Axis};

use super::recurrent::machinery::{Cell, Recurrence, StepGrads, Steps, StepsRef};
use super::recurrent::{Recurrent, RecurrentKind, add_output_grad, product_transposed};
use crate::math::activation::Activation;
use crate::math::simple_rnn;

/// `keras.layers.SimpleRNN`: `h_t = act(x_t·W + b + h_{t-1}·U)`. Weights in Keras layout:
/// `kernel [in, u]`, `recurrent_kernel [u, u]`, `bias [u]`; `u·(in + u + 1)` parameters.
///
/// Defaults as in Keras: `activation` tanh (relu allowed), `use_bias` true, glorot-uniform
/// kernel, orthogonal recurrent kernel, zero bias, and the same `return_sequences`,
/// `return_state`, `go_backwards`, `stateful`, `dropout` as [`Lstm`](crate::Lstm).
pub type SimpleRnn = Recurrent<SimpleRnnCell>;

/// The plain RNN's cell for [`Recurrent`]: equations in [`crate::math::simple_rnn`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SimpleRnnCell;

impl super::recurrent::HiddenStateOnly for SimpleRnnCell {}

impl Cell for SimpleRnnCell {
    const CLASS: &'static str = "SimpleRNN";
    const BASE: &'static str = "simple_rnn";
    const KIND: RecurrentKind = RecurrentKind::SimpleRnn;
    const GATES: usize = 1;
    const CELL_STATE: bool = false;
    const RECURRENT_BIAS: bool = false;
    const AUX_BLOCKS: usize = 0;

    fn initial_bias(units: usize) -> ArrayD<f32> {
        Array1::<f32>::zeros(units).into_dyn()
    }

    fn forward(mut s: Steps<'_>, recurrence: &Recurrence<'_>, activation: Activation) {
        for t in 0..s.gates.len_of(Axis(0)) {
            // a_t = x_t·W + b + h_{t-1}·U
            s.input_and_recurrent_product(t, recurrence);
            let a_t = s.gates.index_axis_mut(Axis(0), t);
            let (_, mut h_after) = s.h.view_mut().split_at(Axis(0), t + 1);
            simple_rnn::step_in_place(a_t, h_after.index_axis_mut(Axis(0), 0), activation);
        }
    }

    fn backward(
        s: StepsRef<'_>,
        recurrence: &Recurrence<'_>,
        grad_output: ArrayViewD<'_, f32>,
        mut g: StepGrads<'_>,
        activation: Activation,
    ) {
        let timesteps = s.gates.len_of(Axis(0));
        g.dh.fill(0.0);
        for t in (0..timesteps).rev() {
            add_output_grad(&mut g.dh, &grad_output, t, timesteps);
            // After forward, gates[t] holds h_t.
            simple_rnn::step_backward_in_place(
                s.gates.index_axis(Axis(0), t),
                g.dh.view(),
                g.d_in.index_axis_mut(Axis(0), t),
                activation,
            );
            if t > 0 {
                // dh_{t-1} = da_t·Uᵀ
                let da = g.d_in.index_axis(Axis(0), t);
                product_transposed(&mut g.dh, da, recurrence, 0.0);
            }
        }
    }
}
