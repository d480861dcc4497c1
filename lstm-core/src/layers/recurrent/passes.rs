//! The passes every recurrent layer runs, written once for any [`Cell`]: the input checks, the
//! initial or carried states, input dropout, one forward and one backward loop over time, the
//! split between the two cores, and the weight and input gradients of backpropagation through
//! time.

use ndarray::{Array1, Array2, Array3, ArrayD, ArrayViewD, ArrayViewMutD, Axis, Ix3, s};
use ndarray_rand::rand::Rng as _;

use super::buffers::{Cache, Scratch, State, by_step, by_step_mut, reuse};
use super::cell::{Cell, History, RecurrentProduct, StepBackward, StepForward, is_standard_weight};
use super::packing::recurrence;
use super::steps::{
    InputProjection, Recurrence, StepGrads, Steps, StepsRef, add_output_grad, add_product,
    product_transposed,
};
use crate::check::{ensure_finite, fmt_shape};
use crate::engine::helper;
use crate::engine::packed::PackedMatrix;
use crate::error::{LstmError, Result};
use crate::layers::config::RecurrentConfig;
use crate::layers::layer::not_built;
use crate::layers::params::{grad_matrix, grad_vector};
use crate::math::activation::Activation;
use crate::math::init::Rng;

/// A layer's forward and backward passes for one cell, as function pointers: a cell can hand
/// out ones compiled in its own crate ([`Cell::compiled_passes`]).
pub struct Passes {
    /// The cell the passes were compiled for.
    cell: fn() -> std::any::TypeId,
    /// The forward pass: output of `x`, from the given, carried or zero states.
    pub(crate) forward: ForwardPass,
    /// Backpropagation through time: d(loss)/d(input) if asked for.
    pub(crate) backward: BackwardPass,
}

type ForwardPass = fn(
    &RecurrentConfig,
    &mut State,
    ArrayViewD<'_, f32>,
    Option<&[Array2<f32>]>,
    bool,
    &mut Rng,
) -> Result<ArrayD<f32>>;

type BackwardPass =
    fn(&RecurrentConfig, &mut State, &ArrayD<f32>, bool) -> Result<Option<ArrayD<f32>>>;

impl Passes {
    /// The passes of cell `C`, compiled where this is called.
    pub const fn of<C: Cell>() -> Passes {
        Passes {
            cell: std::any::TypeId::of::<C>,
            forward: forward::<C>,
            backward: backward::<C>,
        }
    }

    /// `C`'s own compiled passes if it has them, else ones compiled here.
    pub(crate) fn for_cell<C: Cell>() -> Passes {
        // Passes compiled for another cell (a copied `compiled_passes`) are not used.
        C::compiled_passes()
            .and_then(|any| any.downcast_ref::<Passes>())
            .filter(|p| (p.cell)() == std::any::TypeId::of::<C>())
            .map_or_else(Passes::of::<C>, |p| Passes {
                cell: p.cell,
                forward: p.forward,
                backward: p.backward,
            })
    }
}

/// A pass splits its batch between two cores when it has at least this many recurrent
/// multiply-adds (batch · steps · u · G·u): below it, the hand-over costs more than it saves.
const SPLIT_BATCH_FROM: usize = 1 << 20;

/// Rows per half, at least: fewer leave the SIMD kernel's tiles mostly empty.
const MIN_ROWS_PER_PART: usize = 4;

/// Whether a pass over `batch` rows splits them between two cores.
pub(crate) fn split_batch(batch: usize, timesteps: usize, units: usize, width: usize) -> bool {
    batch >= 2 * MIN_ROWS_PER_PART && batch * timesteps * units * width >= SPLIT_BATCH_FROM
}

/// Cells with a unit-split loop (the LSTM), with at least this many units, split their units between the cores when the batch is
/// small: `U` (at least 2.25 MB) then no longer fits one core's L2 cache, and with half the
/// batch each core would stream all of it every step. With half the units, each streams half.
/// Measured on one step's product, `[32, 512]·[512, 2048]` on two cores: 297 GFLOPS by units,
/// 249 by batch rows; equal at 256 units; by rows ahead from a batch of 128.
const SPLIT_UNITS_FROM: usize = 384;
const SPLIT_UNITS_BELOW_BATCH: usize = 64;

