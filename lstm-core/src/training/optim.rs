//! Optimizers with Keras' update rules and defaults, and gradient clipping.

use crate::engine::helper;
use crate::error::{LstmError, Result};
use crate::layers::Param;

/// Gradient clipping, as Keras' `clipnorm`, `clipvalue` and `global_clipnorm` (at most one).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Clipping {
    /// Each gradient tensor is rescaled so its L2 norm is at most this.
    pub clipnorm: Option<f32>,
    /// Each gradient value is clipped to `[-clipvalue, clipvalue]`.
    pub clipvalue: Option<f32>,
    /// All gradients are rescaled together so their joint L2 norm is at most this.
    pub global_clipnorm: Option<f32>,
}

impl Clipping {
    fn validate(&self) -> Result<()> {
        let set: Vec<(&'static str, f32)> = [
            ("clipnorm", self.clipnorm),
            ("clipvalue", self.clipvalue),
            ("global_clipnorm", self.global_clipnorm),
        ]
        .into_iter()
        .filter_map(|(n, v)| v.map(|v| (n, v)))
        .collect();
        if set.len() > 1 {
            return Err(LstmError::config(
                "gradient clipping",
                "at most one of clipnorm, clipvalue, global_clipnorm",
                set.iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(" and "),
            ));
        }
        if let Some(&(name, value)) = set.first()
            && !(value > 0.0 && value.is_finite())
        {
            return Err(LstmError::config(name, "a positive finite number", value));
        }
        Ok(())
    }

    /// Clips the gradients in place.
    pub fn apply(&self, params: &mut [Param<'_>]) {
        let norm = |g: &[f32]| {
            g.iter()
                .map(|&v| (v as f64) * (v as f64))
                .sum::<f64>()
                .sqrt()
        };
        if let Some(max) = self.clipnorm {
            for p in params.iter_mut() {
                let n = norm(p.grad) as f32;
                if n > max {
                    p.grad.iter_mut().for_each(|g| *g *= max / n);
                }
            }
        }
        if let Some(max) = self.clipvalue {
            for p in params.iter_mut() {
                p.grad.iter_mut().for_each(|g| *g = g.clamp(-max, max));
            }
        }
        if let Some(max) = self.global_clipnorm {
            let total = params
                .iter()
                .map(|p| norm(p.grad).powi(2))
                .sum::<f64>()
                .sqrt() as f32;
            if total > max {
                for p in params.iter_mut() {
                    p.grad.iter_mut().for_each(|g| *g *= max / total);
                }
            }
        }
    }
}

/// Everything needed to resume an optimizer: hyperparameters, step count and moment buffers.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OptimizerState {
    /// The Keras class name (`Adam`, `SGD`, `RMSprop`).
    pub name: String,
    /// Hyperparameters by Keras name.
    pub hyper: std::collections::BTreeMap<String, f64>,
    /// Gradient clipping.
    pub clipping: Clipping,
    /// Updates applied so far.
    pub iterations: u64,
    /// Per kind of buffer (e.g. Adam's m and v), one vector per parameter tensor.
    pub slots: Vec<Vec<Vec<f32>>>,
}

impl OptimizerState {
    fn hyper(&self, key: &str) -> Result<f64> {
        self.hyper
            .get(key)
            .copied()
            .ok_or_else(|| LstmError::Parse {
                context: format!("{} optimizer state", self.name),
                message: format!("missing hyperparameter '{key}'"),
            })
    }
}

