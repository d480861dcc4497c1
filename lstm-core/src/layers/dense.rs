//! `Dense`: `y = act(x·W + b)` on the last axis (so it also works per time step on `[B, T, F]`).

use ndarray::{Array1, Array2, ArrayD, Axis, IxDyn};

use super::config::{DenseConfig, LayerConfig};
use super::layer::{Layer, Param, Weight, not_built, sealed};
use super::params::{ParamSet, grad_matrix, grad_vector, vector};
use crate::check::{batch_shape, fmt_shape};
use crate::error::{LstmError, Result};
use crate::math::activation::Activation;
use crate::math::init::{Fill, Initializer, Rng};

/// `keras.layers.Dense`: glorot-uniform kernel `[in, out]`, zero bias `[out]`, activation linear
/// by default (relu, sigmoid, tanh, softmax allowed).
#[derive(Debug, Clone)]
pub struct Dense {
    units: usize,
    activation: Activation,
    use_bias: bool,
    /// `kernel [in, out]` and `bias [out]`, once built.
    params: Option<ParamSet>,
    cache: Option<DenseCache>,
}

#[derive(Debug, Clone)]
struct DenseCache {
    input_shape: Vec<usize>,
    /// Inputs flattened to `[rows, in]`.
    x: Array2<f32>,
    /// Pre-activation values, in the output's shape (kept for softmax + cross-entropy).
    logits: ArrayD<f32>,
    /// Activated outputs, in the output's shape.
    y: ArrayD<f32>,
}

impl Dense {
    /// `Dense(units)`: linear activation, with a bias, as Keras.
    pub fn new(units: usize) -> Self {
        Dense {
            units,
            activation: Activation::Linear,
            use_bias: true,
            params: None,
            cache: None,
        }
    }

    /// The activation applied to `x·W + b` (default linear).
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Whether to add a bias (default true).
    pub fn use_bias(mut self, yes: bool) -> Self {
        self.use_bias = yes;
        self
    }

    /// The number of outputs.
    pub fn units(&self) -> usize {
        self.units
    }

    /// The settings, by their Keras names (`dense.settings().activation`).
    pub fn settings(&self) -> DenseConfig {
        DenseConfig {
            units: self.units,
            activation: self.activation,
            use_bias: self.use_bias,
        }
    }

    /// An unbuilt layer with these settings.
    pub fn from_config(c: &DenseConfig) -> Self {
        Dense::new(c.units)
            .activation(c.activation)
            .use_bias(c.use_bias)
    }

    fn flatten(x: &ArrayD<f32>) -> Array2<f32> {
        let cols = *x.shape().last().expect("rank >= 2 checked");
        let rows = x.len() / cols.max(1);
        x.as_standard_layout()
            .into_owned()
            .into_shape_with_order((rows, cols))
            .expect("contiguous")
    }

    /// d(loss)/d(logits) to parameter gradients and d(loss)/d(input).
    fn backward_logits(&mut self, grad_logits: &ArrayD<f32>) -> Result<ArrayD<f32>> {
        let cache = self.cache.as_ref().ok_or(LstmError::NotReady {
            what: "Dense backward",
            needed: "preceded by a forward pass",
            call: "forward(x, true, rng)",
        })?;
        let params = self.params.as_mut().ok_or_else(|| not_built("Dense"))?;
        let dz = Self::flatten(grad_logits);
        let (values, mut grads) = params.split();
        grad_matrix(grads[0]).assign(&cache.x.t().dot(&dz));
        if let Some(d_bias) = grads.get_mut(1) {
            grad_vector(d_bias).assign(&dz.sum_axis(Axis(0)));
        }
        let kernel = values[0]
            .view()
            .into_dimensionality::<ndarray::Ix2>()
            .expect("2-D");
        let dx = dz.dot(&kernel.t());
        Ok(dx
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order(IxDyn(&cache.input_shape))
            .expect("same size as the input"))
    }
}

impl sealed::Sealed for Dense {}