/// Whether a pass splits its units (not its batch) between two cores.
pub(crate) fn split_units<C: Cell>(batch: usize, timesteps: usize, units: usize) -> bool {
    C::unit_split().is_some()
        && units >= SPLIT_UNITS_FROM
        && batch < SPLIT_UNITS_BELOW_BATCH
        && batch * timesteps * units * C::GATES * units >= SPLIT_BATCH_FROM
}

/// Runs `work` on the rows, or on two halves at once (see [`helper`]) if `split`. Rows of a
/// batch are independent through time and each row's arithmetic is the same in any half, so
/// the result does not depend on the split.
fn in_halves<T: Send>(
    rows: T,
    batch: usize,
    split: bool,
    split_at: impl FnOnce(T, usize) -> (T, T),
    work: &(impl Fn(T) + Sync),
) {
    if !split {
        work(rows);
        return;
    }
    let (first, second) = split_at(rows, batch / 2);
    helper::join(|| work(first), || work(second));
}

/// Checks `x` against the built layer: `(batch, timesteps, features)`.
fn check_input<C: Cell>(state: &State, x: &ArrayViewD<f32>) -> Result<(usize, usize, usize)> {
    let params = state.params.as_ref().ok_or_else(|| not_built(C::CLASS))?;
    let features = params.matrix("kernel").nrows();
    let what = format!("{} input", C::CLASS);
    if x.ndim() != 3 || x.shape()[2] != features || x.shape()[1] == 0 {
        return Err(LstmError::shape(
            what,
            format!("(batch, timesteps >= 1, {features})"),
            fmt_shape(x.shape()),
        ));
    }
    if x.shape()[0] == 0 {
        return Err(LstmError::Empty {
            context: format!("{what} of shape {}: the batch", fmt_shape(x.shape())),
            min: 1,
        });
    }
    ensure_finite(&what, x)?;
    Ok((x.shape()[0], x.shape()[1], features))
}

/// The states a pass starts from: the given ones (checked), the carried ones of a stateful
/// layer, or zeros.
pub(crate) fn initial_states<C: Cell>(
    config: &RecurrentConfig,
    state: &State,
    batch: usize,
    given: Option<&[Array2<f32>]>,
) -> Result<Vec<Array2<f32>>> {
    let expected = (batch, config.units);
    let names: Vec<String> = C::STATES.iter().map(|s| format!("{s}0")).collect();
    if let Some(states) = given {
        if states.len() != names.len() {
            return Err(LstmError::count(
                format!("{} initial state", C::CLASS),
                "states",
                names.join(", "),
                states.len().to_string(),
            ));
        }
        for (name, s) in names.iter().zip(states) {
            let what = format!("{} initial state {name}", C::CLASS);
            if s.dim() != expected {
                return Err(LstmError::shape(
                    what,
                    fmt_shape(&[batch, config.units]),
                    fmt_shape(s.shape()),
                ));
            }
            ensure_finite(&what, s)?;
        }
        return Ok(states.to_vec());
    }
    match &state.carried {
        Some(states) if config.stateful => {
            if states[0].dim() != expected {
                return Err(LstmError::shape(
                    format!(
                        "stateful {}: every batch must have the size of the first one (or call reset_states)",
                        C::CLASS
                    ),
                    format!("batch of {}", states[0].nrows()),
                    format!("batch of {batch}"),
                ));
            }
            Ok(states.clone())
        }
        _ => Ok(vec![Array2::zeros(expected); names.len()]),
    }
}

/// The cell's own weights (after `kernel`, `recurrent_kernel`, `bias`), as views.
fn own_weights<'a>(
    values: impl Iterator<Item = (&'static str, &'a ArrayD<f32>)>,
) -> Vec<ArrayViewD<'a, f32>> {
    values
        .filter(|(name, _)| !is_standard_weight(name))
        .map(|(_, value)| value.view())
        .collect()
}

