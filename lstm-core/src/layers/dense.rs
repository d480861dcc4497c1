//! `Dense`: `y = act(x·W + b)` on the last axis (so it also works per time step on `[B, T, F]`).

use ndarray::{Array1, Array2, ArrayD, Axis, Ix2, IxDyn};

use super::{Layer, Param, Weight, check_weight_shapes, not_built};
use crate::check::{batch_shape, fmt_shape};
use crate::error::{LstmError, Result};
use crate::math::activation::Activation;
use crate::math::init::{self, Rng};

/// `keras.layers.Dense`: glorot-uniform kernel `[in, out]`, zero bias `[out]`, activation linear
/// by default (relu, sigmoid, tanh, softmax allowed).
#[derive(Debug, Clone)]
pub struct Dense {
    units: usize,
    activation: Activation,
    use_bias: bool,
    kernel: Option<Array2<f32>>,
    bias: Array1<f32>,
    d_kernel: Array2<f32>,
    d_bias: Array1<f32>,
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
            kernel: None,
            bias: Array1::zeros(0),
            d_kernel: Array2::zeros((0, 0)),
            d_bias: Array1::zeros(0),
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
    pub fn settings(&self) -> super::DenseConfig {
        super::DenseConfig {
            units: self.units,
            activation: self.activation,
            use_bias: self.use_bias,
        }
    }

    /// An unbuilt layer with these settings.
    pub fn from_config(c: &super::DenseConfig) -> Self {
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
        let kernel = self.kernel.as_ref().ok_or_else(|| not_built("Dense"))?;
        let dz = Self::flatten(grad_logits);
        self.d_kernel = cache.x.t().dot(&dz);
        if self.use_bias {
            self.d_bias = dz.sum_axis(Axis(0));
        }
        let dx = dz.dot(&kernel.t());
        Ok(dx
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order(IxDyn(&cache.input_shape))
            .expect("same size as the input"))
    }
}

impl Layer for Dense {
    fn class_name(&self) -> &'static str {
        "Dense"
    }
    fn base_name(&self) -> &'static str {
        "dense"
    }

    fn config(&self) -> super::LayerConfig {
        super::LayerConfig::Dense(self.settings())
    }

    fn build(&mut self, input_shape: &[usize], rng: &mut Rng) -> Result<Vec<usize>> {
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
        let kernel = init::glorot_uniform(features, self.units, rng);
        self.d_kernel = Array2::zeros(kernel.dim());
        self.kernel = Some(kernel);
        self.bias = Array1::zeros(self.units);
        self.d_bias = Array1::zeros(self.units);
        let mut out = input_shape.to_vec();
        *out.last_mut().expect("non-empty") = self.units;
        Ok(out)
    }

    fn forward(&mut self, x: &ArrayD<f32>, _training: bool, _rng: &mut Rng) -> Result<ArrayD<f32>> {
        let kernel = self.kernel.as_ref().ok_or_else(|| not_built("Dense"))?;
        if x.ndim() < 2 || x.shape().last() != Some(&kernel.nrows()) {
            return Err(LstmError::shape(
                "Dense input",
                format!("(batch, ..., {})", kernel.nrows()),
                fmt_shape(x.shape()),
            ));
        }
        let flat = Self::flatten(x);
        let z = flat.dot(kernel) + &self.bias;
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
        let Some(kernel) = self.kernel.as_mut() else {
            return vec![];
        };
        let mut params = vec![Param {
            value: kernel.as_slice_mut().expect("standard layout"),
            grad: self.d_kernel.as_slice_mut().expect("standard layout"),
        }];
        if self.use_bias {
            params.push(Param {
                value: self.bias.as_slice_mut().expect("standard layout"),
                grad: self.d_bias.as_slice_mut().expect("standard layout"),
            });
        }
        params
    }

    fn weights(&self) -> Vec<Weight> {
        let Some(kernel) = self.kernel.as_ref() else {
            return vec![];
        };
        let mut out = vec![Weight {
            name: "kernel".into(),
            value: kernel.clone().into_dyn(),
        }];
        if self.use_bias {
            out.push(Weight {
                name: "bias".into(),
                value: self.bias.clone().into_dyn(),
            });
        }
        out
    }

    fn set_weights(&mut self, weights: &[ArrayD<f32>]) -> Result<()> {
        check_weight_shapes("Dense", &self.weights(), weights)?;
        if self.kernel.is_none() {
            return Err(not_built("Dense"));
        }
        self.kernel = Some(
            weights[0]
                .clone()
                .into_dimensionality::<Ix2>()
                .expect("checked"),
        );
        if self.use_bias {
            self.bias = weights[1].clone().into_dimensionality().expect("checked");
        }
        Ok(())
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