impl Layer for Dense {
    fn class_name(&self) -> &'static str {
        "Dense"
    }
    fn base_name(&self) -> &'static str {
        "dense"
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::Dense(self.settings())
    }

    fn build_with(&mut self, input_shape: &[usize], mut fill: Fill<'_>) -> Result<Vec<usize>> {
        if self.units == 0 {
            return Err(LstmError::config("Dense units", "at least 1", 0));
        }
        let Some(&features) = input_shape.last().filter(|&&f| f > 0) else {
            return Err(LstmError::shape(
                "Dense input",
                "(batch, ..., features) with features >= 1",
                batch_shape(input_shape),
            ));
        };
        let mut params = ParamSet::default();
        params.push(
            "kernel",
            fill.values(Initializer::GlorotUniform, &[features, self.units]),
        );
        if self.use_bias {
            params.push("bias", Array1::<f32>::zeros(self.units).into_dyn());
        }
        self.params = Some(params);
        let mut out = input_shape.to_vec();
        *out.last_mut().expect("non-empty") = self.units;
        Ok(out)
    }

    fn forward(&mut self, x: &ArrayD<f32>, _training: bool, _rng: &mut Rng) -> Result<ArrayD<f32>> {
        let params = self.params.as_ref().ok_or_else(|| not_built("Dense"))?;
        let kernel = params.matrix("kernel");
        if x.ndim() < 2 || x.shape().last() != Some(&kernel.nrows()) {
            return Err(LstmError::shape(
                "Dense input",
                format!("(batch, ..., {})", kernel.nrows()),
                fmt_shape(x.shape()),
            ));
        }
        let flat = Self::flatten(x);
        let mut z = flat.dot(&kernel);
        if let Some(bias) = params.get("bias") {
            z += &vector(bias);
        }
        let y = match self.activation {
            Activation::Softmax => softmax_rows(&z),
            act => {
                let mut y = z.as_standard_layout().into_owned();
                act.apply_in_place(y.as_slice_mut().expect("standard layout"));
                y
            }
        };
        let mut out_shape = x.shape().to_vec();
        *out_shape.last_mut().expect("rank >= 2") = self.units;
        let as_output = |a: Array2<f32>| {
            a.as_standard_layout()
                .into_owned()
                .into_shape_with_order(IxDyn(&out_shape))
                .expect("same size")
        };
        let (logits, y) = (as_output(z), as_output(y));
        self.cache = Some(DenseCache {
            input_shape: x.shape().to_vec(),
            x: flat,
            logits,
            y: y.clone(),
        });
        Ok(y)
    }

    fn backward(&mut self, grad_output: &ArrayD<f32>) -> Result<ArrayD<f32>> {
        let cache = self.cache.as_ref().ok_or(LstmError::NotReady {
            what: "Dense backward",
            needed: "preceded by a forward pass",
            call: "forward(x, true, rng)",
        })?;
        if grad_output.shape() != cache.y.shape() {
            return Err(LstmError::shape(
                "Dense backward: gradient of the output",
                fmt_shape(cache.y.shape()),
                fmt_shape(grad_output.shape()),
            ));
        }
        let grad_logits = match self.activation {
            Activation::Softmax => {
                // dz = y ⊙ (dy − Σ dy·y) per row.
                let y = Self::flatten(&cache.y);
                let dy = Self::flatten(grad_output);
                let dot = (&dy * &y).sum_axis(Axis(1)).insert_axis(Axis(1));
                (&y * &(&dy - &dot))
                    .into_shape_with_order(IxDyn(cache.y.shape()))
                    .expect("same size")
            }
            act => {
                let mut g = grad_output.clone();
                g.zip_mut_with(&cache.y, |g, &y| *g *= act.derivative_from_output(y));
                g
            }
        };
        self.backward_logits(&grad_logits)
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
        let params = self.params.as_mut().ok_or_else(|| not_built("Dense"))?;
        params.set("Dense", weights, &|_, _| None)
    }

    fn softmax_logits(&self) -> Option<&ArrayD<f32>> {
        match (self.activation, &self.cache) {
            (Activation::Softmax, Some(cache)) => Some(&cache.logits),
            _ => None,
        }
    }

    fn backward_from_logits(&mut self, grad_logits: &ArrayD<f32>) -> Result<ArrayD<f32>> {
        self.backward_logits(grad_logits)
    }
}

/// Row-wise softmax, shifted by the row maximum so it never overflows.
pub fn softmax_rows(z: &Array2<f32>) -> Array2<f32> {
    let mut out = z.clone();
    for mut row in out.rows_mut() {
        let max = row.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        row.mapv_inplace(|v| (v - max).exp());
        let sum = row.sum();
        row /= sum;
    }
    out
}