/// The forward pass.
fn forward<C: Cell>(
    config: &RecurrentConfig,
    state: &mut State,
    x: ArrayViewD<f32>,
    initial: Option<&[Array2<f32>]>,
    training: bool,
    rng: &mut Rng,
) -> Result<ArrayD<f32>> {
    let (batch, timesteps, features) = check_input::<C>(state, &x)?;
    let states = initial_states::<C>(config, state, batch, initial)?;
    let x = x.into_dimensionality::<Ix3>().expect("rank checked");

    let dropout_mask = (training && config.dropout > 0.0).then(|| {
        let keep = 1.0 - config.dropout;
        Array2::from_shape_fn((batch, features), |_| {
            if rng.random::<f32>() < keep {
                1.0 / keep
            } else {
                0.0
            }
        })
    });

    let units = config.units;
    let mut cache = Cache::new::<C>(state.cache.take(), timesteps, batch, features, units);
    // Time-major inputs in processing order, so each step's rows are contiguous.
    for t in 0..timesteps {
        let source = if config.go_backwards {
            timesteps - 1 - t
        } else {
            t
        };
        let rows = cache.block(t);
        let mut slot = cache.x.slice_mut(s![rows, ..]);
        slot.assign(&x.index_axis(Axis(1), source));
        if let Some(mask) = &dropout_mask {
            slot *= mask;
        }
    }
    cache.dropout_mask = dropout_mask;
    cache.h.slice_mut(s![..batch, ..]).assign(&states[0]);
    for (k, c) in states[1..].iter().enumerate() {
        cache
            .c
            .slice_mut(s![..batch, k * units..(k + 1) * units])
            .assign(c);
    }

    let params = state.params.as_ref().expect("checked in check_input");
    // The input projection b + x·W: its bias row and W packed once for every step.
    let apart = C::RECURRENT_PRODUCT == RecurrentProduct::Apart;
    let width = C::GATES * units;
    let zeros;
    let bias = match params.get("bias") {
        Some(bias) if apart => bias.index_axis(Axis(0), 0).into_dimensionality(),
        Some(bias) => bias.view().into_dimensionality(),
        None => {
            zeros = Array1::zeros(width);
            Ok(zeros.view())
        }
    }
    .expect("a bias row of G·u");
    if cache.packed_w_version != Some(params.version()) {
        cache.packed_w.pack(params.matrix("kernel"));
        cache.packed_w_version = Some(params.version());
    }
    let own = own_weights(params.named());
    let packed_w = &cache.packed_w;
    let by_units = split_units::<C>(batch, timesteps, units);
    let input = InputProjection {
        kernel: packed_w,
        bias,
    };
    let mut packed = std::mem::take(&mut cache.packed);
    let recurrence = recurrence(params, C::GATES, apart, batch, &mut packed, false, by_units);
    let b = batch;
    let steps = Steps {
        gates: by_step_mut(&mut cache.gates, b),
        h: by_step_mut(&mut cache.h, b),
        c: by_step_mut(&mut cache.c, b),
        aux: by_step_mut(&mut cache.aux, b),
        work: cache.work.view_mut(),
        x: by_step(&cache.x, b),
        input,
        own: &own,
    };
    let activation = config.activation;
    match (C::unit_split(), recurrence.by_units) {
        (Some(loops), Some(split)) => (loops.forward)(steps, split, activation),
        _ => in_halves(
            steps,
            batch,
            split_batch(batch, timesteps, units, width),
            |steps: Steps, at| steps.split_batch(at),
            &|steps| forward_loop::<C>(steps, &recurrence, activation),
        ),
    }
    cache.packed = packed;

    let output = if config.return_sequences {
        let steps = cache.h.slice(s![batch.., ..]);
        let steps = steps
            .into_shape_with_order((timesteps, batch, units))
            .expect("contiguous rows");
        steps
            .permuted_axes([1, 0, 2])
            .as_standard_layout()
            .into_owned()
            .into_dyn()
    } else {
        cache
            .h
            .slice(s![timesteps * batch.., ..])
            .to_owned()
            .into_dyn()
    };
    if config.stateful {
        state.carried = Some(cache.final_states());
    }
    state.cache = Some(cache);
    Ok(output)
}

