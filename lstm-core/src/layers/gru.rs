//! `GRU`: the cell of [`crate::math::gru`] run over time by the shared recurrent layer.

use ndarray::{Array2, ArrayD, ArrayViewD, Axis};

use super::recurrent::machinery::{Cell, Recurrence, StepGrads, Steps, StepsRef};
use super::recurrent::{
    Recurrent, RecurrentKind, add_output_grad, add_product, product_transposed,
};
use crate::math::activation::Activation;
use crate::math::gru;

/// `keras.layers.GRU` with Keras 3's defaults (`reset_after=True`). Weights in Keras layout:
/// `kernel [in, 3u]`, `recurrent_kernel [u, 3u]`, `bias [2, 3u]` (row 0 for the input
/// product, row 1 for the recurrent one), blocks packed z, r, h; `3·u·(in + u + 2)` parameters.
///
/// Defaults as in Keras: `activation` tanh (relu allowed), recurrent activation sigmoid,
/// `use_bias` true, glorot-uniform kernel, orthogonal recurrent kernel, zero bias, and the same
/// `return_sequences`, `return_state`, `go_backwards`, `stateful`, `dropout` as [`Lstm`](crate::Lstm).
pub type Gru = Recurrent<GruCell>;

/// The GRU's cell for [`Recurrent`]: equations in [`crate::math::gru`].
#[derive(Debug, Clone, Copy, Default)]
pub struct GruCell;

impl super::recurrent::HiddenStateOnly for GruCell {}

impl Cell for GruCell {
    const CLASS: &'static str = "GRU";
    const BASE: &'static str = "gru";
    const KIND: RecurrentKind = RecurrentKind::Gru;
    const GATES: usize = 3;
    const CELL_STATE: bool = false;
    const RECURRENT_BIAS: bool = true;
    /// `hp_h`, the candidate block of `h_{t-1}·U + b_h`, before the reset gate.
    const AUX_BLOCKS: usize = 1;

    fn initial_bias(units: usize) -> ArrayD<f32> {
        Array2::<f32>::zeros((2, 3 * units)).into_dyn()
    }

    fn forward(mut s: Steps<'_>, recurrence: &Recurrence<'_>, activation: Activation) {
        for t in 0..s.gates.len_of(Axis(0)) {
            s.project_input(t);
            // hp = h_{t-1}·U + b_h
            match recurrence.bias {
                Some(bias) => s.work.assign(&bias),
                None => s.work.fill(0.0),
            }
            add_product(&mut s.work, s.h.index_axis(Axis(0), t), recurrence);
            let (h_before, mut h_after) = s.h.view_mut().split_at(Axis(0), t + 1);
            gru::step_in_place(
                s.gates.index_axis_mut(Axis(0), t),
                s.work.view(),
                h_before.index_axis(Axis(0), t),
                s.aux.index_axis_mut(Axis(0), t),
                h_after.index_axis_mut(Axis(0), 0),
                activation,
            );
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
            gru::step_backward_in_place(
                s.gates.index_axis(Axis(0), t),
                s.h.index_axis(Axis(0), t),
                s.aux.index_axis(Axis(0), t),
                g.dh.view_mut(),
                g.d_in.index_axis_mut(Axis(0), t),
                g.d_rec.index_axis_mut(Axis(0), t),
                activation,
            );
            if t > 0 {
                // dh_{t-1} = dh·z (already in dh) + d_rec·Uᵀ
                let d_rec = g.d_rec.index_axis(Axis(0), t);
                product_transposed(&mut g.dh, d_rec, recurrence, 1.0);
            }
        }
    }
}
