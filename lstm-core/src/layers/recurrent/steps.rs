//! The views a time loop works on: every step's buffers as `[steps, batch, ..]`, the recurrent
//! weights (whole, packed, or split by units between the cores), and the products with `U`.
//! The layer's loops and a cell's own loops (the LSTM's unit split) use them.

use ndarray::{
    ArrayView1, ArrayView2, ArrayView3, ArrayViewD, ArrayViewMut2, ArrayViewMut3, Axis, s,
};

use crate::engine::packed::PackedMatrix;

/// Forward buffers as `[steps, batch, ..]` views.
pub struct Steps<'a> {
    /// `[T, B, G·u]`: each step writes its projection here, and the cell its gate values.
    pub gates: ArrayViewMut3<'a, f32>,
    /// `[T+1, B, u]`: block 0 the initial `h`, block t+1 the `h` after step t.
    pub h: ArrayViewMut3<'a, f32>,
    /// The same for the states after `h`, side by side (`[T+1, B, 0]` for a cell with `h` only).
    pub c: ArrayViewMut3<'a, f32>,
    /// `[T, B, SAVED_BLOCKS·u]`: what the steps save for their steps back.
    pub aux: ArrayViewMut3<'a, f32>,
    /// `[B, G·u]` work space for one step's recurrent product.
    pub work: ArrayViewMut2<'a, f32>,
    /// Inputs `[T, B, features]` in processing order.
    pub x: ArrayView3<'a, f32>,
    /// `W` and the bias row: each step computes its own input projection just before its
    /// recurrent product reads it ([`Steps::project_input`]).
    pub input: InputProjection<'a>,
    /// The cell's own weights.
    pub own: &'a [ArrayViewD<'a, f32>],
}

/// `W` packed and the bias row: a step's input projection is `b + x_t·W`.
#[derive(Clone, Copy)]
pub struct InputProjection<'a> {
    /// `W` packed for the SIMD kernel.
    pub kernel: &'a PackedMatrix,
    /// The bias row added to every row (zeros without bias).
    pub bias: ArrayView1<'a, f32>,
}

impl Steps<'_> {
    /// `gates[t] = (b + x_t·W) + h_{t-1}·U`: [`Steps::project_input`] then the recurrent
    /// product, the same bits, in one pass over the step's block when `U` is packed and
    /// `W` shallow (`PackedMatrix::multiply_after_input`).
    pub fn input_and_recurrent_product(&mut self, t: usize, recurrence: &Recurrence) {
        if let Some(packed) = recurrence.packed {
            let input = self.input;
            packed.multiply_after_input(
                self.h.index_axis(Axis(0), t),
                input.kernel,
                self.x.index_axis(Axis(0), t),
                input.bias,
                self.gates.index_axis_mut(Axis(0), t),
            );
            return;
        }
        self.project_input(t);
        let mut z_t = self.gates.index_axis_mut(Axis(0), t);
        add_product(&mut z_t, self.h.index_axis(Axis(0), t), recurrence);
    }

    /// Writes step t's input projection `b + x_t·W` into `gates[t]`, if steps project their
    /// own: the same values as one product over every step (each row is computed alike), but
    /// written while the step's block is in cache, not for all steps ahead of time.
    pub fn project_input(&mut self, t: usize) {
        let gates = self.gates.index_axis_mut(Axis(0), t);
        self.input
            .kernel
            .multiply_onto_row(self.x.index_axis(Axis(0), t), self.input.bias, gates);
    }
}

/// The forward buffers, read-only, for backward.
pub struct StepsRef<'a> {
    /// Gate values `[T, B, G·u]`.
    pub gates: ArrayView3<'a, f32>,
    /// `h` `[T+1, B, u]` (block t is `h_{t-1}` of step t).
    pub h: ArrayView3<'a, f32>,
    /// The states after `h`, likewise.
    pub c: ArrayView3<'a, f32>,
    /// What the steps saved, `[T, B, SAVED_BLOCKS·u]`.
    pub aux: ArrayView3<'a, f32>,
    /// The cell's own weights.
    pub own: &'a [ArrayViewD<'a, f32>],
}

/// The recurrent weights: `U` and, when the product is kept apart, the recurrent bias row.
pub struct Recurrence<'a> {
    /// `recurrent_kernel [u, G·u]`.
    pub kernel: ArrayView2<'a, f32>,
    /// Row 1 of a `[2, G·u]` bias; `None` without bias (zeros) or when the product is summed.
    pub bias: Option<ArrayView1<'a, f32>>,
    /// `U` packed (forward) or `Uᵀ` packed (backward) when the step products are large
    /// enough for the SIMD kernel; `None` for the direct loop.
    pub packed: Option<&'a PackedMatrix>,
    /// Set when the pass splits the units, not the batch, between the two cores.
    pub by_units: Option<UnitSplit<'a>>,
}

/// `U` in two halves by units: units `..at` run on one core, `at..` on the other.
#[derive(Clone, Copy)]
pub struct UnitSplit<'a> {
    /// The first unit of the second half.
    pub at: usize,
    /// Forward: `U[:, G·k + range]` for each half, then each gate block k
    /// (`parts[half · G + k]`). Backward: `U[range, :]ᵀ` for each half (`parts[half]`).
    pub parts: &'a [PackedMatrix],
    /// Forward: `W`'s columns likewise (`input_parts[half · G + k]`), for each part's input
    /// projection; empty backward.
    pub input_parts: &'a [PackedMatrix],
}

