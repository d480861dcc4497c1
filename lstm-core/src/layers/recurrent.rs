//! What `LSTM`, `GRU` and `SimpleRNN` share, written once: settings and their checks, Keras
//! weights (`kernel [in, G·u]`, `recurrent_kernel [u, G·u]`, `bias`), time-major buffers reused
//! from batch to batch, the per-step recurrent product, initial and carried states, input
//! dropout, the output's shape, and the parameter and input gradients of backpropagation
//! through time. Each cell (`lstm.rs`, `gru.rs`, `simple_rnn.rs`) supplies only its time loop,
//! forward and backward, written with the step functions of [`crate::math`].

use std::marker::PhantomData;

use ndarray::{
    Array2, Array3, ArrayD, ArrayView2, ArrayView3, ArrayViewD, ArrayViewMut2, ArrayViewMut3, Axis,
    Ix3, s,
};
use ndarray_rand::rand::Rng as _;

use super::params::{ParamSet, grad_matrix, grad_vector};
use super::{Layer, LayerConfig, Param, RecurrentConfig, Weight, not_built};
use crate::check::{batch_shape, ensure_finite, fmt_shape};
use crate::error::{LstmError, Result};
use crate::math::activation::Activation;
use crate::math::cell::GateBlocks;
use crate::math::denormals;
use crate::math::helper;
use crate::math::init::{self, Rng};
use crate::math::packed::PackedMatrix;

pub use machinery::Cell;

/// Which recurrent layer a [`Bidirectional`](super::Bidirectional) wraps, in saved configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum RecurrentKind {
    /// `LSTM` (the default, so files saved before GRU existed still load).
    #[default]
    #[serde(rename = "LSTM")]
    Lstm,
    /// `GRU`.
    #[serde(rename = "GRU")]
    Gru,
    /// `SimpleRNN`.
    #[serde(rename = "SimpleRNN")]
    SimpleRnn,
}

/// The contract between the shared layer and one cell. Public so the layer types can name it,
/// in a private module so only this crate implements it.
pub(crate) mod machinery {
    use super::*;

    /// A recurrent cell: [`LstmCell`](crate::LstmCell), [`GruCell`](crate::GruCell) or
    /// [`SimpleRnnCell`](crate::SimpleRnnCell). Sealed.
    pub trait Cell: Clone + Copy + std::fmt::Debug + Default + Send + Sync + 'static {
        /// Keras' class name, e.g. `GRU`.
        const CLASS: &'static str;
        /// Keras' automatic layer name, e.g. `gru`.
        const BASE: &'static str;
        /// Tag in saved configs.
        const KIND: RecurrentKind;
        /// Blocks along the packed axis: 4 (i, f, g, o), 3 (z, r, h) or 1.
        const GATES: usize;
        /// Whether a cell state `c` travels beside `h` (LSTM).
        const CELL_STATE: bool;
        /// Whether the bias has a second, recurrent row and the recurrent product its own
        /// gradient (GRU with `reset_after`).
        const RECURRENT_BIAS: bool;
        /// Per-step `[B, u]` blocks that backward needs besides the gates and states.
        const AUX_BLOCKS: usize;
        /// Whether `forward` and `backward` can run with the units split between the cores
        /// (`Recurrence::by_units`).
        const SPLITS_UNITS: bool = false;

        /// Keras' initial bias for `units` (zeros, or the LSTM's unit forget bias).
        fn initial_bias(units: usize) -> ArrayD<f32>;

        /// The time loop. Each step first computes its input projection `x_t·W + b` (input row
        /// of the bias) into `steps.gates[t]`: `Steps::project_input`, or together with its
        /// recurrent product, `Steps::input_and_recurrent_product`. `steps.h[0]` (and
        /// `steps.c[0]`) hold the initial states.
        fn forward(steps: Steps<'_>, recurrence: &Recurrence<'_>, activation: Activation);

