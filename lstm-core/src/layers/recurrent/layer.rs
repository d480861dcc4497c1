//! `Recurrent<C>`: Keras' settings and methods of a recurrent layer, for any [`Cell`]. The
//! passes themselves are in `passes.rs`.

use std::marker::PhantomData;

use ndarray::{Array2, Array3, ArrayD};

use super::buffers::State;
use super::cell::{Cell, WeightSpec, is_standard_weight, standard_weights};
use super::passes::Passes;
use crate::check::batch_shape;
use crate::engine::denormals;
use crate::error::{LstmError, Result};
use crate::layers::config::{LayerConfig, RecurrentConfig};
use crate::layers::layer::{Layer, Param, Weight, not_built, sealed};
use crate::layers::params::ParamSet;
use crate::math::activation::Activation;
use crate::math::init::{self, Fill, Initializer, Rng};

/// A recurrent layer: [`Lstm`](crate::Lstm), [`Gru`](crate::Gru),
/// [`SimpleRnn`](crate::SimpleRnn), or one of your own [`Cell`]. Settings, defaults and
/// methods are Keras' and common to all; each type's page lists its cell's equations and
/// weight layout.
#[derive(Debug, Clone)]
pub struct Recurrent<C: Cell> {
    pub(crate) config: RecurrentConfig,
    return_state: bool,
    seed: u64,
    pub(crate) state: State,
    cell: PhantomData<C>,
}

impl<C: Cell> Recurrent<C> {
    /// A layer with `units` hidden units and Keras' defaults.
    pub fn new(units: usize) -> Self {
        Recurrent {
            config: RecurrentConfig {
                units,
                activation: Activation::Tanh,
                use_bias: true,
                return_sequences: false,
                go_backwards: false,
                stateful: false,
                dropout: 0.0,
            },
            return_state: false,
            seed: 0,
            state: State::default(),
            cell: PhantomData,
        }
    }

    /// The cell's nonlinearity (tanh by default; relu allowed): the LSTM's candidate and
    /// `act(c)`, the GRU's candidate, the SimpleRNN's `h = act(a)`.
    pub fn activation(mut self, activation: Activation) -> Self {
        self.config.activation = activation;
        self
    }
    /// Output every step (`[B, T, u]`) instead of the last (`[B, u]`).
    pub fn return_sequences(mut self, yes: bool) -> Self {
        self.config.return_sequences = yes;
        self
    }
    /// `call` keeps the final states; a `Sequential` model refuses such a layer, as in Keras.
    pub fn return_state(mut self, yes: bool) -> Self {
        self.return_state = yes;
        self
    }
    /// Read the sequence from the last step to the first; the output stays in processing order.
    pub fn go_backwards(mut self, yes: bool) -> Self {
        self.config.go_backwards = yes;
        self
    }
    /// Carry the final states of one batch into the next, until [`Layer::reset_states`].
    pub fn stateful(mut self, yes: bool) -> Self {
        self.config.stateful = yes;
        self
    }
    /// Fraction of input units dropped during training, in `[0, 1)`.
    pub fn dropout(mut self, rate: f32) -> Self {
        self.config.dropout = rate;
        self
    }
    /// Without the bias.
    pub fn use_bias(mut self, yes: bool) -> Self {
        self.config.use_bias = yes;
        self
    }
    /// Seed for the weights when the layer builds itself in `call` (a model uses its own RNG).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The number of units (the size of `h`).
    pub fn units(&self) -> usize {
        self.config.units
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
        self.config.clone()
    }

    fn validate(&self) -> Result<()> {
        let class = C::CLASS;
        let c = &self.config;
        if c.units == 0 {
            return Err(LstmError::config(format!("{class} units"), "at least 1", 0));
        }
        if !matches!(c.activation, Activation::Tanh | Activation::Relu) {
            return Err(LstmError::config(
                format!("{class} activation"),
                "tanh or relu",
                c.activation.name(),
            ));
        }
        if !(0.0..1.0).contains(&c.dropout) {
            return Err(LstmError::config(
                format!("{class} dropout"),
                "a rate in [0, 1)",
                c.dropout,
            ));
        }
        Ok(())
    }