impl Steps<'_> {
    /// Rows `..at` and `at..` of the batch: independent through time.
    pub fn split_batch(self, at: usize) -> (Self, Self) {
        let (gates, gates_rest) = self.gates.split_at(Axis(1), at);
        let (h, h_rest) = self.h.split_at(Axis(1), at);
        let (c, c_rest) = self.c.split_at(Axis(1), at);
        let (aux, aux_rest) = self.aux.split_at(Axis(1), at);
        let (work, work_rest) = self.work.split_at(Axis(0), at);
        let (x, x_rest) = self.x.split_at(Axis(1), at);
        (
            Steps {
                gates,
                h,
                c,
                aux,
                work,
                x,
                input: self.input,
                own: self.own,
            },
            Steps {
                gates: gates_rest,
                h: h_rest,
                c: c_rest,
                aux: aux_rest,
                work: work_rest,
                x: x_rest,
                input: self.input,
                own: self.own,
            },
        )
    }
}

impl StepsRef<'_> {
    /// Rows `..at` and `at..` of the batch.
    pub fn split_batch(self, at: usize) -> (Self, Self) {
        let (gates, gates_rest) = self.gates.split_at(Axis(1), at);
        let (h, h_rest) = self.h.split_at(Axis(1), at);
        let (c, c_rest) = self.c.split_at(Axis(1), at);
        let (aux, aux_rest) = self.aux.split_at(Axis(1), at);
        (
            StepsRef {
                gates,
                h,
                c,
                aux,
                own: self.own,
            },
            StepsRef {
                gates: gates_rest,
                h: h_rest,
                c: c_rest,
                aux: aux_rest,
                own: self.own,
            },
        )
    }
}

/// Backward outputs and work buffers.
pub struct StepGrads<'a> {
    /// `[T, B, G·u]`: d(loss)/d(input projection) of every step.
    pub d_in: ArrayViewMut3<'a, f32>,
    /// `[T, B, G·u]`: d(loss)/d(recurrent projection) when kept apart (`[T, B, 0]` otherwise:
    /// the two projections are summed before any nonlinearity, so `d_in` serves both).
    pub d_rec: ArrayViewMut3<'a, f32>,
    /// `[B, u]`: the gradient reaching `h` of the current step.
    pub dh: ArrayViewMut2<'a, f32>,
    /// The gradient reaching the states after `h`.
    pub dc: ArrayViewMut2<'a, f32>,
}

impl StepGrads<'_> {
    /// Rows `..at` and `at..` of the batch.
    pub fn split_batch(self, at: usize) -> (Self, Self) {
        let (d_in, d_in_rest) = self.d_in.split_at(Axis(1), at);
        let (d_rec, d_rec_rest) = self.d_rec.split_at(Axis(1), at);
        let (dh, dh_rest) = self.dh.split_at(Axis(0), at);
        let (dc, dc_rest) = self.dc.split_at(Axis(0), at);
        (
            StepGrads {
                d_in,
                d_rec,
                dh,
                dc,
            },
            StepGrads {
                d_in: d_in_rest,
                d_rec: d_rec_rest,
                dh: dh_rest,
                dc: dc_rest,
            },
        )
    }
}

/// `z += h·U` (`h: [B, u]`, `U: [u, G·u]`).
pub(crate) fn add_product(z: &mut ArrayViewMut2<f32>, h: ArrayView2<f32>, rec: &Recurrence) {
    if let Some(packed) = rec.packed {
        packed.multiply(h, z.view_mut(), true);
        return;
    }
    let u = rec.kernel;
    for (mut z_row, h_row) in z.rows_mut().into_iter().zip(h.rows()) {
        for (&h_p, u_row) in h_row.iter().zip(u.rows()) {
            z_row.scaled_add(h_p, &u_row);
        }
    }
}

/// `dh = dz·Uᵀ` (`beta` 0) or `dh += dz·Uᵀ` (`beta` 1), with `dz: [B, G·u]`, `U: [u, G·u]`.
pub(crate) fn product_transposed(
    dh: &mut ArrayViewMut2<f32>,
    dz: ArrayView2<f32>,
    rec: &Recurrence,
    beta: f32,
) {
    debug_assert!(beta == 0.0 || beta == 1.0);
    if let Some(packed_t) = rec.packed {
        packed_t.multiply(dz, dh.view_mut(), beta != 0.0);
        return;
    }
    let u = rec.kernel;
    for (mut dh_row, dz_row) in dh.rows_mut().into_iter().zip(dz.rows()) {
        for (out, u_row) in dh_row.iter_mut().zip(u.rows()) {
            *out = beta * *out + dz_row.dot(&u_row);
        }
    }
}

/// Adds the gradient of the layer's output at step `t` of `timesteps` to `dh`: every step's with
/// `return_sequences` (`[B, T, u]`), else the last step's only (`[B, u]`).
pub(crate) fn add_output_grad(
    dh: &mut ArrayViewMut2<f32>,
    grad_output: &ArrayViewD<f32>,
    t: usize,
    timesteps: usize,
) {
    if grad_output.ndim() == 3 {
        *dh += &grad_output.slice(s![.., t, ..]);
    } else if t == timesteps - 1 {
        *dh += grad_output;
    }
}