        /// Backpropagation through time: fills `grads.d_in` (and `grads.d_rec`).
        fn backward(
            steps: StepsRef<'_>,
            recurrence: &Recurrence<'_>,
            grad_output: ArrayViewD<'_, f32>,
            grads: StepGrads<'_>,
            activation: Activation,
        );
    }

    /// Forward buffers as `[steps, batch, ..]` views.
    pub struct Steps<'a> {
        /// `[T, B, G·u]`: the input projection on entry, the cell's gate values on exit.
        pub gates: ArrayViewMut3<'a, f32>,
        /// `[T+1, B, u]`: block 0 the initial `h`, block t+1 the `h` after step t.
        pub h: ArrayViewMut3<'a, f32>,
        /// The same for `c` (LSTM); `[T+1, B, 0]` otherwise.
        pub c: ArrayViewMut3<'a, f32>,
        /// `[T, B, AUX_BLOCKS·u]`: what else backward needs (act(c) for LSTM, hp_h for GRU).
        pub aux: ArrayViewMut3<'a, f32>,
        /// `[B, G·u]` work space for one step's recurrent product.
        pub work: ArrayViewMut2<'a, f32>,
        /// Inputs `[T, B, features]` in processing order.
        pub x: ArrayView3<'a, f32>,
        /// `W` and the bias row: each step computes its own input projection just before its
        /// recurrent product reads it ([`Steps::project_input`]).
        pub input: InputProjection<'a>,
    }

    /// `W` packed and the bias row: a step's input projection is `b + x_t·W`.
    #[derive(Clone, Copy)]
    pub struct InputProjection<'a> {
        /// `W` packed for the SIMD kernel.
        pub kernel: &'a PackedMatrix,
        /// The bias row added to every row (zeros without bias).
        pub bias: ndarray::ArrayView1<'a, f32>,
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
            self.input.kernel.multiply_onto_row(
                self.x.index_axis(Axis(0), t),
                self.input.bias,
                gates,
            );
        }
    }

    /// The forward buffers, read-only, for backward.
    pub struct StepsRef<'a> {
        /// Gate values `[T, B, G·u]`.
        pub gates: ArrayView3<'a, f32>,
        /// `h` `[T+1, B, u]` (block t is `h_{t-1}` of step t).
        pub h: ArrayView3<'a, f32>,
        /// `c` `[T+1, B, u]` (LSTM).
        pub c: ArrayView3<'a, f32>,
        /// Auxiliary values `[T, B, AUX_BLOCKS·u]`.
        pub aux: ArrayView3<'a, f32>,
    }

    /// The recurrent weights: `U` and, for GRU, the recurrent bias row.
    pub struct Recurrence<'a> {
        /// `recurrent_kernel [u, G·u]`.
        pub kernel: ArrayView2<'a, f32>,
        /// Row 1 of GRU's bias `[G·u]`; `None` without bias (zeros) and for the other cells.
        pub bias: Option<ndarray::ArrayView1<'a, f32>>,
        /// `U` packed (forward) or `Uᵀ` packed (backward) when the step products are large
        /// enough for the SIMD kernel; `None` for the direct loop.
        pub packed: Option<&'a PackedMatrix>,
        /// Set when the pass splits the units, not the batch, between the two cores (LSTM).
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
                },
                Steps {
                    gates: gates_rest,
                    h: h_rest,
                    c: c_rest,
                    aux: aux_rest,
                    work: work_rest,
                    x: x_rest,
                    input: self.input,
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
                StepsRef { gates, h, c, aux },
                StepsRef {
                    gates: gates_rest,
                    h: h_rest,
                    c: c_rest,
                    aux: aux_rest,
                },
            )
        }
    }

    /// Backward outputs and work buffers.
    pub struct StepGrads<'a> {
        /// `[T, B, G·u]`: d(loss)/d(input projection) of every step.
        pub d_in: ArrayViewMut3<'a, f32>,
        /// `[T, B, G·u]`: d(loss)/d(recurrent projection), GRU only (`[T, B, 0]` otherwise:
        /// the two projections are summed before any nonlinearity, so `d_in` serves both).
        pub d_rec: ArrayViewMut3<'a, f32>,
        /// `[B, u]`: the gradient reaching `h` of the current step.
        pub dh: ArrayViewMut2<'a, f32>,
        /// `[B, u]`: the gradient reaching `c` (LSTM).
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
}

use machinery::{InputProjection, Recurrence, StepGrads, Steps, StepsRef, UnitSplit};

/// Step products below this many multiply-adds run as a direct loop: packing would cost more.
pub(crate) const DIRECT_PRODUCT_BELOW: usize = 4096;

/// A pass splits its batch between two cores when it has at least this many recurrent
/// multiply-adds (batch · steps · u · G·u): below it, the hand-over costs more than it saves.
const SPLIT_BATCH_FROM: usize = 1 << 20;

/// Rows per half, at least: fewer leave the SIMD kernel's tiles mostly empty.
const MIN_ROWS_PER_PART: usize = 4;

/// Whether a pass over `batch` rows splits them between two cores.
fn split_batch(batch: usize, timesteps: usize, units: usize, width: usize) -> bool {
    batch >= 2 * MIN_ROWS_PER_PART && batch * timesteps * units * width >= SPLIT_BATCH_FROM
}

