//! A layer's settings, enough to rebuild it: what a saved model stores for each layer (its
//! weights are stored apart).

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::math::activation::Activation;

/// A layer's settings, enough to rebuild it (weights are stored separately). Saved as Keras
/// does, tagged by the class name: `{"class": "LSTM", "units": 32, ...}`.
#[derive(Debug, Clone, PartialEq)]
pub enum LayerConfig {
    /// A recurrent layer: its cell's class name (`LSTM`, `GRU`, `SimpleRNN`, or a registered
    /// cell's) and settings.
    Recurrent {
        /// The cell's [`CLASS`](crate::layers::Cell::CLASS).
        class: String,
        /// The layer's settings.
        settings: RecurrentConfig,
    },
    /// A [`Dense`](crate::Dense) layer.
    Dense(DenseConfig),
    /// A [`Dropout`](crate::Dropout) layer.
    Dropout {
        /// Fraction dropped in training.
        rate: f32,
    },
    /// A [`Bidirectional`](crate::Bidirectional) recurrent layer.
    Bidirectional {
        /// The wrapped layer's settings (the backward copy mirrors them).
        layer: RecurrentConfig,
        /// The wrapped layer's cell class (absent in files saved before GRU: `LSTM`).
        cell: String,
        /// How the directions are combined.
        merge_mode: MergeMode,
    },
    /// A [`TimeDistributed`](crate::TimeDistributed) `Dense`.
    TimeDistributed(DenseConfig),
}

/// The layers other than recurrent ones, with serde's tag.
#[derive(Serialize, Deserialize)]
#[serde(tag = "class")]
enum Fixed {
    Dense(DenseConfig),
    Dropout {
        rate: f32,
    },
    Bidirectional {
        layer: RecurrentConfig,
        #[serde(default = "lstm_class")]
        cell: String,
        merge_mode: MergeMode,
    },
    TimeDistributed(DenseConfig),
}

const FIXED_CLASSES: [&str; 4] = ["Dense", "Dropout", "Bidirectional", "TimeDistributed"];

fn lstm_class() -> String {
    "LSTM".to_string()
}

/// A recurrent layer: its class, then its settings.
#[derive(Serialize, Deserialize)]
struct RecurrentEntry {
    class: String,
    #[serde(flatten)]
    settings: RecurrentConfig,
}

impl Serialize for LayerConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.clone() {
            LayerConfig::Recurrent { class, settings } => {
                RecurrentEntry { class, settings }.serialize(serializer)
            }
            LayerConfig::Dense(c) => Fixed::Dense(c).serialize(serializer),
            LayerConfig::Dropout { rate } => Fixed::Dropout { rate }.serialize(serializer),
            LayerConfig::Bidirectional {
                layer,
                cell,
                merge_mode,
            } => Fixed::Bidirectional {
                layer,
                cell,
                merge_mode,
            }
            .serialize(serializer),
            LayerConfig::TimeDistributed(c) => Fixed::TimeDistributed(c).serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for LayerConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let class = value
            .get("class")
            .and_then(|c| c.as_str())
            .ok_or_else(|| D::Error::custom("a layer without a \"class\" name"))?;
        if FIXED_CLASSES.contains(&class) {
            let fixed = Fixed::deserialize(value).map_err(D::Error::custom)?;
            return Ok(match fixed {
                Fixed::Dense(c) => LayerConfig::Dense(c),
                Fixed::Dropout { rate } => LayerConfig::Dropout { rate },
                Fixed::Bidirectional {
                    layer,
                    cell,
                    merge_mode,
                } => LayerConfig::Bidirectional {
                    layer,
                    cell,
                    merge_mode,
                },
                Fixed::TimeDistributed(c) => LayerConfig::TimeDistributed(c),
            });
        }
        let RecurrentEntry { class, settings } =
            RecurrentEntry::deserialize(value).map_err(D::Error::custom)?;
        Ok(LayerConfig::Recurrent { class, settings })
    }
}

/// The settings of a [`Dense`](crate::Dense) layer, by their Keras names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenseConfig {
    /// Number of outputs.
    pub units: usize,
    /// Activation applied to `x·W + b`.
    pub activation: Activation,
    /// Whether a bias is added.
    pub use_bias: bool,
}

/// The settings of a recurrent layer, by their Keras names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecurrentConfig {
    /// Units (size of `h`, and of an LSTM's `c`).
    pub units: usize,
    /// The cell's nonlinearity (tanh or relu).
    pub activation: Activation,
    /// Whether the gates have a bias.
    pub use_bias: bool,
    /// Output every step, not just the last.
    pub return_sequences: bool,
    /// Read the sequence last step first.
    pub go_backwards: bool,
    /// Carry the last states into the next batch.
    pub stateful: bool,
    /// Fraction of the inputs dropped in training.
    pub dropout: f32,
}

/// How the forward and backward outputs of a [`Bidirectional`](crate::Bidirectional) layer are
/// combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MergeMode {
    /// Side by side: `2·units` features (Keras' default).
    #[default]
    Concat,
    /// Forward + backward.
    Sum,
    /// Forward ⊙ backward.
    Mul,
    /// The mean of the two.
    Ave,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Saved configs read as they were written, in the file format of earlier versions.
    #[test]
    fn configs_round_trip_in_the_saved_format() {
        let lstm = r#"{"class":"LSTM","units":4,"activation":"tanh","use_bias":true,"return_sequences":false,"go_backwards":false,"stateful":false,"dropout":0.0}"#;
        let config: LayerConfig = serde_json::from_str(lstm).unwrap();
        assert!(
            matches!(&config, LayerConfig::Recurrent { class, settings } if class == "LSTM" && settings.units == 4)
        );
        assert_eq!(serde_json::to_string(&config).unwrap(), lstm);
        let old_bidirectional = r#"{"class":"Bidirectional","layer":{"units":2,"activation":"tanh","use_bias":true,"return_sequences":false,"go_backwards":false,"stateful":false,"dropout":0.0},"merge_mode":"sum"}"#;
        let config: LayerConfig = serde_json::from_str(old_bidirectional).unwrap();
        assert!(
            matches!(&config, LayerConfig::Bidirectional { cell, merge_mode: MergeMode::Sum, .. } if cell == "LSTM")
        );
        let err = serde_json::from_str::<LayerConfig>(r#"{"units":3}"#).unwrap_err();
        assert!(err.to_string().contains("class"), "{err}");
    }
}
