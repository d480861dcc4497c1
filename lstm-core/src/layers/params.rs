//! A layer's trainable tensors, described once: Keras name, value and gradient, in Keras order.
//! [`Layer::params`](super::Layer::params), [`Layer::weights`](super::Layer::weights),
//! [`Layer::set_weights`](super::Layer::set_weights), saving and `.npz` names all read this one
//! list, so they cannot disagree on order, names or shapes.

use ndarray::{ArrayD, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Ix1, Ix2};

use super::layer::{Param, Weight};
use crate::check::{ensure_finite, fmt_shape};
use crate::error::{LstmError, Result};

#[derive(Debug, Clone)]
struct Tensor {
    name: &'static str,
    value: ArrayD<f32>,
    grad: ArrayD<f32>,
}

/// The tensors of one layer, in Keras order.
#[derive(Debug, Clone, Default)]
pub(crate) struct ParamSet {
    tensors: Vec<Tensor>,
    /// Changes whenever the values may have changed; never the same for two different sets
    /// of values (a copy of the weights packed for a kernel is still valid while it holds).
    version: u64,
}

/// The next [`ParamSet::version`], shared by every layer.
static NEXT_VERSION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl ParamSet {
    /// Adds a tensor (with a zero gradient) after the ones already listed.
    pub(crate) fn push(&mut self, name: &'static str, value: ArrayD<f32>) {
        let value = value.as_standard_layout().into_owned();
        let grad = ArrayD::zeros(value.raw_dim());
        self.tensors.push(Tensor { name, value, grad });
        self.values_may_change();
    }

    /// The values' version: equal versions, equal values.
    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    fn values_may_change(&mut self) {
        self.version = NEXT_VERSION.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn find(&self, name: &str) -> Option<&Tensor> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// Names and values, in order.
    pub(crate) fn named(&self) -> impl Iterator<Item = (&'static str, &ArrayD<f32>)> {
        self.tensors.iter().map(|t| (t.name, &t.value))
    }

    /// The names, in order.
    pub(crate) fn names(&self) -> Vec<&'static str> {
        self.tensors.iter().map(|t| t.name).collect()
    }

    /// The value of `name`, if the layer has it (a layer without bias has no `bias`).
    pub(crate) fn get(&self, name: &str) -> Option<&ArrayD<f32>> {
        self.find(name).map(|t| &t.value)
    }

    /// The 2-D value of `name`; the layer listed it, with this rank.
    pub(crate) fn matrix(&self, name: &str) -> ArrayView2<'_, f32> {
        let t = self.find(name).expect("listed by the layer's build");
        t.value.view().into_dimensionality::<Ix2>().expect("2-D")
    }

    /// Value views and gradient slots of every tensor at once, so a backward pass can read the
    /// values while it writes the gradients.
    pub(crate) fn split(&mut self) -> (Vec<&ArrayD<f32>>, Vec<&mut ArrayD<f32>>) {
        self.tensors
            .iter_mut()
            .map(|t| (&t.value, &mut t.grad))
            .unzip()
    }

    /// Trainable tensors with their gradients, for optimizers.
    pub(crate) fn params(&mut self) -> Vec<Param<'_>> {
        self.values_may_change();
        self.tensors
            .iter_mut()
            .map(|t| Param {
                value: t.value.as_slice_mut().expect("standard layout"),
                grad: t.grad.as_slice_mut().expect("standard layout"),
            })
            .collect()
    }

    /// Named copies of the values, for saving and inspection.
    pub(crate) fn weights(&self) -> Vec<Weight> {
        self.tensors
            .iter()
            .map(|t| Weight {
                name: t.name.to_string(),
                value: t.value.clone(),
            })
            .collect()
    }

    /// Number of scalars.
    pub(crate) fn count(&self) -> usize {
        self.tensors.iter().map(|t| t.value.len()).sum()
    }

    /// Replaces every value; the shapes must be the current ones, in order. Nothing changes on error.
    pub(crate) fn set(
        &mut self,
        layer: &str,
        new: &[ArrayD<f32>],
        hint: &dyn Fn(&str, &[usize]) -> Option<String>,
    ) -> Result<()> {
        check_weight_shapes(layer, &self.weights(), new, hint)?;
        self.values_may_change();
        for (t, n) in self.tensors.iter_mut().zip(new) {
            t.value.assign(n);
        }
        Ok(())
    }
}

/// A gradient slot as a matrix.
pub(crate) fn grad_matrix(grad: &mut ArrayD<f32>) -> ArrayViewMut2<'_, f32> {
    grad.view_mut().into_dimensionality::<Ix2>().expect("2-D")
}

/// A gradient slot as a vector.
pub(crate) fn grad_vector(grad: &mut ArrayD<f32>) -> ArrayViewMut1<'_, f32> {
    grad.view_mut().into_dimensionality::<Ix1>().expect("1-D")
}

/// A value as a vector.
pub(crate) fn vector(value: &ArrayD<f32>) -> ArrayView1<'_, f32> {
    value.view().into_dimensionality::<Ix1>().expect("1-D")
}

/// Checks replacement weights against the current ones, by position, name and shape.
/// `hint` may explain a shape that another library's layout gives (Keras 2's GRU bias).
pub(crate) fn check_weight_shapes(
    layer: &str,
    current: &[Weight],
    new: &[ArrayD<f32>],
    hint: &dyn Fn(&str, &[usize]) -> Option<String>,
) -> Result<()> {
    if current.len() != new.len() {
        return Err(LstmError::count(
            format!("{layer}.set_weights"),
            "weight arrays",
            format!(
                "{} ({})",
                current.len(),
                current
                    .iter()
                    .map(|w| w.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            new.len().to_string(),
        ));
    }
    for (w, n) in current.iter().zip(new) {
        if w.value.shape() != n.shape() {
            let got = match hint(&w.name, n.shape()) {
                Some(hint) => format!("{} ({hint})", fmt_shape(n.shape())),
                None => fmt_shape(n.shape()),
            };
            return Err(LstmError::shape(
                format!("{layer}.set_weights: {}", w.name),
                fmt_shape(w.value.shape()),
                got,
            ));
        }
        ensure_finite(&format!("{layer}.set_weights: {}", w.name), n)?;
    }
    Ok(())
}