/// LSTMs with at least this many units split their units between the cores when the batch is
/// small: `U` (at least 2.25 MB) then no longer fits one core's L2 cache, and with half the
/// batch each core would stream all of it every step. With half the units, each streams half.
/// Measured on one step's product, `[32, 512]·[512, 2048]` on two cores: 297 GFLOPS by units,
/// 249 by batch rows; equal at 256 units; by rows ahead from a batch of 128.
const SPLIT_UNITS_FROM: usize = 384;
const SPLIT_UNITS_BELOW_BATCH: usize = 64;

/// Whether a pass splits its units (not its batch) between two cores.
fn split_units<C: Cell>(batch: usize, timesteps: usize, units: usize) -> bool {
    C::SPLITS_UNITS
        && units >= SPLIT_UNITS_FROM
        && batch < SPLIT_UNITS_BELOW_BATCH
        && batch * timesteps * units * C::GATES * units >= SPLIT_BATCH_FROM
}

/// `U` in the SIMD kernel's panels, packed once per pass: whole, or in halves by units.
#[derive(Debug, Clone, Default)]
struct Packing {
    /// What is packed: the weights' version, and whether by units and whole (a pass with the
    /// same key reuses the panels: predicting chunk after chunk packs `U` once).
    key: Option<(u64, bool, bool)>,
    whole: PackedMatrix,
    by_units: Vec<PackedMatrix>,
    /// `W` by units as `U` (forward only).
    input_by_units: Vec<PackedMatrix>,
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

/// A recurrent layer: [`Lstm`](crate::Lstm), [`Gru`](crate::Gru) or
/// [`SimpleRnn`](crate::SimpleRnn). Settings, defaults and methods are Keras' and common to the
/// three; each type's page lists its cell's equations and weight layout.
#[derive(Debug, Clone)]
pub struct Recurrent<C: Cell> {
    units: usize,
    activation: Activation,
    use_bias: bool,
    return_sequences: bool,
    return_state: bool,
    go_backwards: bool,
    stateful: bool,
    dropout: f32,
    seed: u64,
    params: Option<ParamSet>,
    carried: Option<Vec<Array2<f32>>>,
    pub(crate) cache: Option<Cache>,
    scratch: Option<Scratch>,
    cell: PhantomData<C>,
}

/// What backpropagation needs from the forward pass. Every step's values sit in one array, in
/// blocks of `batch` rows (block t is step t), and the buffers are reused from batch to batch.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cache {
    pub(crate) batch: usize,
    pub(crate) timesteps: usize,
    /// Inputs in processing order, time-major: row `t·B + b` is sample b at step t.
    x: Array2<f32>,
    dropout_mask: Option<Array2<f32>>,
    /// Gate values of every step, `[T·B, G·u]`.
    pub(crate) gates: Array2<f32>,
    /// `h` (and `c`), `[(T+1)·B, u]`: block 0 the initial state, block t+1 the state after step t.
    pub(crate) h: Array2<f32>,
    pub(crate) c: Array2<f32>,
    aux: Array2<f32>,
    work: Array2<f32>,
    /// `U` in the SIMD kernel's panels, packed once per pass.
    packed: Packing,
    /// `W` likewise, and the weights' version it was packed from.
    packed_w: PackedMatrix,
    packed_w_version: Option<u64>,
}

/// Buffers of the backward pass, reused from batch to batch.
#[derive(Debug, Clone, Default)]
struct Scratch {
    d_in: Array2<f32>,
    d_rec: Array2<f32>,
    dh: Array2<f32>,
    dc: Array2<f32>,
    /// `Uᵀ` in the SIMD kernel's panels, packed once per pass.
    packed_t: Packing,
    /// `d_in` packed for the weight gradients: whole, or each core's half of its columns.
    packed_grads: [PackedMatrix; 2],
}

/// `buffer` in `shape`, its memory reused (contents are overwritten by the caller): a fit whose
/// last batch is smaller switches shapes twice per epoch, and fresh zeroed pages cost time.
fn reuse(buffer: Array2<f32>, shape: (usize, usize)) -> Array2<f32> {
    if buffer.dim() == shape {
        return buffer;
    }
    match buffer.into_raw_vec_and_offset() {
        (mut data, None | Some(0)) => {
            data.resize(shape.0 * shape.1, 0.0);
            Array2::from_shape_vec(shape, data).expect("length matches the shape")
        }
        _ => Array2::zeros(shape),
    }
}

