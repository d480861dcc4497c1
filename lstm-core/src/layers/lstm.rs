//! `LSTM`: the cell of [`crate::math::lstm`], one step forward and back, for the shared
//! recurrent layer; and its own time loops that split the units between the two cores.

use std::any::Any;

use ndarray::{Array2, Array3, ArrayD, ArrayView2, ArrayViewD, ArrayViewMut2, Axis, s};

use super::recurrent::cell::{
    Cell, RecurrentProduct, StepBackward, StepForward, UnitSplitLoops, WeightSpec, standard_weights,
};
use super::recurrent::steps::{StepGrads, Steps, StepsRef, UnitSplit, add_output_grad};
use super::recurrent::{Passes, Recurrent};
use crate::engine::helper;
use crate::engine::packed::PackedMatrix;
use crate::error::Result;
use crate::math::activation::Activation;
use crate::math::init::Initializer;
use crate::math::lstm::{self as equations, CellStep, GateBlocks};

/// `keras.layers.LSTM`. Weights in Keras layout: `kernel [in, 4u]`, `recurrent_kernel [u, 4u]`,
/// `bias [4u]`, gates packed i, f, g, o (Keras' i, f, c, o: "c" is the candidate g);
/// `4·u·(in + u + 1)` parameters.
///
/// Defaults as in Keras: `activation` tanh (relu allowed), recurrent activation sigmoid,
/// `use_bias` true, glorot-uniform kernel, orthogonal recurrent kernel, unit forget bias,
/// `return_sequences` false, `return_state` false, `go_backwards` false, `stateful` false,
/// `dropout` 0 (on the inputs, one mask per sequence shared by every step, as Keras 3 does).
pub type Lstm = Recurrent<LstmCell>;

/// The LSTM's cell for [`Recurrent`]: equations in [`crate::math::lstm`].
#[derive(Debug, Clone, Copy, Default)]
pub struct LstmCell;

impl Cell for LstmCell {
    const CLASS: &'static str = "LSTM";
    const BASE: &'static str = "lstm";
    const GATES: usize = 4;
    const STATES: &'static [&'static str] = &["h", "c"];
    /// `act(c_t)`: the step back needs it and need not recompute it.
    const SAVED_BLOCKS: usize = 1;

    fn weights(features: usize, units: usize, use_bias: bool) -> Vec<WeightSpec> {
        let bias = Initializer::UnitForgetBias;
        standard_weights(4, RecurrentProduct::Summed, features, units, use_bias, bias)
    }

    fn step(s: StepForward<'_>) {
        // z = x_t·W + b + h_{t-1}·U is in s.gates; the gates, c_t, act(c_t) and h_t follow.
        equations::step_in_place(s.gates, s.c_prev, s.c, s.saved, s.h, s.activation);
    }

    fn step_back(mut s: StepBackward<'_>) {
        equations::step_backward_in_place(
            s.gates,
            s.c_prev,
            s.saved,
            s.dh.view(),
            s.dc,
            s.d_gates,
            s.activation,
        );
        // h_{t-1} reaches h_t only through U.
        s.dh.fill(0.0);
    }

    fn unit_split() -> Option<UnitSplitLoops> {
        Some(UnitSplitLoops {
            forward: forward_by_units,
            backward: backward_by_units,
        })
    }

    fn compiled_passes() -> Option<&'static dyn Any> {
        static PASSES: Passes = Passes::of::<LstmCell>();
        Some(&PASSES)
    }
}