/// Rebuilds an optimizer from its saved state.
pub fn optimizer_from_state(state: &OptimizerState) -> Result<Box<dyn Optimizer>> {
    let lr = state.hyper("learning_rate")? as f32;
    let expect_slots = |n: usize| -> Result<()> {
        if state.slots.len() == n {
            Ok(())
        } else {
            Err(LstmError::count(
                format!("{} optimizer state", state.name),
                "buffer kinds",
                n,
                state.slots.len().to_string(),
            ))
        }
    };
    let optimizer: Box<dyn Optimizer> = match state.name.as_str() {
        "Adam" => {
            expect_slots(2)?;
            let mut o = Adam::new(lr)
                .betas(state.hyper("beta_1")?, state.hyper("beta_2")?)
                .epsilon(state.hyper("epsilon")? as f32);
            o.clipping = state.clipping;
            o.iterations = state.iterations;
            o.m = state.slots[0].clone();
            o.v = state.slots[1].clone();
            Box::new(o)
        }
        "SGD" => {
            expect_slots(1)?;
            let mut o = Sgd::new(lr)
                .momentum(state.hyper("momentum")? as f32)
                .nesterov(state.hyper("nesterov")? != 0.0);
            o.clipping = state.clipping;
            o.iterations = state.iterations;
            o.velocity = state.slots[0].clone();
            Box::new(o)
        }
        "RMSprop" => {
            expect_slots(2)?;
            let mut o = RmsProp::new(lr)
                .rho(state.hyper("rho")? as f32)
                .momentum(state.hyper("momentum")? as f32);
            o.epsilon = state.hyper("epsilon")? as f32;
            o.clipping = state.clipping;
            o.iterations = state.iterations;
            o.velocity = state.slots[0].clone();
            o.moment = state.slots[1].clone();
            Box::new(o)
        }
        other => {
            return Err(LstmError::config(
                "optimizer name",
                "Adam, SGD or RMSprop",
                other,
            ));
        }
    };
    optimizer.validate()?;
    Ok(optimizer)
}

