//! `LSTM`: the cell of [`crate::math::cell`] run over time, batched, with backpropagation through time.

use ndarray::linalg::general_mat_mul;
use ndarray::{
    Array1, Array2, Array3, ArrayD, ArrayView2, ArrayView3, ArrayViewD, ArrayViewMut2,
    ArrayViewMut3, Axis, Ix3, s,
};
use ndarray_rand::rand::Rng as _;

use super::{Layer, Param, Weight, check_weight_shapes, not_built};
use crate::check::{batch_shape, ensure_finite, fmt_shape};
use crate::error::{LstmError, Result};
use crate::math::activation::Activation;
use crate::math::cell::{self, CellStep};
use crate::math::init::{self, Rng};

/// `keras.layers.LSTM`. Weights in Keras layout: `kernel [in, 4u]`, `recurrent_kernel [u, 4u]`,
/// `bias [4u]`, gates packed i, f, g, o (Keras' i, f, c, o: "c" is the candidate g).
///
/// Defaults as in Keras: `activation` tanh (relu allowed), recurrent activation sigmoid,
/// `use_bias` true, glorot-uniform kernel, orthogonal recurrent kernel, unit forget bias,
/// `return_sequences` false, `return_state` false, `go_backwards` false, `stateful` false,
/// `dropout` 0 (on the inputs, one mask per sequence shared by every step, as Keras 3 does).
#[derive(Debug, Clone)]
pub struct Lstm {
    units: usize,
    activation: Activation,
    use_bias: bool,
    return_sequences: bool,
    return_state: bool,
    go_backwards: bool,
    stateful: bool,
    dropout: f32,
    seed: u64,
    weights: Option<LstmWeights>,
    state: Option<LstmState>,
    cache: Option<Cache>,
    scratch: Option<Scratch>,
}

#[derive(Debug, Clone)]
struct LstmWeights {
    kernel: Array2<f32>,
    recurrent_kernel: Array2<f32>,
    bias: Array1<f32>,
    d_kernel: Array2<f32>,
    d_recurrent_kernel: Array2<f32>,
    d_bias: Array1<f32>,
}

/// What backpropagation needs from the forward pass. Every step's values sit in one array, in
/// blocks of `batch` rows (block t is step t), and the buffers are reused from batch to batch.
#[derive(Debug, Clone, Default)]
struct Cache {
    batch: usize,
    timesteps: usize,
    /// Inputs in processing order, time-major: row `t·B + b` is sample b at step t.
    x_time_major: Array2<f32>,
    dropout_mask: Option<Array2<f32>>,
    /// The gates `[ i | f | g | o ]` of every step, `[T·B, 4u]`.
    gates: Array2<f32>,
    /// `h` and `c`, `[(T+1)·B, u]`: block 0 holds the initial states, block t+1 the states after
    /// step t. So blocks 0..T are the `h_{t-1}` the recurrent kernel's gradient needs.
    h: Array2<f32>,
    c: Array2<f32>,
    /// `act(c_t)` of every step, `[T·B, u]`: backward needs it and need not recompute it.
    act_c: Array2<f32>,
}

/// Buffers of the backward pass, reused from batch to batch.
#[derive(Debug, Clone, Default)]
struct Scratch {
    dz: Array2<f32>,
    dh: Array2<f32>,
    dc: Array2<f32>,
}

/// `buffer` if it has `shape`, else a new zeroed array (contents are overwritten by the caller).
fn reuse(buffer: Array2<f32>, shape: (usize, usize)) -> Array2<f32> {
    if buffer.dim() == shape {
        buffer
    } else {
        Array2::zeros(shape)
    }
}

/// `[T, B, 4u]` gates, `[T+1, B, u]` h and c, `[T, B, u]` act(c).
type ForwardViews<'a> = (
    ArrayViewMut3<'a, f32>,
    ArrayViewMut3<'a, f32>,
    ArrayViewMut3<'a, f32>,
    ArrayViewMut3<'a, f32>,
);

