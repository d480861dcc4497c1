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
}

impl CellKind {
    /// The kind of cell `C`.
    pub const fn of<C: Cell>() -> CellKind {
        CellKind {
            class: C::CLASS,
            type_id: std::any::TypeId::of::<C>,
            layer: layer_of::<C>,
            bidirectional: bidirectional_of::<C>,
        }
    }
}

fn layer_of<C: Cell>(config: &RecurrentConfig) -> Box<dyn Layer> {
    Box::new(Recurrent::<C>::from_config(config))
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

impl LayerConfig {
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
