//! The recurrent cells a saved model can name, and the layers a config builds. A cell kind is
//! one value of [`CellKind`]: the built-in cells are one line each in [`BUILT_IN`]; a cell from
//! another crate registers itself with [`register_cell`].

use std::sync::RwLock;

use super::bidirectional::Bidirectional;
use super::config::{LayerConfig, MergeMode, RecurrentConfig};
use super::dense::Dense;
use super::dropout::Dropout;
use super::gru::GruCell;
use super::layer::Layer;
use super::lstm::LstmCell;
use super::recurrent::{Cell, Recurrent};
use super::simple_rnn::SimpleRnnCell;
use super::time_distributed::TimeDistributed;
use crate::error::{LstmError, Result};

/// What a saved model needs to rebuild a layer of one cell kind.
#[derive(Clone, Copy)]
pub struct CellKind {
    /// The cell's class name, as saved.
    pub class: &'static str,
    /// The cell's type, so the same cell registered twice is not a clash.
    type_id: fn() -> std::any::TypeId,
    /// An unbuilt `Recurrent<C>`.
    layer: fn(&RecurrentConfig) -> Box<dyn Layer>,
    /// An unbuilt `Bidirectional<C>`.
    bidirectional: fn(&RecurrentConfig, MergeMode) -> Box<dyn Layer>,
    /// The shapes of the weights the cell declares for `(features, units, use_bias)`.
    weight_shapes: fn(usize, usize, bool) -> Vec<Vec<usize>>,
}

impl CellKind {
    /// The kind of cell `C`.
    pub const fn of<C: Cell>() -> CellKind {
        CellKind {
            class: C::CLASS,
            type_id: std::any::TypeId::of::<C>,
            layer: layer_of::<C>,
            bidirectional: bidirectional_of::<C>,
            weight_shapes: weight_shapes_of::<C>,
        }
    }
}

fn layer_of<C: Cell>(config: &RecurrentConfig) -> Box<dyn Layer> {
    Box::new(Recurrent::<C>::from_config(config))
}

fn weight_shapes_of<C: Cell>(features: usize, units: usize, use_bias: bool) -> Vec<Vec<usize>> {
    C::weights(features, units, use_bias)
        .into_iter()
        .map(|w| w.shape)
        .collect()
}

fn bidirectional_of<C: Cell>(config: &RecurrentConfig, merge_mode: MergeMode) -> Box<dyn Layer> {
    Box::new(Bidirectional::new(Recurrent::<C>::from_config(config)).merge_mode(merge_mode))
}

/// The cells of this crate, one line each.
pub const BUILT_IN: [CellKind; 3] = [
    CellKind::of::<LstmCell>(),
    CellKind::of::<GruCell>(),
    CellKind::of::<SimpleRnnCell>(),
];

/// Cells registered at run time by other crates.
static REGISTERED: RwLock<Vec<CellKind>> = RwLock::new(Vec::new());

/// Lets saved models name cell `C` (a cell written outside this crate): `Sequential::load`
/// and `LayerConfig::to_layer` then rebuild its layers. Registering the same cell again does
/// nothing; another cell under a class name already taken is refused.
pub fn register_cell<C: Cell>() -> Result<()> {
    let kind = CellKind::of::<C>();
    let mut registered = REGISTERED.write().unwrap_or_else(|e| e.into_inner());
    let known = BUILT_IN.iter().chain(registered.iter());
    if let Some(other) = known.into_iter().find(|k| k.class == kind.class) {
        if (other.type_id)() == (kind.type_id)() {
            return Ok(());
        }
        return Err(LstmError::config(
            "register_cell",
            "a class name no other cell uses",
            format!("{:?}, already the class of another cell", kind.class),
        ));
    }
    registered.push(kind);
    Ok(())
}

/// The kind whose class is `class`.
fn cell_kind(class: &str) -> Result<CellKind> {
    let registered = REGISTERED.read().unwrap_or_else(|e| e.into_inner());
    BUILT_IN
        .iter()
        .chain(registered.iter())
        .find(|k| k.class == class)
        .copied()
        .ok_or_else(|| {
            let known: Vec<&str> = BUILT_IN
                .iter()
                .chain(registered.iter())
                .map(|k| k.class)
                .collect();
            LstmError::config(
                "layer class",
                format!(
                    "a known recurrent cell ({}; a cell of your own: register_cell::<YourCell>() first)",
                    known.join(", ")
                ),
                format!("{class:?}"),
            )
        })
}

/// Elements of a tensor of `shape`, saturating (a crafted size must not wrap around).
fn elements(shape: &[usize]) -> usize {
    shape.iter().fold(1usize, |n, &d| n.saturating_mul(d))
}

impl LayerConfig {
    /// How many weights the layer will hold on inputs of `input_shape` (without the batch axis),
    /// and its output shape, computed from the settings alone: nothing is allocated, so a
    /// model file's claims can be checked before a layer is built. Shapes the layer would
    /// refuse count 0 (its `build` says why).
    pub fn weight_count(&self, input_shape: &[usize]) -> Result<(usize, Vec<usize>)> {
        let last = input_shape.last().copied().unwrap_or(0);
        let dense = |c: &super::config::DenseConfig| {
            let count =
                last.saturating_mul(c.units)
                    .saturating_add(if c.use_bias { c.units } else { 0 });
            let mut output = input_shape.to_vec();
            if let Some(l) = output.last_mut() {
                *l = c.units;
            }
            (count, output)
        };
        let recurrent = |class: &str, c: &RecurrentConfig, copies: usize, width: usize| {
            let [timesteps, features] = *input_shape else {
                return Ok((0, input_shape.to_vec()));
            };
            let shapes = (cell_kind(class)?.weight_shapes)(features, c.units, c.use_bias);
            let count = shapes
                .iter()
                .fold(0usize, |n, s| n.saturating_add(elements(s)))
                .saturating_mul(copies);
            let units = c.units.saturating_mul(width);
            let output = if c.return_sequences {
                vec![timesteps, units]
            } else {
                vec![units]
            };
            Ok((count, output))
        };
        match self {
            LayerConfig::Recurrent { class, settings } => recurrent(class, settings, 1, 1),
            LayerConfig::Bidirectional {
                layer,
                cell,
                merge_mode,
            } => {
                let width = if *merge_mode == MergeMode::Concat {
                    2
                } else {
                    1
                };
                recurrent(cell, layer, 2, width)
            }
            LayerConfig::Dense(c) | LayerConfig::TimeDistributed(c) => Ok(dense(c)),
            LayerConfig::Dropout { .. } => Ok((0, input_shape.to_vec())),
        }
    }

    /// A fresh, unbuilt layer with these settings. A recurrent class must be built in or
    /// registered ([`register_cell`]).
    pub fn to_layer(&self) -> Result<Box<dyn Layer>> {
        Ok(match self {
            LayerConfig::Recurrent { class, settings } => (cell_kind(class)?.layer)(settings),
            LayerConfig::Dense(c) => Box::new(Dense::from_config(c)),
            LayerConfig::Dropout { rate } => Box::new(Dropout::new(*rate)),
            LayerConfig::Bidirectional {
                layer,
                cell,
                merge_mode,
            } => (cell_kind(cell)?.bidirectional)(layer, *merge_mode),
            LayerConfig::TimeDistributed(c) => {
                Box::new(TimeDistributed::new(Dense::from_config(c)))
            }
        })
    }
}