/// The layer's time loop: each step's input projection and recurrent product, then the cell's
/// step.
fn forward_loop<C: Cell>(mut s: Steps<'_>, recurrence: &Recurrence<'_>, activation: Activation) {
    let apart = C::RECURRENT_PRODUCT == RecurrentProduct::Apart;
    for t in 0..s.gates.len_of(Axis(0)) {
        if apart {
            // x_t·W + b_in, and apart h_{t-1}·U + b_rec
            s.project_input(t);
            match recurrence.bias {
                Some(bias) => s.work.assign(&bias),
                None => s.work.fill(0.0),
            }
            add_product(&mut s.work, s.h.index_axis(Axis(0), t), recurrence);
        } else {
            // z_t = x_t·W + b + h_{t-1}·U
            s.input_and_recurrent_product(t, recurrence);
        }
        let (h_before, mut h_after) = s.h.view_mut().split_at(Axis(0), t + 1);
        let (c_before, mut c_after) = s.c.view_mut().split_at(Axis(0), t + 1);
        let recurrent = if apart {
            s.work.view()
        } else {
            s.work.slice(s![.., ..0])
        };
        C::step(StepForward {
            gates: s.gates.index_axis_mut(Axis(0), t),
            recurrent,
            h_prev: h_before.index_axis(Axis(0), t),
            h: h_after.index_axis_mut(Axis(0), 0),
            c_prev: c_before.index_axis(Axis(0), t),
            c: c_after.index_axis_mut(Axis(0), 0),
            saved: s.aux.index_axis_mut(Axis(0), t),
            weights: s.own,
            activation,
        });
    }
}

/// The layer's backward loop: from the last step to the first, the gradient reaching `h_t`
/// (from the output and from step t+1), the cell's step back, then `dh_{t-1} += d·Uᵀ`.
fn backward_loop<C: Cell>(
    s: StepsRef<'_>,
    recurrence: &Recurrence<'_>,
    grad_output: ArrayViewD<'_, f32>,
    mut g: StepGrads<'_>,
    activation: Activation,
) {
    let apart = C::RECURRENT_PRODUCT == RecurrentProduct::Apart;
    let timesteps = s.gates.len_of(Axis(0));
    g.dh.fill(0.0);
    g.dc.fill(0.0);
    for t in (0..timesteps).rev() {
        add_output_grad(&mut g.dh, &grad_output, t, timesteps);
        C::step_back(StepBackward {
            gates: s.gates.index_axis(Axis(0), t),
            h_prev: s.h.index_axis(Axis(0), t),
            h: s.h.index_axis(Axis(0), t + 1),
            c_prev: s.c.index_axis(Axis(0), t),
            c: s.c.index_axis(Axis(0), t + 1),
            saved: s.aux.index_axis(Axis(0), t),
            dh: g.dh.view_mut(),
            dc: g.dc.view_mut(),
            d_gates: g.d_in.index_axis_mut(Axis(0), t),
            d_recurrent: g.d_rec.index_axis_mut(Axis(0), t),
            weights: s.own,
            activation,
        });
        if t > 0 {
            let d = if apart {
                g.d_rec.index_axis(Axis(0), t)
            } else {
                g.d_in.index_axis(Axis(0), t)
            };
            product_transposed(&mut g.dh, d, recurrence, 1.0);
        }
    }
}