fn hyper(pairs: &[(&str, f64)]) -> std::collections::BTreeMap<String, f64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// What a model needs from an optimizer.
pub trait Optimizer: std::fmt::Debug + Send {
    /// The Keras class name.
    fn name(&self) -> &'static str;
    /// The learning rate.
    fn learning_rate(&self) -> f32;
    /// Changes the learning rate (e.g. for a schedule).
    fn set_learning_rate(&mut self, learning_rate: f32);
    /// The gradient clipping in use.
    fn clipping(&self) -> Clipping;
    /// Checks the hyperparameters (called by `compile`).
    fn validate(&self) -> Result<()>;
    /// Number of updates applied so far.
    fn iterations(&self) -> u64;
    /// Updates every parameter from its gradient: one optimizer step.
    fn step(&mut self, params: &mut [Param<'_>]);
    /// The state to save.
    fn state(&self) -> OptimizerState;
}

fn check_positive(name: &'static str, value: f32) -> Result<()> {
    if value > 0.0 && value.is_finite() {
        Ok(())
    } else {
        Err(LstmError::config(name, "a positive finite number", value))
    }
}

fn check_learning_rate(lr: f32) -> Result<()> {
    check_positive("learning_rate", lr)
}

fn check_unit_interval(name: &'static str, value: f64) -> Result<()> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(LstmError::config(name, "a value in [0, 1)", value))
    }
}

/// Per-parameter state vectors, created on the first step (and anew for parameters of other
/// sizes, e.g. a hand-made state from another model).
/// Tensors with at least this many values update in two halves, one per core.
const SPLIT_UPDATE_FROM: usize = 1 << 15;

fn slots(state: &mut Vec<Vec<f32>>, params: &[Param<'_>]) {
    let fits = state.len() == params.len()
        && state
            .iter()
            .zip(params)
            .all(|(s, p)| s.len() == p.value.len());
    if !fits {
        *state = params.iter().map(|p| vec![0.0; p.value.len()]).collect();
    }
}

/// The `Optimizer` methods every optimizer answers from its fields of the same names
/// (`learning_rate`, `clipping`, `iterations`).
macro_rules! field_accessors {
    () => {
        fn learning_rate(&self) -> f32 {
            self.learning_rate
        }
        fn set_learning_rate(&mut self, learning_rate: f32) {
            self.learning_rate = learning_rate;
        }
        fn clipping(&self) -> Clipping {
            self.clipping
        }
        fn iterations(&self) -> u64 {
            self.iterations
        }
    };
}

macro_rules! clipping_builders {
    ($t:ty) => {
        impl $t {
            /// Clip each gradient tensor to this L2 norm.
            pub fn clipnorm(mut self, max_norm: f32) -> Self {
                self.clipping.clipnorm = Some(max_norm);
                self
            }
            /// Clip each gradient value to `[-max, max]`.
            pub fn clipvalue(mut self, max: f32) -> Self {
                self.clipping.clipvalue = Some(max);
                self
            }
            /// Clip all gradients together to this joint L2 norm.
            pub fn global_clipnorm(mut self, max_norm: f32) -> Self {
                self.clipping.global_clipnorm = Some(max_norm);
                self
            }
        }
    };
}

/// Adam as Keras computes it: `lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε)`, with ε outside the bias
/// correction. Defaults: `learning_rate` 0.001, `beta_1` 0.9, `beta_2` 0.999, `epsilon` 1e-7.
#[derive(Debug, Clone)]
pub struct Adam {
    /// Step size (default 0.001).
    pub learning_rate: f32,
    /// Kept in f64: Keras forms `1 − β` in double precision before casting.
    pub beta_1: f64,
    /// Decay of the second-moment estimate.
    pub beta_2: f64,
    /// Added to √v for stability (default 1e-7).
    pub epsilon: f32,
    clipping: Clipping,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    iterations: u64,
}

impl Default for Adam {
    fn default() -> Self {
        Adam::new(0.001)
    }
}

impl Adam {
    /// `Adam(learning_rate)` with Keras' other defaults.
    pub fn new(learning_rate: f32) -> Self {
        Adam {
            learning_rate,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            clipping: Clipping::default(),
            m: vec![],
            v: vec![],
            iterations: 0,
        }
    }
    /// The moment decays β₁ and β₂.
    pub fn betas(mut self, beta_1: f64, beta_2: f64) -> Self {
        self.beta_1 = beta_1;
        self.beta_2 = beta_2;
        self
    }
    /// The ε added to √v.
    pub fn epsilon(mut self, epsilon: f32) -> Self {
        self.epsilon = epsilon;
        self
    }
}
clipping_builders!(Adam);

impl Optimizer for Adam {
    fn name(&self) -> &'static str {
        "Adam"
    }
    field_accessors!();
    fn validate(&self) -> Result<()> {
        check_learning_rate(self.learning_rate)?;
        check_unit_interval("beta_1", self.beta_1)?;
        check_unit_interval("beta_2", self.beta_2)?;
        check_positive("epsilon", self.epsilon)?;
        self.clipping.validate()
    }

    fn state(&self) -> OptimizerState {
        OptimizerState {
            name: self.name().into(),
            hyper: hyper(&[
                ("learning_rate", self.learning_rate as f64),
                ("beta_1", self.beta_1),
                ("beta_2", self.beta_2),
                ("epsilon", self.epsilon as f64),
            ]),
            clipping: self.clipping,
            iterations: self.iterations,
            slots: vec![self.m.clone(), self.v.clone()],
        }
    }

    fn step(&mut self, params: &mut [Param<'_>]) {
        self.clipping.apply(params);
        slots(&mut self.m, params);
        slots(&mut self.v, params);
        self.iterations += 1;
        // Keras raises the float32-rounded betas to the step number, in float32.
        let t = self.iterations as f32;
        let beta_1_power = (self.beta_1 as f32).powf(t);
        let beta_2_power = (self.beta_2 as f32).powf(t);
        let alpha = self.learning_rate * (1.0 - beta_2_power).sqrt() / (1.0 - beta_1_power);
        let (one_minus_beta_1, one_minus_beta_2) =
            ((1.0 - self.beta_1) as f32, (1.0 - self.beta_2) as f32);
        let epsilon = self.epsilon;
        let update = |value: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32]| {
            for (((w, &g), m), v) in value.iter_mut().zip(grad).zip(m).zip(v) {
                *m += (g - *m) * one_minus_beta_1;
                *v += (g * g - *v) * one_minus_beta_2;
                *w -= (*m * alpha) / (v.sqrt() + epsilon);
            }
        };
        for (p, (m, v)) in params.iter_mut().zip(self.m.iter_mut().zip(&mut self.v)) {
            if p.value.len() < SPLIT_UPDATE_FROM {
                update(p.value, p.grad, m, v);
                continue;
            }
            // Each value is updated on its own: halves on the two cores give the same bits.
            let half = p.value.len() / 2;
            let (value, value_rest) = p.value.split_at_mut(half);
            let (grad, grad_rest) = p.grad.split_at(half);
            let (m, m_rest) = m.split_at_mut(half);
            let (v, v_rest) = v.split_at_mut(half);
            helper::join(
                || update(value, grad, m, v),
                || update(value_rest, grad_rest, m_rest, v_rest),
            );
        }
    }
}

/// Stochastic gradient descent, optionally with (Nesterov) momentum.
/// Defaults as Keras: `learning_rate` 0.01, `momentum` 0.
#[derive(Debug, Clone)]
pub struct Sgd {
    /// Step size (default 0.01).
    pub learning_rate: f32,
    /// Momentum (default 0).
    pub momentum: f32,
    /// Nesterov momentum.
    pub nesterov: bool,
    clipping: Clipping,
    velocity: Vec<Vec<f32>>,
    iterations: u64,
}

impl Default for Sgd {
    fn default() -> Self {
        Sgd::new(0.01)
    }
}

impl Sgd {
    /// `SGD(learning_rate)` without momentum.
    pub fn new(learning_rate: f32) -> Self {
        Sgd {
            learning_rate,
            momentum: 0.0,
            nesterov: false,
            clipping: Clipping::default(),
            velocity: vec![],
            iterations: 0,
        }
    }
    /// Momentum in [0, 1).
    pub fn momentum(mut self, momentum: f32) -> Self {
        self.momentum = momentum;
        self
    }
    /// Use Nesterov momentum.
    pub fn nesterov(mut self, yes: bool) -> Self {
        self.nesterov = yes;
        self
    }
}
clipping_builders!(Sgd);

impl Optimizer for Sgd {
    fn name(&self) -> &'static str {
        "SGD"
    }
    field_accessors!();
    fn validate(&self) -> Result<()> {
        check_learning_rate(self.learning_rate)?;
        check_unit_interval("momentum", self.momentum as f64)?;
        self.clipping.validate()
    }