/// A time-major `[steps·batch, width]` array as `[steps, batch, width]`.
fn by_step(a: &Array2<f32>, batch: usize) -> ArrayView3<'_, f32> {
    let (rows, width) = a.dim();
    a.view()
        .into_shape_with_order((rows / batch, batch, width))
        .expect("contiguous")
}

fn by_step_mut(a: &mut Array2<f32>, batch: usize) -> ArrayViewMut3<'_, f32> {
    let (rows, width) = a.dim();
    a.view_mut()
        .into_shape_with_order((rows / batch, batch, width))
        .expect("contiguous")
}

impl Cache {
    fn new<C: Cell>(
        old: Option<Cache>,
        timesteps: usize,
        batch: usize,
        features: usize,
        units: usize,
    ) -> Cache {
        let old = old.unwrap_or_default();
        let rows = timesteps * batch;
        let c_width = if C::CELL_STATE { units } else { 0 };
        Cache {
            batch,
            timesteps,
            x: reuse(old.x, (rows, features)),
            dropout_mask: None,
            gates: reuse(old.gates, (rows, C::GATES * units)),
            h: reuse(old.h, (rows + batch, units)),
            c: reuse(old.c, (rows + batch, c_width)),
            aux: reuse(old.aux, (rows, C::AUX_BLOCKS * units)),
            work: reuse(old.work, (batch, C::GATES * units)),
            packed: old.packed,
            packed_w: old.packed_w,
            packed_w_version: old.packed_w_version,
        }
    }

    /// Rows of step `t` (block t).
    pub(crate) fn block(&self, t: usize) -> std::ops::Range<usize> {
        t * self.batch..(t + 1) * self.batch
    }

    /// The states after the last step: `[h]`, or `[h, c]` for an LSTM.
    pub(crate) fn final_states<C: Cell>(&self) -> Vec<Array2<f32>> {
        let last = s![self.timesteps * self.batch.., ..];
        let mut states = vec![self.h.slice(last).to_owned()];
        if C::CELL_STATE {
            states.push(self.c.slice(last).to_owned());
        }
        states
    }
}

impl<C: Cell> Recurrent<C> {
    /// A layer with `units` hidden units and Keras' defaults.
    pub fn new(units: usize) -> Self {
        Recurrent {
            units,
            activation: Activation::Tanh,
            use_bias: true,
            return_sequences: false,
            return_state: false,
            go_backwards: false,
            stateful: false,
            dropout: 0.0,
            seed: 0,
            params: None,
            carried: None,
            cache: None,
            scratch: None,
            cell: PhantomData,
        }
    }