/// Backpropagation through time: parameter gradients, and d(loss)/d(input) if `want_dx`.
fn backward<C: Cell>(
    config: &RecurrentConfig,
    state: &mut State,
    grad_output: &ArrayD<f32>,
    want_dx: bool,
) -> Result<Option<ArrayD<f32>>> {
    let class = C::CLASS;
    let cache = state.cache.as_ref().ok_or(LstmError::NotReady {
        what: "recurrent layer backward",
        needed: "preceded by a forward pass",
        call: "forward(x, true, rng)",
    })?;
    if state.params.is_none() {
        return Err(not_built(class));
    }
    let (timesteps, batch, units) = (cache.timesteps, cache.batch, config.units);
    let expected = if config.return_sequences {
        vec![batch, timesteps, units]
    } else {
        vec![batch, units]
    };
    if grad_output.shape() != expected.as_slice() {
        return Err(LstmError::shape(
            format!("{class} backward: gradient of the output"),
            fmt_shape(&expected),
            fmt_shape(grad_output.shape()),
        ));
    }

    let width = C::GATES * units;
    let rows = timesteps * batch;
    let Scratch {
        d_in,
        d_rec,
        dh,
        dc,
        mut packed_t,
        mut packed_grads,
    } = state.scratch.take().unwrap_or_default();
    let mut d_in = reuse(d_in, (rows, width));
    let apart = C::RECURRENT_PRODUCT == RecurrentProduct::Apart;
    let rec_width = if apart { width } else { 0 };
    let mut d_rec = reuse(d_rec, (rows, rec_width));
    let mut dh = reuse(dh, (batch, units));
    let mut dc = reuse(dc, (batch, (C::STATES.len() - 1) * units));
    {
        let params = state.params.as_ref().expect("checked above");
        let own = own_weights(params.named());
        let steps = StepsRef {
            gates: by_step(&cache.gates, batch),
            h: by_step(&cache.h, batch),
            c: by_step(&cache.c, batch),
            aux: by_step(&cache.aux, batch),
            own: &own,
        };
        let grads = StepGrads {
            d_in: by_step_mut(&mut d_in, batch),
            d_rec: by_step_mut(&mut d_rec, batch),
            dh: dh.view_mut(),
            dc: dc.view_mut(),
        };
        let by_units = split_units::<C>(batch, timesteps, units);
        let recurrence = recurrence(
            params,
            C::GATES,
            apart,
            batch,
            &mut packed_t,
            true,
            by_units,
        );
        let activation = config.activation;
        match (C::unit_split(), recurrence.by_units) {
            (Some(loops), Some(split)) => {
                (loops.backward)(steps, split, grad_output.view(), grads, activation)
            }
            _ => in_halves(
                (steps, grads, grad_output.view()),
                batch,
                split_batch(batch, timesteps, units, width),
                |(steps, grads, grad_output): (StepsRef, StepGrads, ArrayViewD<f32>), at| {
                    let (steps, steps_rest) = steps.split_batch(at);
                    let (grads, grads_rest) = grads.split_batch(at);
                    let (grad_output, grad_output_rest) = grad_output.split_at(Axis(0), at);
                    (
                        (steps, grads, grad_output),
                        (steps_rest, grads_rest, grad_output_rest),
                    )
                },
                &|(steps, grads, grad_output)| {
                    backward_loop::<C>(steps, &recurrence, grad_output, grads, activation)
                },
            ),
        }
    }

    // Parameter gradients for all steps at once; blocks 0..T of h are the h_{t-1}.
    let cache = state.cache.as_ref().expect("checked above");
    let params = state.params.as_mut().expect("checked above");
    let names = params.names();
    let bias_at = names.iter().position(|&n| n == "bias");
    let (values, mut grads) = params.split();
    let h_prev_all = cache.h.slice(s![..rows, ..]);
    let d_rec_all = if apart { &d_rec } else { &d_in };
    if apart {
        helper::mat_mul(&cache.x.t(), &d_in.view(), 0.0, &mut grad_matrix(grads[0]));
        helper::mat_mul(
            &h_prev_all.t(),
            &d_rec_all.view(),
            0.0,
            &mut grad_matrix(grads[1]),
        );
    } else {
        // dW = xᵀ·d_in and dU = h_prevᵀ·d_in on the packed kernel (the bits of
        // `general_mat_mul`), d_in packed once for both, written straight into the
        // gradients. Large ones split d_in's columns: each core packs and multiplies its half.
        // The bias gradient (d_in's column sums) comes from the same packing pass.
        let (dw, rest) = grads.split_at_mut(1);
        let (du, rest) = rest.split_at_mut(1);
        let (dw, du) = (grad_matrix(dw[0]), grad_matrix(du[0]));
        let mut d_bias = rest
            .first_mut()
            .filter(|_| bias_at.is_some())
            .map(|d_bias| grad_vector(d_bias));
        let (x, h_prev) = (cache.x.t(), h_prev_all.t());
        let weight_grads =
            |packed: &mut PackedMatrix,
             d_in,
             dw,
             du,
             d_bias: Option<ndarray::ArrayViewMut1<f32>>| {
                match d_bias {
                    Some(mut d_bias) => {
                        let sums = d_bias.as_slice_mut().expect("a contiguous bias");
                        packed.pack_summing_columns(d_in, sums);
                    }
                    None => packed.pack(d_in),
                }
                packed.multiply(x, dw, false);
                packed.multiply(h_prev, du, false);
            };
        let [packed_first, packed_second] = &mut packed_grads;
        if (x.nrows() + units) * rows * width < helper::SPLIT_PRODUCT_FROM {
            weight_grads(packed_first, d_in.view(), dw, du, d_bias);
        } else {
            let at = width / 2;
            let (d_first, d_second) = d_in.view().split_at(Axis(1), at);
            let (dw_first, dw_second) = dw.split_at(Axis(1), at);
            let (du_first, du_second) = du.split_at(Axis(1), at);
            let (bias_first, bias_second) = match d_bias.take() {
                Some(d_bias) => {
                    let (first, second) = d_bias.split_at(Axis(0), at);
                    (Some(first), Some(second))
                }
                None => (None, None),
            };
            helper::join(
                || weight_grads(packed_first, d_first, dw_first, du_first, bias_first),
                || weight_grads(packed_second, d_second, dw_second, du_second, bias_second),
            );
        }
    }
    if let Some(d_bias) = bias_at.and_then(|i| grads.get_mut(i)).filter(|_| apart) {
        let mut d_bias = grad_matrix(d_bias);
        helper::sum_rows(d_in.view(), d_bias.row_mut(0));
        helper::sum_rows(d_rec.view(), d_bias.row_mut(1));
    }
    // The cell's own weights, if it has any.
    let own_at = names.iter().position(|n| !is_standard_weight(n));
    if let Some(own_at) = own_at {
        let own_values: Vec<ArrayViewD<f32>> = values[own_at..].iter().map(|v| v.view()).collect();
        let mut own_grads: Vec<ArrayViewMutD<f32>> = grads[own_at..]
            .iter_mut()
            .map(|g| {
                g.fill(0.0);
                g.view_mut()
            })
            .collect();
        let history = History {
            batch,
            gates: cache.gates.view(),
            h: cache.h.view(),
            c: cache.c.view(),
            saved: cache.aux.view(),
            d_gates: d_in.view(),
            d_recurrent: d_rec.view(),
        };
        C::own_weight_gradients(history, &own_values, &mut own_grads)?;
    }

    // Input gradient, back in (batch, time, feature) order.
    let dx = want_dx.then(|| {
        let kernel = values[0]
            .view()
            .into_dimensionality::<ndarray::Ix2>()
            .expect("2-D kernel");
        let features = kernel.nrows();
        let mut dx_time_major = Array2::zeros((rows, features));
        helper::mat_mul(
            &d_in.view(),
            &kernel.t(),
            0.0,
            &mut dx_time_major.view_mut(),
        );
        let dx_time_major = dx_time_major
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order((timesteps, batch, features))
            .expect("contiguous");
        let mut dx = Array3::<f32>::zeros((batch, timesteps, features));
        for t in 0..timesteps {
            let target = if config.go_backwards {
                timesteps - 1 - t
            } else {
                t
            };
            let mut slot = dx.index_axis_mut(Axis(1), target);
            slot.assign(&dx_time_major.index_axis(Axis(0), t));
            if let Some(mask) = &cache.dropout_mask {
                slot *= mask;
            }
        }
        dx.into_dyn()
    });
    state.scratch = Some(Scratch {
        d_in,
        d_rec,
        dh,
        dc,
        packed_t,
        packed_grads,
    });
    Ok(dx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::Layer;
    use crate::layers::recurrent::DIRECT_PRODUCT_BELOW;
    use crate::layers::{Gru, GruCell, Lstm, LstmCell, SimpleRnn};
    use crate::math::init;
    use ndarray::{Array, Dimension};

    /// An LSTM whose units are split between the cores (small batches, many units) gives the
    /// bits of the same rows run in a batch that splits its rows instead: outputs, final states
    /// and input gradients, with every step's output or only the last one's, tanh or relu.
    /// 392 units: halves of 196, so gate blocks and halves start inside the kernel's panels.
    #[test]
    fn splitting_the_units_changes_no_bit() {
        let (batch, timesteps, units, part) = (64, 4, 392, 16);
        assert!(
            !split_units::<LstmCell>(batch, timesteps, units),
            "the batch splits its rows"
        );
        assert!(
            split_units::<LstmCell>(part, timesteps, units),
            "a part splits its units"
        );
        assert!(
            split_units::<LstmCell>(1, 30, units),
            "so does a single sequence"
        );
        assert!(!split_units::<GruCell>(part, timesteps, units), "LSTM only");
        // 3 features: each part's input projection runs in its product's epilogue; 12: as a
        // product of its own (deeper than the epilogue takes).
        let cases = [(true, Activation::Tanh, 3), (false, Activation::Relu, 12)];
        for (sequences, activation, features) in cases {
            let mut lstm = Lstm::new(units)
                .return_sequences(sequences)
                .activation(activation);
            let mut rng = init::seeded_rng(5);
            lstm.build(&[timesteps, features], &mut rng).unwrap();
            // A bias that differs from unit to unit, so each half must add its own columns.
            let mut weights: Vec<ArrayD<f32>> =
                lstm.weights().into_iter().map(|w| w.value).collect();
            weights[2] =
                Array::from_shape_fn(4 * units, |j| ((j * 7) % 13) as f32 / 13.0 - 0.5).into_dyn();
            lstm.set_weights(&weights).unwrap();
            let x = Array::from_shape_fn((batch, timesteps, features), |(b, t, f)| {
                ((b * 13 + t * 7 + f * 3) % 17) as f32 / 17.0 - 0.5
            });
            let out_shape = if sequences {
                vec![batch, timesteps, units]
            } else {
                vec![batch, units]
            };
            let grad = Array::from_shape_fn(out_shape, |i| {
                ((i[0] * 5 + i[1] * 3 + i[i.ndim() - 1]) % 11) as f32 / 11.0 - 0.5
            });
            let out = lstm.forward(&x.clone().into_dyn(), true, &mut rng).unwrap();
            let states = lstm.state.cache.as_ref().unwrap().final_states();
            let dx = lstm.backward(&grad).unwrap();
            let same = |a: ArrayViewD<f32>, b: ArrayViewD<f32>| {
                a.shape() == b.shape()
                    && a.iter()
                        .zip(b.iter())
                        .all(|(p, q)| p.to_bits() == q.to_bits())
            };
            for first in (0..batch).step_by(part) {
                let rows = first..first + part;
                let x_part = x.slice(s![rows.clone(), .., ..]).to_owned().into_dyn();
                let out_part = lstm.forward(&x_part, true, &mut rng).unwrap();
                let states_part = lstm.state.cache.as_ref().unwrap().final_states();
                let grad_part = grad.slice_axis(Axis(0), rows.clone().into()).to_owned();
                let dx_part = lstm.backward(&grad_part).unwrap();
                let of = |a: &ArrayD<f32>| a.slice_axis(Axis(0), rows.clone().into()).into_owned();
                assert!(
                    same(of(&out).view(), out_part.view()),
                    "output, {activation:?}"
                );
                assert!(same(of(&dx).view(), dx_part.view()), "dx, {activation:?}");
                for (whole, part) in states.iter().zip(&states_part) {
                    let whole = whole.slice(s![rows.clone(), ..]);
                    assert!(
                        same(whole.into_dyn(), part.view().into_dyn()),
                        "final states"
                    );
                }
            }
        }
    }

    /// Weights packed for the kernel are reused from pass to pass only while the weights are
    /// unchanged: after `set_weights`, after an update through `params` (what optimizers use),
    /// and after a rebuild, a pass gives what a fresh layer with those weights gives. Packed
    /// whole (40 units) and by units (392), forward and backward.
    #[test]
    fn packed_weights_follow_every_change_of_the_weights() {
        for (units, batch) in [(40, 8), (392, 16)] {
            let (timesteps, features) = (3, 2);
            let x = Array::from_shape_fn((batch, timesteps, features), |(b, t, f)| {
                ((b * 5 + t * 3 + f) % 7) as f32 / 7.0 - 0.4
            })
            .into_dyn();
            let grad = Array::from_elem((batch, units), 0.1f32).into_dyn();
            // The gradients, read without `params` (which counts as a change of the weights).
            let gradients = |lstm: &mut Lstm| -> Vec<ArrayD<f32>> {
                let (_, grads) = lstm.state.params.as_mut().unwrap().split();
                grads.into_iter().map(|g| g.clone()).collect()
            };
            let mut rng = init::seeded_rng(3);
            let mut lstm = Lstm::new(units);
            lstm.build(&[timesteps, features], &mut rng).unwrap();
            // What a fresh layer with these weights computes: output, and gradients.
            let fresh = |weights: &[ArrayD<f32>]| {
                let mut other = Lstm::new(units);
                other
                    .build(&[timesteps, features], &mut init::seeded_rng(9))
                    .unwrap();
                other.set_weights(weights).unwrap();
                let out = other.forward(&x, true, &mut init::seeded_rng(0)).unwrap();
                other.backward(&grad).unwrap();
                (out, gradients(&mut other))
            };
            let run = |lstm: &mut Lstm| {
                let out = lstm.forward(&x, true, &mut init::seeded_rng(0)).unwrap();
                lstm.backward(&grad).unwrap();
                (out, gradients(lstm))
            };
            let weights = |lstm: &Lstm| -> Vec<ArrayD<f32>> {
                lstm.weights().into_iter().map(|w| w.value).collect()
            };
            assert_eq!(
                run(&mut lstm),
                fresh(&weights(&lstm)),
                "{units} units, first pass"
            );
            // set_weights
            let mut changed = weights(&lstm);
            changed[1].mapv_inplace(|v| v * 0.5);
            lstm.set_weights(&changed).unwrap();
            assert_eq!(
                run(&mut lstm),
                fresh(&changed),
                "{units} units, after set_weights"
            );
            // An update through params, as an optimizer makes.
            for p in lstm.params() {
                p.value.iter_mut().for_each(|v| *v += 0.01);
            }
            let updated = weights(&lstm);
            assert_eq!(
                run(&mut lstm),
                fresh(&updated),
                "{units} units, after an update"
            );
            // A rebuild draws new weights.
            lstm.build(&[timesteps, features], &mut init::seeded_rng(11))
                .unwrap();
            let rebuilt = weights(&lstm);
            assert_eq!(
                run(&mut lstm),
                fresh(&rebuilt),
                "{units} units, after a rebuild"
            );
        }
    }

    /// A batch split between the cores gives every row the bits it gets in a batch that is not
    /// split: outputs and input gradients, forward and backward, for the three cells.
    #[test]
    fn splitting_the_batch_changes_no_bit() {
        let (batch, timesteps, features) = (32, 20, 3);
        let layers: Vec<(Box<dyn Layer>, usize, usize)> = vec![
            (Box::new(Lstm::new(40).return_sequences(true)), 40, 4),
            (Box::new(Gru::new(40).return_sequences(true)), 40, 3),
            (Box::new(SimpleRnn::new(80).return_sequences(true)), 80, 1),
        ];
        for (mut layer, units, gates) in layers {
            let width = gates * units;
            let part = 8;
            assert!(
                split_batch(batch, timesteps, units, width),
                "the whole batch splits"
            );
            assert!(
                !split_batch(part, timesteps, units, width),
                "a part does not"
            );
            assert!(
                part * units * width >= DIRECT_PRODUCT_BELOW,
                "both use the SIMD kernel"
            );
            let mut rng = init::seeded_rng(3);
            layer.build(&[timesteps, features], &mut rng).unwrap();
            let x = Array::from_shape_fn((batch, timesteps, features), |(b, t, f)| {
                ((b * 13 + t * 7 + f * 3) % 17) as f32 / 17.0 - 0.5
            })
            .into_dyn();
            let grad = Array::from_shape_fn((batch, timesteps, units), |(b, t, u)| {
                ((b * 5 + t + u * 3) % 11) as f32 / 11.0 - 0.5
            })
            .into_dyn();
            let out = layer.forward(&x, true, &mut rng).unwrap();
            let dx = layer.backward(&grad).unwrap();
            for first in (0..batch).step_by(part) {
                let rows = s![first..first + part, .., ..];
                let x_part = x.slice(rows).to_owned().into_dyn();
                let out_part = layer.forward(&x_part, true, &mut rng).unwrap();
                let dx_part = layer
                    .backward(&grad.slice(rows).to_owned().into_dyn())
                    .unwrap();
                let same = |a: ArrayViewD<f32>, b: &ArrayD<f32>| {
                    a.iter()
                        .zip(b.iter())
                        .all(|(p, q)| p.to_bits() == q.to_bits())
                };
                assert!(
                    same(out.slice(rows).into_dyn(), &out_part),
                    "{} output",
                    layer.class_name()
                );
                assert!(
                    same(dx.slice(rows).into_dyn(), &dx_part),
                    "{} dx",
                    layer.class_name()
                );
            }
        }
    }
}
