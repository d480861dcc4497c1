//! Looking inside an LSTM: the gate activations and states of every step, for one sequence.

use ndarray::{Array2, Array3, Axis};

use crate::error::{LstmError, Result};
use crate::layers::Lstm;
use crate::support::plot::{self, Figure, HeatScale};
use crate::training::model::Sequential;

/// Per-step values for one sequence, each `[timesteps, units]`, in processing order.
#[derive(Debug, Clone, PartialEq)]
pub struct GateTrace {
    /// Input gate i.
    pub input: Array2<f32>,
    /// Forget gate f.
    pub forget: Array2<f32>,
    /// Candidate g.
    pub candidate: Array2<f32>,
    /// Output gate o.
    pub output: Array2<f32>,
    /// Cell state c.
    pub cell: Array2<f32>,
    /// Hidden state h.
    pub hidden: Array2<f32>,
}

impl GateTrace {
    /// Reads sample `sample` of the layer's last forward pass.
    pub fn from_last_pass(lstm: &Lstm, sample: usize) -> Result<Self> {
        let steps = lstm.last_steps().ok_or(LstmError::NotReady {
            what: "the LSTM",
            needed: "run on a sequence",
            call: "model.predict(&x) or lstm.call(&x)",
        })?;
        let batch = steps[0].h.nrows();
        if sample >= batch {
            return Err(LstmError::config(
                "sample",
                format!("an index below the batch size {batch}"),
                sample,
            ));
        }
        let pick = |get: fn(&crate::math::lstm::CellStep) -> &Array2<f32>| {
            let rows: Vec<_> = steps.iter().map(|s| get(s).row(sample)).collect();
            ndarray::stack(Axis(0), &rows).expect("same units")
        };
        Ok(GateTrace {
            input: pick(|s| &s.i),
            forget: pick(|s| &s.f),
            candidate: pick(|s| &s.g),
            output: pick(|s| &s.o),
            cell: pick(|s| &s.c),
            hidden: pick(|s| &s.h),
        })
    }

    /// Number of steps traced.
    pub fn timesteps(&self) -> usize {
        self.input.nrows()
    }

    /// Number of units of the layer.
    pub fn units(&self) -> usize {
        self.input.ncols()
    }

    /// The six heatmaps side by side: units down, time steps across. Gates (0…1) in blues;
    /// candidate and states in blue–white–red around 0.
    pub fn heatmaps(&self, title: &str) -> Result<Figure> {
        plot::heatmap_grid(
            title,
            &[
                ("i: input gate", &self.input, HeatScale::UnitInterval),
                ("f: forget gate", &self.forget, HeatScale::UnitInterval),
                ("g: candidate", &self.candidate, HeatScale::AroundZero),
                ("o: output gate", &self.output, HeatScale::UnitInterval),
                ("c: cell state", &self.cell, HeatScale::AroundZero),
                ("h: hidden state", &self.hidden, HeatScale::AroundZero),
            ],
        )
    }
}

/// Runs `model` on one sequence `x: [timesteps, features]` and returns the gates and states of
/// its LSTM layer number `layer` (0 for the first layer).
pub fn trace(model: &mut Sequential, layer: usize, x: &Array2<f32>) -> Result<GateTrace> {
    if model.lstm(layer).is_none() {
        return Err(LstmError::config(
            "layer",
            "the index of an LSTM layer in the model",
            format!(
                "{layer} ({})",
                model
                    .layer_names()
                    .get(layer)
                    .map_or("no such layer", |s| s.as_str())
            ),
        ));
    }
    let batch: Array3<f32> = x.clone().insert_axis(Axis(0));
    model.predict(&batch)?;
    GateTrace::from_last_pass(model.lstm(layer).expect("checked"), 0)
}