/// The time loop with units `..at` on this core and `at..` on the other: each step, each core
/// multiplies `h_{t-1}` (all units) by its half of `U` and runs its units' gates. The halves meet
/// once per step (the next step needs all of `h_t`). Every value is computed as in the layer's
/// loop, so the same bits.
fn forward_by_units(mut s: Steps<'_>, split: UnitSplit<'_>, activation: Activation) {
    let (at, units) = (split.at, s.h.len_of(Axis(2)));
    let halves = split
        .parts
        .chunks_exact(4)
        .zip(split.input_parts.chunks_exact(4));
    let [(first_parts, first_inputs), (second_parts, second_inputs)]: [_; 2] =
        halves.collect::<Vec<_>>().try_into().expect("two halves");
    let bias = s.input.bias;
    let (bias_first, bias_second) = (
        GateBlocks::of_units(bias.insert_axis(Axis(0)), 0..at),
        GateBlocks::of_units(bias.insert_axis(Axis(0)), at..units),
    );
    for t in 0..s.gates.len_of(Axis(0)) {
        let x_t = s.x.index_axis(Axis(0), t);
        let (z_first, z_second) = gate_halves(s.gates.index_axis_mut(Axis(0), t), at);
        let (h_before, mut h_after) = s.h.view_mut().split_at(Axis(0), t + 1);
        let h_prev = h_before.index_axis(Axis(0), t);
        let (h_first, h_second) = h_after.index_axis_mut(Axis(0), 0).split_at(Axis(1), at);
        let (c_before, mut c_after) = s.c.view_mut().split_at(Axis(0), t + 1);
        let (c_prev_first, c_prev_second) = c_before.index_axis(Axis(0), t).split_at(Axis(1), at);
        let (c_first, c_second) = c_after.index_axis_mut(Axis(0), 0).split_at(Axis(1), at);
        let (act_first, act_second) = s.aux.index_axis_mut(Axis(0), t).split_at(Axis(1), at);
        let half = |(parts, inputs): (&[PackedMatrix], &[PackedMatrix]),
                    bias: &GateBlocks<ArrayView2<f32>>,
                    mut z: GateBlocks<ArrayViewMut2<f32>>,
                    c_prev,
                    c,
                    act_c,
                    h| {
            // z = x_t·W + b + h_{t-1}·U, for this half's columns of each gate
            let z_blocks = [&mut z.i, &mut z.f, &mut z.g, &mut z.o];
            let bias_blocks = [&bias.i, &bias.f, &bias.g, &bias.o];
            for (((part, input), bias), z) in
                parts.iter().zip(inputs).zip(bias_blocks).zip(z_blocks)
            {
                part.multiply_after_input(h_prev, input, x_t, bias.row(0), z.view_mut());
            }
            equations::step_units_in_place(z, c_prev, c, act_c, h, activation);
        };
        helper::join(
            || {
                half(
                    (first_parts, first_inputs),
                    &bias_first,
                    z_first,
                    c_prev_first,
                    c_first,
                    act_first,
                    h_first,
                )
            },
            || {
                half(
                    (second_parts, second_inputs),
                    &bias_second,
                    z_second,
                    c_prev_second,
                    c_second,
                    act_second,
                    h_second,
                )
            },
        );
    }
}

/// Backpropagation through time with the units split as in [`forward_by_units`]: each step, each
/// core computes its units' `dh_t = dz_{t+1}·Uᵀ` (from all of `dz_{t+1}`) and then its units'
/// gate gradients. One meeting per step, the same bits as the loop above.
fn backward_by_units(
    s: StepsRef<'_>,
    split: UnitSplit<'_>,
    grad_output: ArrayViewD<'_, f32>,
    mut g: StepGrads<'_>,
    activation: Activation,
) {
    let (timesteps, units, at) = (s.gates.len_of(Axis(0)), s.h.len_of(Axis(2)), split.at);
    let last_axis = Axis(grad_output.ndim() - 1);
    let (out_first, out_second) = grad_output.split_at(last_axis, at);
    g.dc.fill(0.0);
    for t in (0..timesteps).rev() {
        let (mut d_in_before, d_in_after) = g.d_in.view_mut().split_at(Axis(0), t + 1);
        let dz_next = (t + 1 < timesteps).then(|| d_in_after.index_axis(Axis(0), 0));
        let (dz_first, dz_second) = gate_halves(d_in_before.index_axis_mut(Axis(0), t), at);
        let gates = s.gates.index_axis(Axis(0), t);
        let (dh_first, dh_second) = g.dh.view_mut().split_at(Axis(1), at);
        let (dc_first, dc_second) = g.dc.view_mut().split_at(Axis(1), at);
        let (c_prev, act_c) = (s.c.index_axis(Axis(0), t), s.aux.index_axis(Axis(0), t));
        let half = |packed_t: &PackedMatrix,
                    range: std::ops::Range<usize>,
                    grad_output: ArrayViewD<f32>,
                    mut dh: ArrayViewMut2<f32>,
                    dc,
                    dz| {
            // dh_t = dz_{t+1}·Uᵀ (zero after the last step), plus the output's gradient
            match dz_next {
                Some(dz_next) => packed_t.multiply(dz_next, dh.view_mut(), false),
                None => dh.fill(0.0),
            }
            add_output_grad(&mut dh, &grad_output, t, timesteps);
            equations::step_backward_units_in_place(
                GateBlocks::of_units(gates, range.clone()),
                c_prev.slice_move(s![.., range.clone()]),
                act_c.slice_move(s![.., range.clone()]),
                dh.view(),
                dc,
                dz,
                activation,
            );
        };
        helper::join(
            || {
                half(
                    &split.parts[0],
                    0..at,
                    out_first.view(),
                    dh_first,
                    dc_first,
                    dz_first,
                )
            },
            || {
                half(
                    &split.parts[1],
                    at..units,
                    out_second.view(),
                    dh_second,
                    dc_second,
                    dz_second,
                )
            },
        );
    }
}