    /// Checks the input shape and creates the weights the cell declares: [`Layer::build`].
    fn build_weights(&mut self, input_shape: &[usize], mut fill: Fill<'_>) -> Result<Vec<usize>> {
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
        let u = self.config.units;
        let specs = C::weights(features, u, self.config.use_bias);
        check_declaration::<C>(&specs, features, u, self.config.use_bias)?;
        let mut params = ParamSet::default();
        for spec in specs {
            params.push(spec.name, fill.values(spec.initializer, &spec.shape));
        }
        self.state = State {
            params: Some(params),
            ..State::default()
        };
        Ok(if self.config.return_sequences {
            vec![timesteps, u]
        } else {
            vec![u]
        })
    }

    /// Runs the layer outside a model, building it on first use (weights from `seed`), from
    /// the given initial states (in the cell's order), the carried ones if stateful, or zeros.
    /// Returns the output and the final states.
    pub fn call_with_states(
        &mut self,
        x: &Array3<f32>,
        initial: Option<&[Array2<f32>]>,
    ) -> Result<(ArrayD<f32>, Vec<Array2<f32>>)> {
        let (_, timesteps, features) = x.dim();
        if self.state.params.is_none() {
            self.build_weights(
                &[timesteps, features],
                Fill::Drawn(&mut init::seeded_rng(self.seed)),
            )?;
        }
        let mut rng = init::seeded_rng(self.seed);
        let passes = Passes::for_cell::<C>();
        let output = denormals::flushed(|| {
            (passes.forward)(
                &self.config,
                &mut self.state,
                x.view().into_dyn(),
                initial,
                false,
                &mut rng,
            )
        })?;
        let states = self
            .state
            .cache
            .as_ref()
            .expect("a pass fills the cache")
            .final_states();
        Ok((output, states))
    }
}