/// The time loop. `gates` holds `b + x·W` on entry; `h[0]` and `c[0]`
/// hold the initial states.
fn recur_forward(
    recurrent_kernel: &Array2<f32>,
    mut gates: ArrayViewMut3<f32>,
    mut h: ArrayViewMut3<f32>,
    mut c: ArrayViewMut3<f32>,
    mut act_c: ArrayViewMut3<f32>,
    activation: Activation,
) {
    for t in 0..gates.len_of(Axis(0)) {
        let mut z_t = gates.index_axis_mut(Axis(0), t);
        // z_t += h_{t-1}·U
        add_product(&mut z_t, h.index_axis(Axis(0), t), recurrent_kernel);
        let (c_before, mut c_after) = c.view_mut().split_at(Axis(0), t + 1);
        let (_, mut h_after) = h.view_mut().split_at(Axis(0), t + 1);
        cell::step_in_place(
            z_t,
            c_before.index_axis(Axis(0), t),
            c_after.index_axis_mut(Axis(0), 0),
            act_c.index_axis_mut(Axis(0), t),
            h_after.index_axis_mut(Axis(0), 0),
            activation,
        );
    }
}

/// Products below this many multiply-adds cost more to pack for the SIMD kernel than to compute.
const DIRECT_PRODUCT_BELOW: usize = 4096;

/// `z += h·U` (`h: [B, u]`, `U: [u, 4u]`). Large products run as `zᵀ += Uᵀ·hᵀ`: the long side
/// (4u) is then the one the matrix kernel splits across threads.
fn add_product(z: &mut ArrayViewMut2<f32>, h: ArrayView2<f32>, u: &Array2<f32>) {
    let (batch, units) = h.dim();
    if batch * units * u.ncols() >= DIRECT_PRODUCT_BELOW {
        general_mat_mul(1.0, &u.t(), &h.t(), 1.0, &mut z.view_mut().reversed_axes());
        return;
    }
    for (mut z_row, h_row) in z.rows_mut().into_iter().zip(h.rows()) {
        for (&h_p, u_row) in h_row.iter().zip(u.rows()) {
            z_row.scaled_add(h_p, &u_row);
        }
    }
}

/// `dh = dz·Uᵀ` (`dz: [B, 4u]`, `U: [u, 4u]`), large products as `dhᵀ = U·dzᵀ`.
fn set_product_transposed(dh: &mut ArrayViewMut2<f32>, dz: ArrayView2<f32>, u: &Array2<f32>) {
    let (batch, width) = dz.dim();
    if batch * width * u.nrows() >= DIRECT_PRODUCT_BELOW {
        general_mat_mul(1.0, u, &dz.t(), 0.0, &mut dh.view_mut().reversed_axes());
        return;
    }
    for (mut dh_row, dz_row) in dh.rows_mut().into_iter().zip(dz.rows()) {
        for (out, u_row) in dh_row.iter_mut().zip(u.rows()) {
            *out = dz_row.dot(&u_row);
        }
    }
}