/// The four gate blocks of units `..at` and of units `at..` of one step's `[B, 4u]` array.
fn gate_halves(
    z: ArrayViewMut2<'_, f32>,
    at: usize,
) -> (
    GateBlocks<ArrayViewMut2<'_, f32>>,
    GateBlocks<ArrayViewMut2<'_, f32>>,
) {
    let GateBlocks { i, f, g, o } = GateBlocks::of_all_units(z);
    let [(i0, i1), (f0, f1), (g0, g1), (o0, o1)] =
        [i, f, g, o].map(|block| block.split_at(Axis(1), at));
    (
        GateBlocks {
            i: i0,
            f: f0,
            g: g0,
            o: o0,
        },
        GateBlocks {
            i: i1,
            f: f1,
            g: g1,
            o: o1,
        },
    )
}

/// An LSTM's state between steps: the hidden state `h` (also the output) and the cell state `c`,
/// each `[batch, units]`.
#[derive(Debug, Clone, PartialEq)]
pub struct LstmState {
    /// Hidden state `h`.
    pub h: Array2<f32>,
    /// Cell state `c`.
    pub c: Array2<f32>,
}

/// What [`Lstm::call`] returns: the output (`[B, T, u]` with `return_sequences`, else `[B, u]`)
/// and the final states `h` and `c` (`[B, u]`).
#[derive(Debug, Clone, PartialEq)]
pub struct LstmOutput {
    /// The output: `[batch, units]`, or `[batch, timesteps, units]` with `return_sequences`.
    pub output: ArrayD<f32>,
    /// The last hidden state `h_T`, `[batch, units]`.
    pub h: Array2<f32>,
    /// The last cell state `c_T`, `[batch, units]`.
    pub c: Array2<f32>,
}

impl Recurrent<LstmCell> {
    /// Runs the layer on `x: [batch, timesteps, features]` outside a model, building it on first
    /// use (weights from [`Lstm::seed`]), with zero initial states (or the carried ones if stateful).
    pub fn call(&mut self, x: &Array3<f32>) -> Result<LstmOutput> {
        self.call_with_initial_state(x, None)
    }

    /// Like [`Lstm::call`], starting from the given `h0` and `c0`, each `[batch, units]`.
    pub fn call_with_initial_state(
        &mut self,
        x: &Array3<f32>,
        initial_state: Option<&LstmState>,
    ) -> Result<LstmOutput> {
        let initial = initial_state.map(|s| vec![s.h.clone(), s.c.clone()]);
        let (output, states) = self.call_with_states(x, initial.as_deref())?;
        let [h, c] = <[Array2<f32>; 2]>::try_from(states).expect("h and c");
        Ok(LstmOutput { output, h, c })
    }