/// A cell's declared weights must start with Keras' three, in their shapes: the passes read them
/// by name. A wrong declaration is the cell author's mistake, named here.
fn check_declaration<C: Cell>(
    specs: &[WeightSpec],
    features: usize,
    units: usize,
    use_bias: bool,
) -> Result<()> {
    // Keras' three as the cell's product needs them (the initialisers are the cell's choice).
    let expected: Vec<(&str, Vec<usize>)> = standard_weights(
        C::GATES,
        C::RECURRENT_PRODUCT,
        features,
        units,
        use_bias,
        Initializer::Zeros,
    )
    .into_iter()
    .map(|w| (w.name, w.shape))
    .collect();
    for (k, (name, shape)) in expected.iter().enumerate() {
        match specs.get(k) {
            Some(spec) if spec.name == *name && &spec.shape == shape => {}
            other => {
                return Err(LstmError::config(
                    format!("{}: weight {k} of the cell's declaration", C::CLASS),
                    format!("{name} of shape {shape:?}"),
                    other.map_or("nothing".to_string(), |s| {
                        format!("{} of shape {:?}", s.name, s.shape)
                    }),
                ));
            }
        }
    }
    // Keras' three only in their places (the passes find them by name), every name once.
    for (k, spec) in specs.iter().enumerate() {
        if (is_standard_weight(spec.name) && k >= expected.len())
            || specs[..k].iter().any(|s| s.name == spec.name)
        {
            return Err(LstmError::config(
                format!("{}: weight {k} of the cell's declaration", C::CLASS),
                format!(
                    "a name of its own, used once, after {}",
                    expected
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                spec.name,
            ));
        }
    }
    if C::STATES.first() != Some(&"h") {
        return Err(LstmError::config(
            format!("{}: the cell's states", C::CLASS),
            "h first",
            format!("{:?}", C::STATES),
        ));
    }
    Ok(())
}

impl<C: Cell> sealed::Sealed for Recurrent<C> {}

/// The layer for any cell. Its heavy work runs through [`Passes`]: for the built-in cells,
/// compiled (optimised) in this crate, so a notebook's unoptimised cells only hold these calls.
impl<C: Cell> Layer for Recurrent<C> {
    fn class_name(&self) -> &'static str {
        C::CLASS
    }
    fn base_name(&self) -> &'static str {
        C::BASE
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::Recurrent {
            class: C::CLASS.to_string(),
            settings: self.settings(),
        }
    }

    fn build_with(&mut self, input_shape: &[usize], fill: Fill<'_>) -> Result<Vec<usize>> {
        self.build_weights(input_shape, fill)
    }

    fn forward(&mut self, x: &ArrayD<f32>, training: bool, rng: &mut Rng) -> Result<ArrayD<f32>> {
        let passes = Passes::for_cell::<C>();
        denormals::flushed(|| {
            (passes.forward)(&self.config, &mut self.state, x.view(), None, training, rng)
        })
    }

    fn backward(&mut self, grad_output: &ArrayD<f32>) -> Result<ArrayD<f32>> {
        let passes = Passes::for_cell::<C>();
        denormals::flushed(|| (passes.backward)(&self.config, &mut self.state, grad_output, true))
            .map(|dx| dx.expect("asked for the input gradient"))
    }

    fn backward_params_only(&mut self, grad_output: &ArrayD<f32>) -> Result<()> {
        let passes = Passes::for_cell::<C>();
        denormals::flushed(|| (passes.backward)(&self.config, &mut self.state, grad_output, false))
            .map(|_| ())
    }

    fn params(&mut self) -> Vec<Param<'_>> {
        self.state
            .params
            .as_mut()
            .map(ParamSet::params)
            .unwrap_or_default()
    }

    fn weights(&self) -> Vec<Weight> {
        self.state
            .params
            .as_ref()
            .map(ParamSet::weights)
            .unwrap_or_default()
    }

    fn set_weights(&mut self, weights: &[ArrayD<f32>]) -> Result<()> {
        let params = self
            .state
            .params
            .as_mut()
            .ok_or_else(|| not_built(C::CLASS))?;
        params.set(C::CLASS, weights, &C::weight_shape_hint)
    }

    fn param_count(&self) -> usize {
        self.state.params.as_ref().map_or(0, ParamSet::count)
    }

    fn reset_states(&mut self) {
        self.state.carried = None;
    }

    fn is_stateful(&self) -> bool {
        self.config.stateful
    }

    fn returns_state(&self) -> bool {
        self.return_state
    }

    fn weight_shape_hint(&self, weight: &str, got: &[usize]) -> Option<String> {
        C::weight_shape_hint(weight, got)
    }

    fn weight_paths(&self, layer_name: &str) -> Vec<String> {
        // Keras keeps a recurrent layer's weights in its cell: `gru/gru_cell/kernel`.
        self.weights()
            .iter()
            .map(|w| format!("{layer_name}/{}_cell/{}", C::BASE, w.name))
            .collect()
    }
}

/// What `call` returns for a cell whose only state is `h` ([`Gru`](crate::Gru),
/// [`SimpleRnn`](crate::SimpleRnn)): the output (`[B, T, u]` with `return_sequences`, else
/// `[B, u]`) and the final `h` (`[B, u]`).
#[derive(Debug, Clone, PartialEq)]
pub struct RnnOutput {
    /// The output: `[batch, units]`, or `[batch, timesteps, units]` with `return_sequences`.
    pub output: ArrayD<f32>,
    /// The last hidden state `h_T`, `[batch, units]`.
    pub h: Array2<f32>,
}

/// Cells whose only state is `h`: their layers' `call` returns [`RnnOutput`].
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
        let (output, mut states) = self.call_with_states(x, initial.as_deref())?;
        Ok(RnnOutput {
            output,
            h: states.swap_remove(0),
        })
    }
}
