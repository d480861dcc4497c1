//! What the notebooks use around the LSTM: datasets and windows, text, weather with dates
//! (feature `polars`), hyperparameter search, charts, and a look inside the gates.

pub mod baselines;
pub mod data;
pub mod inspect;
pub mod learning;
pub mod memory;
pub mod plot;
pub mod reference;
pub mod text;
pub mod tuner;
#[cfg(feature = "polars")]
pub mod weather;
