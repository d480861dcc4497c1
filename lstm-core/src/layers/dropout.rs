//! `Dropout`: during training, zero each value with probability `rate` and scale the rest by
//! `1 / (1 - rate)`; at inference, pass everything through.

use ndarray::ArrayD;
use ndarray_rand::rand::Rng as _;

use super::config::LayerConfig;
use super::layer::{Layer, Param, Weight, sealed};
use super::params::check_weight_shapes;
use crate::error::{LstmError, Result};
use crate::math::init::{Fill, Rng};

/// `Dropout(rate)`, as Keras: random zeroing in training, identity at inference.
#[derive(Debug, Clone)]
pub struct Dropout {
    rate: f32,
    mask: Option<ArrayD<f32>>,
}

impl Dropout {
    /// `Dropout(rate)`: during training, zeroes each value with probability `rate` and scales the rest by `1/(1−rate)`; the identity at inference.
    pub fn new(rate: f32) -> Self {
        Dropout { rate, mask: None }
    }

    /// The fraction of values dropped during training.
    pub fn rate(&self) -> f32 {
        self.rate
    }
}

impl sealed::Sealed for Dropout {}

impl Layer for Dropout {
    fn class_name(&self) -> &'static str {
        "Dropout"
    }
    fn base_name(&self) -> &'static str {
        "dropout"
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::Dropout { rate: self.rate }
    }

    fn build_with(&mut self, input_shape: &[usize], _fill: Fill<'_>) -> Result<Vec<usize>> {
        if !(0.0..1.0).contains(&self.rate) {
            return Err(LstmError::config(
                "Dropout rate",
                "a rate in [0, 1)",
                self.rate,
            ));
        }
        Ok(input_shape.to_vec())
    }

    fn forward(&mut self, x: &ArrayD<f32>, training: bool, rng: &mut Rng) -> Result<ArrayD<f32>> {
        if !training || self.rate == 0.0 {
            self.mask = None;
            return Ok(x.clone());
        }
        let keep = 1.0 - self.rate;
        let mask = x.mapv(|_| {
            if rng.random::<f32>() < keep {
                1.0 / keep
            } else {
                0.0
            }
        });
        let out = x * &mask;
        self.mask = Some(mask);
        Ok(out)
    }

    fn backward(&mut self, grad_output: &ArrayD<f32>) -> Result<ArrayD<f32>> {
        Ok(match &self.mask {
            Some(mask) => grad_output * mask,
            None => grad_output.clone(),
        })
    }

    fn params(&mut self) -> Vec<Param<'_>> {
        vec![]
    }

    fn weights(&self) -> Vec<Weight> {
        vec![]
    }

    fn set_weights(&mut self, weights: &[ArrayD<f32>]) -> Result<()> {
        check_weight_shapes("Dropout", &[], weights, &|_, _| None)
    }
}