/// Backpropagation through time: fills `dz [T, B, 4u]`. `grad_output` is the gradient of the
/// layer output (`[B, T, u]` or `[B, u]`); `dh` and `dc` are `[B, u]` work buffers.
#[allow(clippy::too_many_arguments)]
fn recur_backward(
    recurrent_kernel: &Array2<f32>,
    gates: ArrayView3<f32>,
    c: ArrayView3<f32>,
    act_c: ArrayView3<f32>,
    grad_output: ArrayViewD<f32>,
    mut dz: ArrayViewMut3<f32>,
    mut dh: ArrayViewMut2<f32>,
    mut dc: ArrayViewMut2<f32>,
    activation: Activation,
) {
    let timesteps = gates.len_of(Axis(0));
    dh.fill(0.0);
    dc.fill(0.0);
    for t in (0..timesteps).rev() {
        // Gradient reaching h_t: from the output at this step and (already in dh) from t+1.
        if grad_output.ndim() == 3 {
            dh += &grad_output.slice(s![.., t, ..]);
        } else if t == timesteps - 1 {
            dh += &grad_output;
        }
        cell::step_backward_in_place(
            gates.index_axis(Axis(0), t),
            c.index_axis(Axis(0), t),
            act_c.index_axis(Axis(0), t),
            dh.view(),
            dc.view_mut(),
            dz.index_axis_mut(Axis(0), t),
            activation,
        );
        if t > 0 {
            // dh_{t-1} = dz_t·Uᵀ
            set_product_transposed(&mut dh, dz.index_axis(Axis(0), t), recurrent_kernel);
        }
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
    /// The per-step arrays as `[steps, batch, ..]` views.
    fn per_step_views(&mut self) -> ForwardViews<'_> {
        let b = self.batch;
        (
            by_step_mut(&mut self.gates, b),
            by_step_mut(&mut self.h, b),
            by_step_mut(&mut self.c, b),
            by_step_mut(&mut self.act_c, b),
        )
    }

    fn new(
        old: Option<Cache>,
        timesteps: usize,
        batch: usize,
        features: usize,
        units: usize,
    ) -> Cache {
        let old = old.unwrap_or_default();
        let rows = timesteps * batch;
        Cache {
            batch,
            timesteps,
            x_time_major: reuse(old.x_time_major, (rows, features)),
            dropout_mask: None,
            gates: reuse(old.gates, (rows, 4 * units)),
            h: reuse(old.h, (rows + batch, units)),
            c: reuse(old.c, (rows + batch, units)),
            act_c: reuse(old.act_c, (rows, units)),
        }
    }

    /// Rows of step `t` (block t).
    fn block(&self, t: usize) -> std::ops::Range<usize> {
        t * self.batch..(t + 1) * self.batch
    }

    /// `h` and `c` after the last step.
    fn final_state(&self) -> LstmState {
        let last = s![self.timesteps * self.batch.., ..];
        LstmState {
            h: self.h.slice(last).to_owned(),
            c: self.c.slice(last).to_owned(),
        }
    }
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

impl Lstm {
    /// An LSTM with `units` hidden units and Keras' defaults.
    pub fn new(units: usize) -> Self {
        Lstm {
            units,
            activation: Activation::Tanh,
            use_bias: true,
            return_sequences: false,
            return_state: false,
            go_backwards: false,
            stateful: false,
            dropout: 0.0,
            seed: 0,
            weights: None,
            state: None,
            cache: None,
            scratch: None,
        }
    }

    /// Activation of the candidate and of the cell state in `h = o·act(c)`: tanh or relu.
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }
    /// Output every step (`[B, T, u]`) instead of the last (`[B, u]`).
    pub fn return_sequences(mut self, yes: bool) -> Self {
        self.return_sequences = yes;
        self
    }
    /// [`Lstm::call`] keeps the final states; a `Sequential` model refuses such a layer, as in Keras.
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
    /// Without the bias vector (`4·u·(d+u)` parameters instead of `4·u·(d+u+1)`).
    pub fn use_bias(mut self, yes: bool) -> Self {
        self.use_bias = yes;
        self
    }
    /// Seed for the weights when the layer builds itself in [`Lstm::call`] (a model uses its own RNG).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The number of units (the size of `h` and `c`).
    pub fn units(&self) -> usize {
        self.units
    }

    /// An unbuilt layer with these settings.
    pub fn from_config(c: &super::LstmConfig) -> Self {
        Lstm::new(c.units)
            .activation(c.activation)
            .use_bias(c.use_bias)
            .return_sequences(c.return_sequences)
            .go_backwards(c.go_backwards)
            .stateful(c.stateful)
            .dropout(c.dropout)
    }

    /// The settings, by their Keras names (`lstm.settings().go_backwards`); `Lstm::from_config`
    /// rebuilds the layer from them.
    pub fn settings(&self) -> super::LstmConfig {
        super::LstmConfig {
            units: self.units,
            activation: self.activation,
            use_bias: self.use_bias,
            return_sequences: self.return_sequences,
            go_backwards: self.go_backwards,
            stateful: self.stateful,
            dropout: self.dropout,
        }
    }

    /// Kernel `[in, 4u]`, recurrent kernel `[u, 4u]` and bias `[4u]` (zeros without bias).
    pub fn kernels(&self) -> Result<(&Array2<f32>, &Array2<f32>, &Array1<f32>)> {
        let w = self.weights.as_ref().ok_or_else(|| not_built("LSTM"))?;
        Ok((&w.kernel, &w.recurrent_kernel, &w.bias))
    }

    fn validate(&self) -> Result<()> {
        if self.units == 0 {
            return Err(LstmError::config("LSTM units", "at least 1", 0));
        }
        if !matches!(self.activation, Activation::Tanh | Activation::Relu) {
            return Err(LstmError::config(
                "LSTM activation",
                "tanh or relu",
                self.activation.name(),
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(LstmError::config(
                "LSTM dropout",
                "a rate in [0, 1)",
                self.dropout,
            ));
        }
        Ok(())
    }

    /// Runs the layer on `x: [batch, timesteps, features]` outside a model, building it on first
    /// use (weights from [`Lstm::seed`]), with zero initial states (or the carried ones if stateful).
    pub fn call(&mut self, x: &Array3<f32>) -> Result<LstmOutput> {
        self.call_with_initial_state(x, None)
    }

    /// Like [`Lstm::call`], starting from the given `(h0, c0)`, each `[batch, units]`.
    pub fn call_with_initial_state(
        &mut self,
        x: &Array3<f32>,
        initial_state: Option<&LstmState>,
    ) -> Result<LstmOutput> {
        let (_, timesteps, features) = x.dim();
        if self.weights.is_none() {
            self.build(&[timesteps, features], &mut init::seeded_rng(self.seed))?;
        }
        let mut rng = init::seeded_rng(self.seed);
        let output = self.run(x.view().into_dyn(), initial_state, false, &mut rng)?;
        let LstmState { h, c } = self
            .cache
            .as_ref()
            .expect("run fills the cache")
            .final_state();
        Ok(LstmOutput { output, h, c })
    }

    /// The per-step gates and states of the last forward pass, in processing order.
    pub fn last_steps(&self) -> Option<Vec<CellStep>> {
        let cache = self.cache.as_ref()?;
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

    fn check_input(&self, x: &ndarray::ArrayViewD<f32>) -> Result<(usize, usize, usize)> {
        let w = self.weights.as_ref().ok_or_else(|| not_built("LSTM"))?;
        let features = w.kernel.nrows();
        if x.ndim() != 3 || x.shape()[2] != features || x.shape()[1] == 0 {
            return Err(LstmError::shape(
                "LSTM input",
                format!("(batch, timesteps >= 1, {features})"),
                fmt_shape(x.shape()),
            ));
        }
        if x.shape()[0] == 0 {
            return Err(LstmError::Empty {
                context: format!("LSTM input of shape {}: the batch", fmt_shape(x.shape())),
                min: 1,
            });
        }
        ensure_finite("LSTM input", x)?;
        Ok((x.shape()[0], x.shape()[1], features))
    }

    fn initial_state(&self, batch: usize, given: Option<&LstmState>) -> Result<LstmState> {
        let expected = (batch, self.units);
        if let Some(state) = given {
            for (name, s) in [("h0", &state.h), ("c0", &state.c)] {
                if s.dim() != expected {
                    return Err(LstmError::shape(
                        format!("LSTM initial state {name}"),
                        fmt_shape(&[batch, self.units]),
                        fmt_shape(s.shape()),
                    ));
                }
                ensure_finite(&format!("LSTM initial state {name}"), s)?;
            }
            return Ok(state.clone());
        }
        match &self.state {
            Some(state) if self.stateful => {
                if state.h.dim() != expected {
                    return Err(LstmError::shape(
                        "stateful LSTM: every batch must have the size of the first one (or call reset_states)",
                        format!("batch of {}", state.h.nrows()),
                        format!("batch of {batch}"),
                    ));
                }
                Ok(state.clone())
            }
            _ => Ok(LstmState {
                h: Array2::zeros(expected),
                c: Array2::zeros(expected),
            }),
        }
    }

    fn run(
        &mut self,
        x: ndarray::ArrayViewD<f32>,
        initial_state: Option<&LstmState>,
        training: bool,
        rng: &mut Rng,
    ) -> Result<ArrayD<f32>> {
        let (batch, timesteps, features) = self.check_input(&x)?;
        let LstmState { h: h0, c: c0 } = self.initial_state(batch, initial_state)?;
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
        let mut cache = Cache::new(self.cache.take(), timesteps, batch, features, units);
        // Time-major inputs in processing order, so each step's rows are contiguous.
        for t in 0..timesteps {
            let source = if self.go_backwards {
                timesteps - 1 - t
            } else {
                t
            };
            let rows = cache.block(t);
            let mut slot = cache.x_time_major.slice_mut(s![rows, ..]);
            slot.assign(&x.index_axis(Axis(1), source));
            if let Some(mask) = &dropout_mask {
                slot *= mask;
            }
        }
        cache.dropout_mask = dropout_mask;
        cache.h.slice_mut(s![..batch, ..]).assign(&h0);
        cache.c.slice_mut(s![..batch, ..]).assign(&c0);

        let w = self.weights.as_ref().expect("checked in check_input");
        // The input projection of every step in one product: gates = b + x·W.
        cache.gates.assign(&w.bias);
        general_mat_mul(1.0, &cache.x_time_major, &w.kernel, 1.0, &mut cache.gates);
        let (gates, h, c, act_c) = cache.per_step_views();
        recur_forward(&w.recurrent_kernel, gates, h, c, act_c, self.activation);

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
            cache.final_state().h.into_dyn()
        };
        if self.stateful {
            self.state = Some(cache.final_state());
        }
        self.cache = Some(cache);
        Ok(output)
    }

    /// Backpropagation through time: parameter gradients, and d(loss)/d(input) if `want_dx`.
    fn backward_through_time(
        &mut self,
        grad_output: &ArrayD<f32>,
        want_dx: bool,
    ) -> Result<Option<ArrayD<f32>>> {
        let cache = self.cache.as_ref().ok_or(LstmError::NotReady {
            what: "LSTM backward",
            needed: "preceded by a forward pass",
            call: "forward(x, true, rng)",
        })?;
        let w = self.weights.as_mut().ok_or_else(|| not_built("LSTM"))?;
        let (timesteps, batch, units) = (cache.timesteps, cache.batch, self.units);
        let expected = if self.return_sequences {
            vec![batch, timesteps, units]
        } else {
            vec![batch, units]
        };
        if grad_output.shape() != expected.as_slice() {
            return Err(LstmError::shape(
                "LSTM backward: gradient of the output",
                fmt_shape(&expected),
                fmt_shape(grad_output.shape()),
            ));
        }

        let Scratch { dz, dh, dc } = self.scratch.take().unwrap_or_default();
        let mut dz_all = reuse(dz, (timesteps * batch, 4 * units));
        let mut dh = reuse(dh, (batch, units));
        let mut dc = reuse(dc, (batch, units));
        {
            let gates = by_step(&cache.gates, batch);
            let c = by_step(&cache.c, batch);
            let act_c = by_step(&cache.act_c, batch);
            let dz = by_step_mut(&mut dz_all, batch);
            recur_backward(
                &w.recurrent_kernel,
                gates,
                c,
                act_c,
                grad_output.view(),
                dz,
                dh.view_mut(),
                dc.view_mut(),
                self.activation,
            );
        }

        // Parameter gradients for all steps at once; blocks 0..T of h are the h_{t-1}.
        let h_prev_all = cache.h.slice(s![..timesteps * batch, ..]);
        general_mat_mul(1.0, &cache.x_time_major.t(), &dz_all, 0.0, &mut w.d_kernel);
        general_mat_mul(
            1.0,
            &h_prev_all.t(),
            &dz_all,
            0.0,
            &mut w.d_recurrent_kernel,
        );
        if self.use_bias {
            w.d_bias.assign(&dz_all.sum_axis(Axis(0)));
        }

        // Input gradient, back in (batch, time, feature) order.
        let dx = want_dx.then(|| {
            let features = w.kernel.nrows();
            let dx_time_major = dz_all.dot(&w.kernel.t());
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
        self.scratch = Some(Scratch { dz: dz_all, dh, dc });
        Ok(dx)
    }
}

impl Layer for Lstm {
    fn class_name(&self) -> &'static str {
        "LSTM"
    }
    fn base_name(&self) -> &'static str {
        "lstm"
    }

    fn config(&self) -> super::LayerConfig {
        super::LayerConfig::Lstm(self.settings())
    }

    fn build(&mut self, input_shape: &[usize], rng: &mut Rng) -> Result<Vec<usize>> {
        self.validate()?;
        let [timesteps, features] = *input_shape else {
            return Err(LstmError::shape(
                "LSTM input",
                "(batch, timesteps, features): a 3-D input",
                batch_shape(input_shape),
            ));
        };
        if features == 0 || timesteps == 0 {
            return Err(LstmError::shape(
                "LSTM input",
                "at least one timestep and one feature",
                format!("(None, {timesteps}, {features})"),
            ));
        }
        let u = self.units;
        let kernel = init::glorot_uniform(features, 4 * u, rng);
        let recurrent_kernel = init::orthogonal(u, 4 * u, rng);
        let bias = if self.use_bias {
            init::unit_forget_bias(u)
        } else {
            Array1::zeros(4 * u)
        };
        self.weights = Some(LstmWeights {
            d_kernel: Array2::zeros(kernel.dim()),
            d_recurrent_kernel: Array2::zeros(recurrent_kernel.dim()),
            d_bias: Array1::zeros(bias.dim()),
            kernel,
            recurrent_kernel,
            bias,
        });
        self.state = None;
        self.cache = None;
        Ok(if self.return_sequences {
            vec![timesteps, u]
        } else {
            vec![u]
        })
    }

    fn forward(&mut self, x: &ArrayD<f32>, training: bool, rng: &mut Rng) -> Result<ArrayD<f32>> {
        self.run(x.view(), None, training, rng)
    }

    fn backward(&mut self, grad_output: &ArrayD<f32>) -> Result<ArrayD<f32>> {
        self.backward_through_time(grad_output, true)
            .map(|dx| dx.expect("asked for the input gradient"))
    }

    fn backward_params_only(&mut self, grad_output: &ArrayD<f32>) -> Result<()> {
        self.backward_through_time(grad_output, false).map(|_| ())
    }

    fn params(&mut self) -> Vec<Param<'_>> {
        let use_bias = self.use_bias;
        let Some(w) = self.weights.as_mut() else {
            return vec![];
        };
        let mut params = vec![
            Param {
                value: w.kernel.as_slice_mut().expect("standard layout"),
                grad: w.d_kernel.as_slice_mut().expect("standard layout"),
            },
            Param {
                value: w.recurrent_kernel.as_slice_mut().expect("standard layout"),
                grad: w
                    .d_recurrent_kernel
                    .as_slice_mut()
                    .expect("standard layout"),
            },
        ];
        if use_bias {
            params.push(Param {
                value: w.bias.as_slice_mut().expect("standard layout"),
                grad: w.d_bias.as_slice_mut().expect("standard layout"),
            });
        }
        params
    }

    fn weights(&self) -> Vec<Weight> {
        let Some(w) = self.weights.as_ref() else {
            return vec![];
        };
        let mut out = vec![
            Weight {
                name: "kernel".into(),
                value: w.kernel.clone().into_dyn(),
            },
            Weight {
                name: "recurrent_kernel".into(),
                value: w.recurrent_kernel.clone().into_dyn(),
            },
        ];
        if self.use_bias {
            out.push(Weight {
                name: "bias".into(),
                value: w.bias.clone().into_dyn(),
            });
        }
        out
    }

    fn set_weights(&mut self, weights: &[ArrayD<f32>]) -> Result<()> {
        check_weight_shapes("LSTM", &self.weights(), weights)?;
        if self.weights.is_none() {
            return Err(not_built("LSTM"));
        }
        let w = self.weights.as_mut().expect("checked");
        let as2 = |a: &ArrayD<f32>| -> Array2<f32> {
            a.clone().into_dimensionality().expect("shape checked")
        };
        w.kernel = as2(&weights[0]);
        w.recurrent_kernel = as2(&weights[1]);
        if self.use_bias {
            w.bias = weights[2]
                .clone()
                .into_dimensionality()
                .expect("shape checked");
        }
        Ok(())
    }

    fn reset_states(&mut self) {
        self.state = None;
    }

    fn is_stateful(&self) -> bool {
        self.stateful
    }

    fn returns_state(&self) -> bool {
        self.return_state
    }

    fn as_lstm(&self) -> Option<&Lstm> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::cell::step;
    use ndarray::Array;

    /// The layer against the textbook loop: `cell::step` and `cell::step_backward` one step at a
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
            let (w, u, b) = lstm.kernels().unwrap();
            let (w, u, b) = (w.clone(), u.clone(), b.clone());

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
                let (dz, dc_prev) =
                    cell::step_backward(s, c_prev.view(), dh.view(), dc.view(), Activation::Tanh)
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
