//! `SimpleRNN`: the cell of [`crate::math::simple_rnn`], one step forward and back, for the
//! shared recurrent layer.

use std::any::Any;

use super::recurrent::cell::{Cell, StepBackward, StepForward};
use super::recurrent::{HiddenStateOnly, Passes, Recurrent};
use crate::math::simple_rnn as equations;

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

impl HiddenStateOnly for SimpleRnnCell {}

impl Cell for SimpleRnnCell {
    const CLASS: &'static str = "SimpleRNN";
    const BASE: &'static str = "simple_rnn";
    const GATES: usize = 1;

    fn step(s: StepForward<'_>) {
        // a_t = x_t·W + b + h_{t-1}·U is in s.gates; h_t = act(a_t) stays there too.
        equations::step_in_place(s.gates, s.h, s.activation);
    }

    fn step_back(mut s: StepBackward<'_>) {
        equations::step_backward_in_place(s.gates, s.dh.view(), s.d_gates, s.activation);
        // h_{t-1} reaches h_t only through U.
        s.dh.fill(0.0);
    }

    fn compiled_passes() -> Option<&'static dyn Any> {
        static PASSES: Passes = Passes::of::<SimpleRnnCell>();
        Some(&PASSES)
    }
}