    fn state(&self) -> OptimizerState {
        OptimizerState {
            name: self.name().into(),
            hyper: hyper(&[
                ("learning_rate", self.learning_rate as f64),
                ("momentum", self.momentum as f64),
                ("nesterov", self.nesterov as u8 as f64),
            ]),
            clipping: self.clipping,
            iterations: self.iterations,
            slots: vec![self.velocity.clone()],
        }
    }

    fn step(&mut self, params: &mut [Param<'_>]) {
        self.clipping.apply(params);
        self.iterations += 1;
        let (lr, mu) = (self.learning_rate, self.momentum);
        if mu == 0.0 {
            for p in params.iter_mut() {
                p.value
                    .iter_mut()
                    .zip(p.grad.iter())
                    .for_each(|(w, g)| *w -= g * lr);
            }
            return;
        }
        slots(&mut self.velocity, params);
        for (k, p) in params.iter_mut().enumerate() {
            for (j, (w, &g)) in p.value.iter_mut().zip(p.grad.iter()).enumerate() {
                let m = &mut self.velocity[k][j];
                *m = *m * mu - g * lr;
                *w += if self.nesterov { *m * mu - g * lr } else { *m };
            }
        }
    }
}

/// RMSprop as Keras: `v = ρ·v + (1−ρ)·g²`, `w −= lr·g/√(v+ε)`.
/// Defaults: `learning_rate` 0.001, `rho` 0.9, `momentum` 0, `epsilon` 1e-7.
#[derive(Debug, Clone)]
pub struct RmsProp {
    /// Step size (default 0.001).
    pub learning_rate: f32,
    /// Decay of the running average of g².
    pub rho: f32,
    /// Momentum (default 0).
    pub momentum: f32,
    /// Added to v for stability (default 1e-7).
    pub epsilon: f32,
    clipping: Clipping,
    velocity: Vec<Vec<f32>>,
    moment: Vec<Vec<f32>>,
    iterations: u64,
}

impl Default for RmsProp {
    fn default() -> Self {
        RmsProp::new(0.001)
    }
}

impl RmsProp {
    /// `RMSprop(learning_rate)` with Keras' other defaults.
    pub fn new(learning_rate: f32) -> Self {
        RmsProp {
            learning_rate,
            rho: 0.9,
            momentum: 0.0,
            epsilon: 1e-7,
            clipping: Clipping::default(),
            velocity: vec![],
            moment: vec![],
            iterations: 0,
        }
    }
    /// Decay of the running average of g², in [0, 1).
    pub fn rho(mut self, rho: f32) -> Self {
        self.rho = rho;
        self
    }
    /// Momentum in [0, 1).
    pub fn momentum(mut self, momentum: f32) -> Self {
        self.momentum = momentum;
        self
    }
}
clipping_builders!(RmsProp);

impl Optimizer for RmsProp {
    fn name(&self) -> &'static str {
        "RMSprop"
    }
    field_accessors!();
    fn validate(&self) -> Result<()> {
        check_learning_rate(self.learning_rate)?;
        check_unit_interval("rho", self.rho as f64)?;
        check_unit_interval("momentum", self.momentum as f64)?;
        check_positive("epsilon", self.epsilon)?;
        self.clipping.validate()
    }