    /// The per-step gates and states of the last forward pass, in processing order.
    pub fn last_steps(&self) -> Option<Vec<CellStep>> {
        let cache = self.state.cache.as_ref()?;
        let steps = (0..cache.timesteps).map(|t| {
            let state = |a: &Array2<f32>| a.slice(s![cache.block(t + 1), ..]).to_owned();
            CellStep::from_gates(
                cache.gates.slice(s![cache.block(t), ..]),
                state(&cache.c),
                state(&cache.h),
            )
        });
        Some(steps.collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::Layer;
    use crate::layers::recurrent::DIRECT_PRODUCT_BELOW;
    use crate::math::init;
    use crate::math::lstm::step;
    use ndarray::{Array, Array1};

    /// The layer against the textbook loop: `math::lstm::step` and `step_backward` one step at a
    /// time, products by `dot`. Sizes on both sides of `DIRECT_PRODUCT_BELOW`, both directions.
    #[test]
    fn layer_matches_the_step_by_step_loop() {
        for (batch, units, features, go_backwards) in [
            (3, 2, 2, false),
            (6, 24, 3, false),
            (6, 24, 3, true),
            (4, 5, 1, true),
        ] {
            let timesteps = 4;
            let mut rng = init::seeded_rng(7);
            let mut lstm = Lstm::new(units)
                .return_sequences(true)
                .go_backwards(go_backwards);
            lstm.build(&[timesteps, features], &mut rng).unwrap();
            assert_eq!(
                batch * units * 4 * units >= DIRECT_PRODUCT_BELOW,
                units == 24,
                "the sizes cover both product paths"
            );
            let x = Array::from_shape_fn((batch, timesteps, features), |(b, t, f)| {
                ((b * 7 + t * 3 + f) % 11) as f32 / 11.0 - 0.4
            });
            let grad = Array::from_shape_fn((batch, timesteps, units), |(b, t, u)| {
                ((b + 2 * t + 3 * u) % 5) as f32 / 5.0 - 0.3
            });
            let out = lstm.forward(&x.clone().into_dyn(), true, &mut rng).unwrap();
            let dx = lstm.backward(&grad.clone().into_dyn()).unwrap();
            let weights = lstm.weights();
            let w: Array2<f32> = weights[0].value.clone().into_dimensionality().unwrap();
            let u: Array2<f32> = weights[1].value.clone().into_dimensionality().unwrap();
            let b: Array1<f32> = weights[2].value.clone().into_dimensionality().unwrap();

            let order: Vec<usize> = if go_backwards {
                (0..timesteps).rev().collect()
            } else {
                (0..timesteps).collect()
            };
            let (mut h, mut c) = (
                Array2::<f32>::zeros((batch, units)),
                Array2::<f32>::zeros((batch, units)),
            );
            let mut steps = vec![];
            for (t, &source) in order.iter().enumerate() {
                let x_t = x.index_axis(Axis(1), source).to_owned();
                let s = step(
                    x_t.view(),
                    h.view(),
                    c.view(),
                    w.view(),
                    u.view(),
                    b.view(),
                    Activation::Tanh,
                )
                .unwrap();
                let got = out.slice(s![.., t, ..]);
                for (a, e) in got.iter().zip(s.h.iter()) {
                    assert!((a - e).abs() < 1e-5, "h at step {t}: {a} vs {e}");
                }
                steps.push((x_t, h.clone(), c.clone(), s.clone()));
                (h, c) = (s.h, s.c);
            }

            let (mut dw, mut du, mut db) = (
                Array2::<f32>::zeros(w.dim()),
                Array2::<f32>::zeros(u.dim()),
                Array1::<f32>::zeros(b.dim()),
            );
            let mut dx_ref = Array3::<f32>::zeros(x.dim());
            let (mut dh_next, mut dc) = (
                Array2::<f32>::zeros((batch, units)),
                Array2::<f32>::zeros((batch, units)),
            );
            for t in (0..timesteps).rev() {
                let (x_t, h_prev, c_prev, s) = &steps[t];
                let dh = &dh_next + &grad.slice(s![.., t, ..]);
                let (dz, dc_prev) = equations::step_backward(
                    s,
                    c_prev.view(),
                    dh.view(),
                    dc.view(),
                    Activation::Tanh,
                )
                .unwrap();
                dw += &x_t.t().dot(&dz);
                du += &h_prev.t().dot(&dz);
                db += &dz.sum_axis(Axis(0));
                dx_ref
                    .index_axis_mut(Axis(1), order[t])
                    .assign(&dz.dot(&w.t()));
                dh_next = dz.dot(&u.t());
                dc = dc_prev;
            }
            let grads: Vec<Vec<f32>> = lstm.params().iter().map(|p| p.grad.to_vec()).collect();
            let expected = [
                dw.into_raw_vec_and_offset().0,
                du.into_raw_vec_and_offset().0,
                db.to_vec(),
            ];
            for (name, (got, want)) in ["kernel", "recurrent_kernel", "bias"]
                .iter()
                .zip(grads.iter().zip(&expected))
            {
                for (a, e) in got.iter().zip(want) {
                    assert!(
                        (a - e).abs() < 1e-5 * (1.0 + e.abs()),
                        "d{name}: {a} vs {e}"
                    );
                }
            }
            for (a, e) in dx.iter().zip(dx_ref.iter()) {
                assert!((a - e).abs() < 1e-5 * (1.0 + e.abs()), "dx: {a} vs {e}");
            }
        }
    }
}
