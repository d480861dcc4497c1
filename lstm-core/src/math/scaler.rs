//! Scalers that put values where an LSTM's tanh and sigmoid are not saturated, and back:
//! min–max to a range and standardisation, as scikit-learn computes them.

use ndarray::{Array, ArrayBase, Data, Dimension};

use crate::check::{ensure_finite, ensure_nonempty};
use crate::error::{LstmError, Result};

/// Scales every value into `feature_range` (default `[0, 1]`), like scikit-learn's `MinMaxScaler`
/// fitted on flattened data (`X.reshape(-1, 1)`): one minimum and one maximum for all values.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MinMaxScaler {
    /// The range values are scaled into (default `(0, 1)`).
    pub feature_range: (f32, f32),
    fitted: Option<(f32, f32)>,
}

impl Default for MinMaxScaler {
    fn default() -> Self {
        MinMaxScaler {
            feature_range: (0.0, 1.0),
            fitted: None,
        }
    }
}

impl MinMaxScaler {
    /// A scaler to `[0, 1]` (fit it before use).
    pub fn new() -> Self {
        Self::default()
    }

    /// A scaler onto `[low, high]`; `low < high` is checked here, once.
    pub fn with_range(low: f32, high: f32) -> Result<Self> {
        if !(low.is_finite() && high.is_finite() && low < high) {
            return Err(LstmError::config(
                "feature_range",
                "finite (low, high) with low < high",
                format!("({low}, {high})"),
            ));
        }
        Ok(MinMaxScaler {
            feature_range: (low, high),
            fitted: None,
        })
    }

    /// Learns the minimum and maximum of all values.
    pub fn fit<S: Data<Elem = f32>, D: Dimension>(&mut self, x: &ArrayBase<S, D>) -> Result<()> {
        check_fit_input("MinMaxScaler::fit", x)?;
        let min = x.iter().copied().fold(f32::INFINITY, f32::min);
        let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if min == max {
            return Err(LstmError::ZeroRange {
                scaler: "MinMaxScaler",
                value: min,
            });
        }
        self.fitted = Some((min, max));
        Ok(())
    }

    /// `(data_min, data_max)` once fitted.
    pub fn data_range(&self) -> Option<(f32, f32)> {
        self.fitted
    }

    /// Scales `x` with the fitted minimum and maximum.
    pub fn transform<S: Data<Elem = f32>, D: Dimension>(
        &self,
        x: &ArrayBase<S, D>,
    ) -> Result<Array<f32, D>> {
        let (min, max) = self.require_fitted()?;
        ensure_finite("MinMaxScaler::transform", x)?;
        let (low, high) = self.feature_range;
        let scale = (high - low) / (max - min);
        Ok(x.mapv(|v| (v - min) * scale + low))
    }

    /// Fits on `x`, then scales it.
    pub fn fit_transform<S: Data<Elem = f32>, D: Dimension>(
        &mut self,
        x: &ArrayBase<S, D>,
    ) -> Result<Array<f32, D>> {
        self.fit(x)?;
        self.transform(x)
    }

    /// Maps scaled values back to the original units.
    pub fn inverse_transform<S: Data<Elem = f32>, D: Dimension>(
        &self,
        x: &ArrayBase<S, D>,
    ) -> Result<Array<f32, D>> {
        let (min, max) = self.require_fitted()?;
        ensure_finite("MinMaxScaler::inverse_transform", x)?;
        let (low, high) = self.feature_range;
        let scale = (max - min) / (high - low);
        Ok(x.mapv(|v| (v - low) * scale + min))
    }

    fn require_fitted(&self) -> Result<(f32, f32)> {
        self.fitted.ok_or(LstmError::NotReady {
            what: "MinMaxScaler",
            needed: "fitted",
            call: "fit(&data) or fit_transform(&data)",
        })
    }
}

/// Either scaler, for attaching to a model (and saving with it).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Scaler {
    /// A [`MinMaxScaler`].
    MinMax(MinMaxScaler),
    /// A [`StandardScaler`].
    Standard(StandardScaler),
}

impl From<MinMaxScaler> for Scaler {
    fn from(s: MinMaxScaler) -> Self {
        Scaler::MinMax(s)
    }
}

impl From<StandardScaler> for Scaler {
    fn from(s: StandardScaler) -> Self {
        Scaler::Standard(s)
    }
}

/// Standardises all values to mean 0 and standard deviation 1 (population std, as scikit-learn).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StandardScaler {
    fitted: Option<(f32, f32)>,
}

impl StandardScaler {
    /// A scaler to mean 0 and standard deviation 1 (fit it before use).
    pub fn new() -> Self {
        Self::default()
    }

    /// Learns the mean and standard deviation of all values (population std, as scikit-learn).
    pub fn fit<S: Data<Elem = f32>, D: Dimension>(&mut self, x: &ArrayBase<S, D>) -> Result<()> {
        check_fit_input("StandardScaler::fit", x)?;
        let n = x.len() as f64;
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        if var == 0.0 {
            return Err(LstmError::ZeroRange {
                scaler: "StandardScaler",
                value: mean as f32,
            });
        }
        self.fitted = Some((mean as f32, var.sqrt() as f32));
        Ok(())
    }

    /// `(mean, std)` once fitted.
    pub fn mean_std(&self) -> Option<(f32, f32)> {
        self.fitted
    }

    /// Standardises `x` with the fitted mean and standard deviation.
    pub fn transform<S: Data<Elem = f32>, D: Dimension>(
        &self,
        x: &ArrayBase<S, D>,
    ) -> Result<Array<f32, D>> {
        let (mean, std) = self.require_fitted()?;
        ensure_finite("StandardScaler::transform", x)?;
        Ok(x.mapv(|v| (v - mean) / std))
    }

    /// Fits on `x`, then standardises it.
    pub fn fit_transform<S: Data<Elem = f32>, D: Dimension>(
        &mut self,
        x: &ArrayBase<S, D>,
    ) -> Result<Array<f32, D>> {
        self.fit(x)?;
        self.transform(x)
    }

    /// Maps standardised values back to the original units.
    pub fn inverse_transform<S: Data<Elem = f32>, D: Dimension>(
        &self,
        x: &ArrayBase<S, D>,
    ) -> Result<Array<f32, D>> {
        let (mean, std) = self.require_fitted()?;
        ensure_finite("StandardScaler::inverse_transform", x)?;
        Ok(x.mapv(|v| v * std + mean))
    }

    fn require_fitted(&self) -> Result<(f32, f32)> {
        self.fitted.ok_or(LstmError::NotReady {
            what: "StandardScaler",
            needed: "fitted",
            call: "fit(&data) or fit_transform(&data)",
        })
    }
}

fn check_fit_input<S: Data<Elem = f32>, D: Dimension>(
    context: &str,
    x: &ArrayBase<S, D>,
) -> Result<()> {
    ensure_nonempty(context, x)?;
    ensure_finite(context, x)
}