    fn state(&self) -> OptimizerState {
        OptimizerState {
            name: self.name().into(),
            hyper: hyper(&[
                ("learning_rate", self.learning_rate as f64),
                ("rho", self.rho as f64),
                ("momentum", self.momentum as f64),
                ("epsilon", self.epsilon as f64),
            ]),
            clipping: self.clipping,
            iterations: self.iterations,
            slots: vec![self.velocity.clone(), self.moment.clone()],
        }
    }

    fn step(&mut self, params: &mut [Param<'_>]) {
        self.clipping.apply(params);
        slots(&mut self.velocity, params);
        slots(&mut self.moment, params);
        self.iterations += 1;
        let (lr, rho, mu, eps) = (self.learning_rate, self.rho, self.momentum, self.epsilon);
        for (k, p) in params.iter_mut().enumerate() {
            for j in 0..p.value.len() {
                let g = p.grad[j];
                let v = &mut self.velocity[k][j];
                *v = rho * *v + (1.0 - rho) * g * g;
                let increment = lr * g / (*v + eps).sqrt();
                if mu > 0.0 {
                    let m = &mut self.moment[k][j];
                    *m = mu * *m + increment;
                    p.value[j] -= *m;
                } else {
                    p.value[j] -= increment;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step_once(opt: &mut dyn Optimizer, w: &mut [f32], g: &mut [f32]) {
        opt.step(&mut [Param { value: w, grad: g }]);
    }

    #[test]
    fn sgd_and_momentum_hand_values() {
        let (mut w, mut g) = (vec![1.0f32], vec![0.5f32]);
        step_once(&mut Sgd::new(0.1), &mut w, &mut g);
        assert_eq!(w, vec![0.95]);
        let mut opt = Sgd::new(0.1).momentum(0.9);
        let mut w = vec![1.0f32];
        step_once(&mut opt, &mut w, &mut [0.5]);
        step_once(&mut opt, &mut w, &mut [0.5]);
        // v1 = −0.05, v2 = −0.045 − 0.05 = −0.095
        assert!((w[0] - (1.0 - 0.05 - 0.095)).abs() < 1e-6);
    }

    #[test]
    fn adam_first_step_moves_by_learning_rate() {
        // After one step m = 0.1g, v = 0.001g², alpha = lr·√0.001/0.1: the step is ≈ lr·sign(g).
        let mut w = vec![0.0f32, 0.0];
        step_once(&mut Adam::new(0.01), &mut w, &mut [3.0, -0.2]);
        assert!(
            (w[0] + 0.01).abs() < 1e-5 && (w[1] - 0.01).abs() < 1e-5,
            "{w:?}"
        );
    }

    #[test]
    fn rmsprop_first_step() {
        let mut w = vec![0.0f32];
        step_once(&mut RmsProp::new(0.01), &mut w, &mut [2.0]);
        let expected = -0.01 * 2.0 / (0.1f32 * 4.0 + 1e-7).sqrt();
        assert!((w[0] - expected).abs() < 1e-6);
    }

    #[test]
    fn clipping_rules() {
        let mut g1 = vec![3.0f32, 4.0];
        let mut w1 = vec![0.0f32; 2];
        let mut params = [Param {
            value: &mut w1,
            grad: &mut g1,
        }];
        Clipping {
            clipnorm: Some(1.0),
            ..Default::default()
        }
        .apply(&mut params);
        assert!((params[0].grad[0] - 0.6).abs() < 1e-6 && (params[0].grad[1] - 0.8).abs() < 1e-6);
        Clipping {
            clipvalue: Some(0.7),
            ..Default::default()
        }
        .apply(&mut params);
        assert_eq!(params[0].grad, &[0.6, 0.7]);
        let both = Adam::new(0.1)
            .clipnorm(1.0)
            .clipvalue(1.0)
            .validate()
            .unwrap_err();
        assert!(
            both.to_string().contains("clipnorm and clipvalue"),
            "{both}"
        );
        assert!(Adam::new(0.0).validate().is_err());
        assert!(Sgd::new(-1.0).validate().is_err());
        assert!(Adam::new(0.1).clipnorm(-1.0).validate().is_err());
    }
}
