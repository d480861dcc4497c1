//! Keras' default initialisers, all drawn from one seeded RNG so a seed fixes every weight.

use ndarray::{Array1, Array2, Axis};
use ndarray_rand::RandomExt;
use ndarray_rand::rand::SeedableRng;
use ndarray_rand::rand_distr::{StandardNormal, Uniform};

/// The crate's one RNG type: ChaCha8, whose stream for a seed is fixed on every machine and
/// across versions of `rand`, and whose state can be saved with a model.
pub type Rng = rand_chacha::ChaCha8Rng;

/// The crate's RNG for a seed: the same seed gives the same stream everywhere.
pub fn seeded_rng(seed: u64) -> Rng {
    Rng::seed_from_u64(seed)
}

/// `glorot_uniform`: U(-limit, limit) with `limit = sqrt(6 / (fan_in + fan_out))`.
/// A matrix without values (0 rows or 0 columns) draws nothing.
pub fn glorot_uniform(rows: usize, cols: usize, rng: &mut Rng) -> Array2<f32> {
    if rows == 0 || cols == 0 {
        return Array2::zeros((rows, cols));
    }
    let limit = (6.0 / (rows + cols) as f32).sqrt();
    Array2::random_using(
        (rows, cols),
        Uniform::new(-limit, limit).expect("limit > 0"),
        rng,
    )
}

/// `orthogonal` (gain 1): the Q of a QR decomposition of a normal matrix, signs fixed by
/// R's diagonal, as Keras draws the recurrent kernel. For `rows < cols` the rows are orthonormal.
pub fn orthogonal(rows: usize, cols: usize, rng: &mut Rng) -> Array2<f32> {
    // Orthonormalise the columns of a tall (n, k) normal matrix, then transpose if the target is
    // wide. The columns are worked on as contiguous rows of the transpose (fast for LSTM(512)).
    let (n, k) = (rows.max(cols), rows.min(cols));
    let a: Array2<f64> = Array2::random_using((n, k), StandardNormal, rng);
    let mut basis = a.reversed_axes().as_standard_layout().into_owned();
    // Modified Gram-Schmidt gives Q with a positive R diagonal, i.e. Q * sign(diag(R)).
    for j in 0..k {
        let (done, mut rest) = basis.view_mut().split_at(Axis(0), j);
        let mut v = rest.row_mut(0);
        for q in done.rows() {
            let dot = q.dot(&v);
            v.scaled_add(-dot, &q);
        }
        let norm = v.dot(&v).sqrt();
        v /= norm;
    }
    let q = basis.mapv(|v| v as f32); // [k, n]: orthonormal rows
    if rows < cols {
        q
    } else {
        q.reversed_axes().as_standard_layout().into_owned()
    }
}

/// LSTM bias: zeros, except the forget-gate slice `[u, 2u)` which is 1 (`unit_forget_bias=True`).
pub fn unit_forget_bias(units: usize) -> Array1<f32> {
    let mut bias = Array1::zeros(4 * units);
    bias.slice_mut(ndarray::s![units..2 * units]).fill(1.0);
    bias
}

/// Where a layer's first weight values come from when it is built.
#[derive(Debug)]
pub enum Fill<'a> {
    /// Each weight's initialiser, drawing from this RNG (Keras' behaviour).
    Drawn(&'a mut Rng),
    /// Zeros, drawing nothing: for weights about to be overwritten (loading a saved model,
    /// where drawing LSTM(1024)'s orthogonal recurrent kernel alone takes a second).
    Zeros,
}

impl Fill<'_> {
    /// The first values of a weight of `shape` that `initializer` would start.
    pub fn values(&mut self, initializer: Initializer, shape: &[usize]) -> ndarray::ArrayD<f32> {
        match self {
            Fill::Drawn(rng) => initializer.draw(shape, rng),
            Fill::Zeros => ndarray::ArrayD::zeros(shape),
        }
    }

    /// The same source, borrowed again (to build two inner layers in turn).
    pub fn reborrow(&mut self) -> Fill<'_> {
        match self {
            Fill::Drawn(rng) => Fill::Drawn(rng),
            Fill::Zeros => Fill::Zeros,
        }
    }
}

/// How a weight starts, by Keras' initialiser names. A cell lists one per weight
/// ([`WeightSpec`](crate::layers::WeightSpec)); they draw from the model's RNG in the order listed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Initializer {
    /// `glorot_uniform` over a 2-D shape `[fan_in, fan_out]`.
    GlorotUniform,
    /// `orthogonal` over a 2-D shape.
    Orthogonal,
    /// `zeros`: draws nothing.
    Zeros,
    /// Every value the same (`constant`): draws nothing.
    Constant(f32),
    /// The LSTM's `unit_forget_bias` over `[4u]` (1 on the forget block): draws nothing.
    UnitForgetBias,
}

impl Initializer {
    /// Values of `shape`, drawn from `rng` if the initialiser is random.
    pub fn draw(self, shape: &[usize], rng: &mut Rng) -> ndarray::ArrayD<f32> {
        let matrix = || -> (usize, usize) {
            match *shape {
                [rows, cols] => (rows, cols),
                _ => panic!("{self:?} needs a 2-D shape, got {shape:?}"),
            }
        };
        match self {
            Initializer::GlorotUniform => {
                let (rows, cols) = matrix();
                glorot_uniform(rows, cols, rng).into_dyn()
            }
            Initializer::Orthogonal => {
                let (rows, cols) = matrix();
                orthogonal(rows, cols, rng).into_dyn()
            }
            Initializer::Zeros => ndarray::ArrayD::zeros(shape),
            Initializer::Constant(value) => ndarray::ArrayD::from_elem(shape, value),
            Initializer::UnitForgetBias => {
                let size: usize = shape.iter().product();
                unit_forget_bias(size / 4)
                    .into_shape_with_order(shape)
                    .expect("a bias of 4u values")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glorot_respects_its_limit_and_the_seed() {
        let w = glorot_uniform(10, 40, &mut seeded_rng(1));
        let limit = (6.0f32 / 50.0).sqrt();
        assert!(w.iter().all(|v| v.abs() <= limit));
        assert_eq!(w, glorot_uniform(10, 40, &mut seeded_rng(1)));
        assert_ne!(w, glorot_uniform(10, 40, &mut seeded_rng(2)));
    }

    #[test]
    fn empty_shapes_draw_nothing_and_do_not_panic() {
        for (rows, cols) in [(0, 0), (0, 3), (3, 0)] {
            assert_eq!(
                glorot_uniform(rows, cols, &mut seeded_rng(1)).dim(),
                (rows, cols)
            );
            assert_eq!(
                orthogonal(rows, cols, &mut seeded_rng(1)).dim(),
                (rows, cols)
            );
        }
    }

    #[test]
    fn orthogonal_rows_are_orthonormal() {
        for (rows, cols) in [(5, 20), (20, 5), (6, 6)] {
            let q = orthogonal(rows, cols, &mut seeded_rng(3));
            assert_eq!(q.dim(), (rows, cols));
            let gram = if rows <= cols {
                q.dot(&q.t())
            } else {
                q.t().dot(&q)
            };
            for ((i, j), v) in gram.indexed_iter() {
                let expected = if i == j { 1.0 } else { 0.0 };
                assert!((v - expected).abs() < 1e-5, "gram[{i},{j}] = {v}");
            }
        }
    }

    #[test]
    fn forget_bias_is_one_only_on_the_forget_slice() {
        let b = unit_forget_bias(2);
        assert_eq!(b.to_vec(), vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
    }
}