    /// The cell's nonlinearity (tanh by default; relu allowed): the LSTM's candidate and
    /// `act(c)`, the GRU's candidate, the SimpleRNN's `h = act(a)`.
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }
    /// Output every step (`[B, T, u]`) instead of the last (`[B, u]`).
    pub fn return_sequences(mut self, yes: bool) -> Self {
        self.return_sequences = yes;
        self
    }
    /// `call` keeps the final states; a `Sequential` model refuses such a layer, as in Keras.
    pub fn return_state(mut self, yes: bool) -> Self {
        self.return_state = yes;
        self
    }
    /// Read the sequence from the last step to the first; the output stays in processing order.
    pub fn go_backwards(mut self, yes: bool) -> Self {
        self.go_backwards = yes;
        self
    }
    /// Carry the final states of one batch into the next, until [`Layer::reset_states`].
    pub fn stateful(mut self, yes: bool) -> Self {
        self.stateful = yes;
        self
    }
    /// Fraction of input units dropped during training, in `[0, 1)`.
    pub fn dropout(mut self, rate: f32) -> Self {
        self.dropout = rate;
        self
    }
    /// Without the bias.
    pub fn use_bias(mut self, yes: bool) -> Self {
        self.use_bias = yes;
        self
    }
    /// Seed for the weights when the layer builds itself in `call` (a model uses its own RNG).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The number of units (the size of `h`).
    pub fn units(&self) -> usize {
        self.units
    }

    /// An unbuilt layer with these settings.
    pub fn from_config(c: &RecurrentConfig) -> Self {
        Self::new(c.units)
            .activation(c.activation)
            .use_bias(c.use_bias)
            .return_sequences(c.return_sequences)
            .go_backwards(c.go_backwards)
            .stateful(c.stateful)
            .dropout(c.dropout)
    }

    /// The settings, by their Keras names (`layer.settings().go_backwards`); `from_config`
    /// rebuilds the layer from them.
    pub fn settings(&self) -> RecurrentConfig {
        RecurrentConfig {
            units: self.units,
            activation: self.activation,
            use_bias: self.use_bias,
            return_sequences: self.return_sequences,
            go_backwards: self.go_backwards,
            stateful: self.stateful,
            dropout: self.dropout,
        }
    }

    fn validate(&self) -> Result<()> {
        let class = C::CLASS;
        if self.units == 0 {
            return Err(LstmError::config(format!("{class} units"), "at least 1", 0));
        }
        if !matches!(self.activation, Activation::Tanh | Activation::Relu) {
            return Err(LstmError::config(
                format!("{class} activation"),
                "tanh or relu",
                self.activation.name(),
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(LstmError::config(
                format!("{class} dropout"),
                "a rate in [0, 1)",
                self.dropout,
            ));
        }
        Ok(())
    }

    /// Checks the input shape and creates the weights: [`Layer::build`].
    fn build_weights(&mut self, input_shape: &[usize], rng: &mut Rng) -> Result<Vec<usize>> {
        self.validate()?;
        let what = format!("{} input", C::CLASS);
        let [timesteps, features] = *input_shape else {
            return Err(LstmError::shape(
                what,
                "(batch, timesteps, features): a 3-D input",
                batch_shape(input_shape),
            ));
        };
        if features == 0 || timesteps == 0 {
            return Err(LstmError::shape(
                what,
                "at least one timestep and one feature",
                format!("(None, {timesteps}, {features})"),
            ));
        }
        let u = self.units;
        let mut params = ParamSet::default();
        params.push(
            "kernel",
            init::glorot_uniform(features, C::GATES * u, rng).into_dyn(),
        );
        params.push(
            "recurrent_kernel",
            init::orthogonal(u, C::GATES * u, rng).into_dyn(),
        );
        if self.use_bias {
            params.push("bias", C::initial_bias(u));
        }
        self.params = Some(params);
        self.carried = None;
        self.cache = None;
        Ok(if self.return_sequences {
            vec![timesteps, u]
        } else {
            vec![u]
        })
    }

    /// Runs the layer outside a model, building it on first use (weights from `seed`), from
    /// the given initial states (`[h]` or `[h, c]`), the carried ones if stateful, or zeros.
    /// Returns the output and the final states.
    pub(crate) fn call_states(
        &mut self,
        x: &Array3<f32>,
        initial: Option<&[Array2<f32>]>,
    ) -> Result<(ArrayD<f32>, Vec<Array2<f32>>)> {
        let (_, timesteps, features) = x.dim();
        if self.params.is_none() {
            self.build_weights(&[timesteps, features], &mut init::seeded_rng(self.seed))?;
        }
        let mut rng = init::seeded_rng(self.seed);
        let output =
            denormals::flushed(|| self.run(x.view().into_dyn(), initial, false, &mut rng))?;
        let states = self
            .cache
            .as_ref()
            .expect("run fills the cache")
            .final_states::<C>();
        Ok((output, states))
    }

    fn check_input(&self, x: &ArrayViewD<f32>) -> Result<(usize, usize, usize)> {
        let params = self.params.as_ref().ok_or_else(|| not_built(C::CLASS))?;
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

    /// Names of the states, in order.
    fn state_names() -> &'static [&'static str] {
        if C::CELL_STATE {
            &["h0", "c0"]
        } else {
            &["h0"]
        }
    }

    fn initial_states(
        &self,
        batch: usize,
        given: Option<&[Array2<f32>]>,
    ) -> Result<Vec<Array2<f32>>> {
        let expected = (batch, self.units);
        let names = Self::state_names();
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
                        fmt_shape(&[batch, self.units]),
                        fmt_shape(s.shape()),
                    ));
                }
                ensure_finite(&what, s)?;
            }
            return Ok(states.to_vec());
        }
        match &self.carried {
            Some(states) if self.stateful => {
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

    fn run(
        &mut self,
        x: ArrayViewD<f32>,
        initial: Option<&[Array2<f32>]>,
        training: bool,
        rng: &mut Rng,
    ) -> Result<ArrayD<f32>> {
        let (batch, timesteps, features) = self.check_input(&x)?;
        let states = self.initial_states(batch, initial)?;
        let x = x.into_dimensionality::<Ix3>().expect("rank checked");

        let dropout_mask = (training && self.dropout > 0.0).then(|| {
            let keep = 1.0 - self.dropout;
            Array2::from_shape_fn((batch, features), |_| {
                if rng.random::<f32>() < keep {
                    1.0 / keep
                } else {
                    0.0
                }
            })
        });

        let units = self.units;
        let mut cache = Cache::new::<C>(self.cache.take(), timesteps, batch, features, units);
        // Time-major inputs in processing order, so each step's rows are contiguous.
        for t in 0..timesteps {
            let source = if self.go_backwards {
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
        if C::CELL_STATE {
            cache.c.slice_mut(s![..batch, ..]).assign(&states[1]);
        }

        let params = self.params.as_ref().expect("checked in check_input");
        // The input projection b + x·W: its bias row and W packed once for every step.
        let width = C::GATES * units;
        let zeros;
        let bias = match params.get("bias") {
            Some(bias) if C::RECURRENT_BIAS => bias.index_axis(Axis(0), 0).into_dimensionality(),
            Some(bias) => bias.view().into_dimensionality(),
            None => {
                zeros = ndarray::Array1::zeros(width);
                Ok(zeros.view())
            }
        }
        .expect("a bias row of G·u");
        if cache.packed_w_version != Some(params.version()) {
            cache.packed_w.pack(params.matrix("kernel"));
            cache.packed_w_version = Some(params.version());
        }
        let packed_w = &cache.packed_w;
        let by_units = split_units::<C>(batch, timesteps, units);
        let input = InputProjection {
            kernel: packed_w,
            bias,
        };
        let mut packed = std::mem::take(&mut cache.packed);
        let recurrence = self.recurrence(batch, &mut packed, false, by_units);
        let b = batch;
        let steps = Steps {
            gates: by_step_mut(&mut cache.gates, b),
            h: by_step_mut(&mut cache.h, b),
            c: by_step_mut(&mut cache.c, b),
            aux: by_step_mut(&mut cache.aux, b),
            work: cache.work.view_mut(),
            x: by_step(&cache.x, b),
            input,
        };
        let activation = self.activation;
        in_halves(
            steps,
            batch,
            !by_units && split_batch(batch, timesteps, units, width),
            |steps: Steps, at| steps.split_batch(at),
            &|steps| C::forward(steps, &recurrence, activation),
        );
        cache.packed = packed;

        let output = if self.return_sequences {
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
        if self.stateful {
            self.carried = Some(cache.final_states::<C>());
        }
        self.cache = Some(cache);
        Ok(output)
    }

    /// The recurrent kernel and, for GRU, the recurrent bias row (zeros without bias). For
    /// batches whose step products are large enough, also `U` (or `Uᵀ` if `transposed`) packed
    /// for the SIMD kernel: whole, or in halves by units if `by_units`.
    fn recurrence<'a>(
        &'a self,
        batch: usize,
        packed: &'a mut Packing,
        transposed: bool,
        by_units: bool,
    ) -> Recurrence<'a> {
        let params = self.params.as_ref().expect("built");
        let kernel = params.matrix("recurrent_kernel");
        let use_packed = !by_units && batch * kernel.len() >= DIRECT_PRODUCT_BELOW;
        let key = Some((params.version(), by_units, use_packed));
        let packed_already = packed.key == key;
        packed.key = key;
        if use_packed && !packed_already {
            packed.whole.pack(if transposed {
                kernel.t()
            } else {
                kernel.view()
            });
        }
        let (units, at) = (self.units, self.units / 2);
        if by_units && !packed_already {
            let halves = [0..at, at..units];
            let parts: Vec<ArrayView2<f32>> = if transposed {
                halves
                    .map(|r| kernel.slice_move(s![r, ..]).reversed_axes())
                    .into()
            } else {
                halves
                    .into_iter()
                    .flat_map(|r| {
                        let GateBlocks { i, f, g, o } = GateBlocks::of_units(kernel, r);
                        [i, f, g, o]
                    })
                    .collect()
            };
            // Forward, each part's input projection needs the same columns of W.
            let input_parts: Vec<ArrayView2<f32>> = if transposed {
                vec![]
            } else {
                let w = params.matrix("kernel");
                [0..at, at..units]
                    .into_iter()
                    .flat_map(|r| {
                        let GateBlocks { i, f, g, o } = GateBlocks::of_units(w, r);
                        [i, f, g, o]
                    })
                    .collect()
            };
            packed
                .by_units
                .resize_with(parts.len(), PackedMatrix::default);
            packed
                .input_by_units
                .resize_with(input_parts.len(), PackedMatrix::default);
            // Each core packs the parts of one half.
            let (first, second) = packed.by_units.split_at_mut(parts.len() / 2);
            let (first_parts, second_parts) = parts.split_at(parts.len() / 2);
            let (first_w, second_w) = packed.input_by_units.split_at_mut(input_parts.len() / 2);
            let (first_w_parts, second_w_parts) = input_parts.split_at(input_parts.len() / 2);
            let pack = |targets: &mut [PackedMatrix], parts: &[ArrayView2<f32>]| {
                for (target, part) in targets.iter_mut().zip(parts) {
                    target.pack(*part);
                }
            };
            helper::join(
                || {
                    pack(first, first_parts);
                    pack(first_w, first_w_parts);
                },
                || {
                    pack(second, second_parts);
                    pack(second_w, second_w_parts);
                },
            );
        }
        let bias = params
            .get("bias")
            .filter(|_| C::RECURRENT_BIAS)
            .map(|bias| {
                bias.index_axis(Axis(0), 1)
                    .into_dimensionality()
                    .expect("[2, G·u] bias")
            });
        Recurrence {
            kernel,
            bias,
            packed: use_packed.then_some(&packed.whole),
            by_units: by_units.then_some(UnitSplit {
                at,
                parts: &packed.by_units,
                input_parts: &packed.input_by_units,
            }),
        }
    }

    /// Backpropagation through time: parameter gradients, and d(loss)/d(input) if `want_dx`.
    fn backward_through_time(
        &mut self,
        grad_output: &ArrayD<f32>,
        want_dx: bool,
    ) -> Result<Option<ArrayD<f32>>> {
        let class = C::CLASS;
        let cache = self.cache.as_ref().ok_or(LstmError::NotReady {
            what: "recurrent layer backward",
            needed: "preceded by a forward pass",
            call: "forward(x, true, rng)",
        })?;
        if self.params.is_none() {
            return Err(not_built(class));
        }
        let (timesteps, batch, units) = (cache.timesteps, cache.batch, self.units);
        let expected = if self.return_sequences {
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
        } = self.scratch.take().unwrap_or_default();
        let mut d_in = reuse(d_in, (rows, width));
        let rec_width = if C::RECURRENT_BIAS { width } else { 0 };
        let mut d_rec = reuse(d_rec, (rows, rec_width));
        let mut dh = reuse(dh, (batch, units));
        let mut dc = reuse(dc, (batch, if C::CELL_STATE { units } else { 0 }));
        {
            let steps = StepsRef {
                gates: by_step(&cache.gates, batch),
                h: by_step(&cache.h, batch),
                c: by_step(&cache.c, batch),
                aux: by_step(&cache.aux, batch),
            };
            let grads = StepGrads {
                d_in: by_step_mut(&mut d_in, batch),
                d_rec: by_step_mut(&mut d_rec, batch),
                dh: dh.view_mut(),
                dc: dc.view_mut(),
            };
            let by_units = split_units::<C>(batch, timesteps, units);
            let recurrence = self.recurrence(batch, &mut packed_t, true, by_units);
            let activation = self.activation;
            in_halves(
                (steps, grads, grad_output.view()),
                batch,
                !by_units && split_batch(batch, timesteps, units, width),
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
                    C::backward(steps, &recurrence, grad_output, grads, activation)
                },
            );
        }

        // Parameter gradients for all steps at once; blocks 0..T of h are the h_{t-1}.
        let cache = self.cache.as_ref().expect("checked above");
        let params = self.params.as_mut().expect("checked above");
        let (values, mut grads) = params.split();
        let h_prev_all = cache.h.slice(s![..rows, ..]);
        let d_rec_all = if C::RECURRENT_BIAS { &d_rec } else { &d_in };
        if C::RECURRENT_BIAS {
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
            let (du, d_bias) = rest.split_at_mut(1);
            let (dw, du) = (grad_matrix(dw[0]), grad_matrix(du[0]));
            let mut d_bias = d_bias.first_mut().map(|d_bias| grad_vector(d_bias));
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
        if let Some(d_bias) = grads.get_mut(2).filter(|_| C::RECURRENT_BIAS) {
            let mut d_bias = grad_matrix(d_bias);
            helper::sum_rows(d_in.view(), d_bias.row_mut(0));
            helper::sum_rows(d_rec.view(), d_bias.row_mut(1));
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
                let target = if self.go_backwards {
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
        self.scratch = Some(Scratch {
            d_in,
            d_rec,
            dh,
            dc,
            packed_t,
            packed_grads,
        });
        Ok(dx)
    }
}

/// `Layer` for each cell kind, written once. Concrete impls, not `impl<C: Cell> Layer for
/// Recurrent<C>`: a generic impl is compiled in every crate that boxes the layer, with that crate's
/// build settings (in a notebook: each cell, unoptimised or with debug assertions, which made
/// fits 4x slower); a concrete one is compiled once, here, optimised.
macro_rules! recurrent_layer {
    ($($cell:ty),*) => {$(
        impl Layer for Recurrent<$cell> {
            fn class_name(&self) -> &'static str {
                <$cell>::CLASS
            }
            fn base_name(&self) -> &'static str {
                <$cell>::BASE
            }

            fn config(&self) -> LayerConfig {
                match <$cell>::KIND {
                    RecurrentKind::Lstm => LayerConfig::Lstm(self.settings()),
                    RecurrentKind::Gru => LayerConfig::Gru(self.settings()),
                    RecurrentKind::SimpleRnn => LayerConfig::SimpleRnn(self.settings()),
                }
            }

            fn build(&mut self, input_shape: &[usize], rng: &mut Rng) -> Result<Vec<usize>> {
                self.build_weights(input_shape, rng)
            }

            fn forward(&mut self, x: &ArrayD<f32>, training: bool, rng: &mut Rng) -> Result<ArrayD<f32>> {
                denormals::flushed(|| self.run(x.view(), None, training, rng))
            }

            fn backward(&mut self, grad_output: &ArrayD<f32>) -> Result<ArrayD<f32>> {
                denormals::flushed(|| self.backward_through_time(grad_output, true))
                    .map(|dx| dx.expect("asked for the input gradient"))
            }

            fn backward_params_only(&mut self, grad_output: &ArrayD<f32>) -> Result<()> {
                denormals::flushed(|| self.backward_through_time(grad_output, false)).map(|_| ())
            }

            fn params(&mut self) -> Vec<Param<'_>> {
                self.params
                    .as_mut()
                    .map(ParamSet::params)
                    .unwrap_or_default()
            }

            fn weights(&self) -> Vec<Weight> {
                self.params
                    .as_ref()
                    .map(ParamSet::weights)
                    .unwrap_or_default()
            }

            fn set_weights(&mut self, weights: &[ArrayD<f32>]) -> Result<()> {
                let params = self.params.as_mut().ok_or_else(|| not_built(<$cell>::CLASS))?;
                params.set(<$cell>::CLASS, weights)
            }

            fn param_count(&self) -> usize {
                self.params.as_ref().map_or(0, ParamSet::count)
            }

            fn reset_states(&mut self) {
                self.carried = None;
            }

            fn is_stateful(&self) -> bool {
                self.stateful
            }

            fn returns_state(&self) -> bool {
                self.return_state
            }

            fn as_lstm(&self) -> Option<&super::Lstm> {
                (self as &dyn std::any::Any).downcast_ref()
            }
        }
    )*};
}

recurrent_layer!(
    super::lstm::LstmCell,
    super::gru::GruCell,
    super::simple_rnn::SimpleRnnCell
);

/// What [`Gru::call`](crate::Gru::call) and [`SimpleRnn::call`](crate::SimpleRnn::call) return:
/// the output (`[B, T, u]` with `return_sequences`, else `[B, u]`) and the final `h` (`[B, u]`).
#[derive(Debug, Clone, PartialEq)]
pub struct RnnOutput {
    /// The output: `[batch, units]`, or `[batch, timesteps, units]` with `return_sequences`.
    pub output: ArrayD<f32>,
    /// The last hidden state `h_T`, `[batch, units]`.
    pub h: Array2<f32>,
}

/// Cells whose only state is `h` (GRU, SimpleRNN): their layers' `call` returns [`RnnOutput`].
pub trait HiddenStateOnly: Cell {}

impl<C: HiddenStateOnly> Recurrent<C> {
    /// Runs the layer on `x: [batch, timesteps, features]` outside a model, building it on first
    /// use (weights from `seed`), from zero `h` (or the carried one if stateful).
    pub fn call(&mut self, x: &Array3<f32>) -> Result<RnnOutput> {
        self.call_with_initial_state(x, None)
    }

    /// Like `call`, starting from `h0: [batch, units]`.
    pub fn call_with_initial_state(
        &mut self,
        x: &Array3<f32>,
        h0: Option<&Array2<f32>>,
    ) -> Result<RnnOutput> {
        let initial = h0.map(|h| vec![h.clone()]);
        let (output, mut states) = self.call_states(x, initial.as_deref())?;
        Ok(RnnOutput {
            output,
            h: states.swap_remove(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{Gru, GruCell, Lstm, LstmCell, SimpleRnn};
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
            let states = lstm.cache.as_ref().unwrap().final_states::<LstmCell>();
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
                let states_part = lstm.cache.as_ref().unwrap().final_states::<LstmCell>();
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
                let (_, grads) = lstm.params.as_mut().unwrap().split();
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
