//! `TimeDistributed(Dense)`: the same Dense layer applied at every time step of `[B, T, F]`.

use ndarray::ArrayD;

use super::config::LayerConfig;
use super::dense::Dense;
use super::layer::{Layer, Param, Weight, sealed};
use crate::check::batch_shape;
use crate::error::{LstmError, Result};
use crate::math::init::{Fill, Rng};

/// `TimeDistributed(Dense(...))`: the same `Dense` on every time step.
#[derive(Debug, Clone)]
pub struct TimeDistributed {
    inner: Dense,
}

impl TimeDistributed {
    /// Applies `inner` to every time step of a `[batch, timesteps, features]` input, with one set of weights.
    pub fn new(inner: Dense) -> Self {
        TimeDistributed { inner }
    }

    /// The wrapped `Dense` layer.
    pub fn inner(&self) -> &Dense {
        &self.inner
    }
}

impl sealed::Sealed for TimeDistributed {}

impl Layer for TimeDistributed {
    fn class_name(&self) -> &'static str {
        "TimeDistributed"
    }
    fn base_name(&self) -> &'static str {
        "time_distributed"
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::TimeDistributed(self.inner.settings())
    }

    fn build_with(&mut self, input_shape: &[usize], fill: Fill<'_>) -> Result<Vec<usize>> {
        if input_shape.len() != 2 {
            return Err(LstmError::shape(
                "TimeDistributed input",
                "(batch, timesteps, features): a sequence, e.g. from LSTM(return_sequences=true)",
                batch_shape(input_shape),
            ));
        }
        self.inner.build_with(input_shape, fill)
    }

    fn forward(&mut self, x: &ArrayD<f32>, training: bool, rng: &mut Rng) -> Result<ArrayD<f32>> {
        self.inner.forward(x, training, rng)
    }

    fn backward(&mut self, grad_output: &ArrayD<f32>) -> Result<ArrayD<f32>> {
        self.inner.backward(grad_output)
    }

    fn params(&mut self) -> Vec<Param<'_>> {
        self.inner.params()
    }

    fn weights(&self) -> Vec<Weight> {
        self.inner.weights()
    }

    fn set_weights(&mut self, weights: &[ArrayD<f32>]) -> Result<()> {
        self.inner.set_weights(weights)
    }

    fn softmax_logits(&self) -> Option<&ArrayD<f32>> {
        self.inner.softmax_logits()
    }

    fn backward_from_logits(&mut self, grad_logits: &ArrayD<f32>) -> Result<ArrayD<f32>> {
        self.inner.backward_from_logits(grad_logits)
    }
}
