//! Analytic gradients against central finite differences, over small random configurations of
//! every layer kind and every loss (proptest). Checks every weight and every input value.

use lstm_core::prelude::*;
use lstm_core::{Layer, MergeMode};
use ndarray::{ArrayD, Dimension, IxDyn};
use ndarray_rand::RandomExt;
use ndarray_rand::rand_distr::Uniform;
use proptest::prelude::*;

/// Probe steps: large where the loss is smooth (Richardson's error is O(h⁴) and f32 rounding of the
/// loss, ~1e-7·|L|/h, stays small); small where relu or |·| put kinks in the way.
const H_SMOOTH: f32 = 2e-2;
const H_KINKS: f32 = 4e-3;

#[derive(Debug, Clone, Copy)]
enum Arch {
    LstmDense,
    GoBackwards,
    Stacked,
    SequenceToSequence,
    Bidirectional(MergeMode),
}

#[derive(Debug, Clone, Copy)]
enum Head {
    Regression(Loss, Activation),
    Classes(Loss, Activation),
}

/// Loss at the model's current weights, in f64 for clean differences.
fn loss_at(model: &mut Sequential, x: &ArrayD<f32>, y: &ArrayD<f32>) -> f64 {
    model.evaluate(x, y).unwrap().loss as f64
}

/// The loss is an f32: a few ulps of it, divided by h, is the noise floor of a difference.
fn noise(loss: f64, h: f32) -> f64 {
    30.0 * f32::EPSILON as f64 * loss.abs().max(1e-3) / h as f64
}

/// Compares an analytic derivative with finite differences of the loss.
///
/// A smooth model (tanh, no relu, no |·|): central differences at h and h/2 combined by
/// Richardson extrapolation (error O(h⁴)); every coordinate must match.
///
/// A model with relu or MAE has kinks, and a kink inside the probes spoils a difference. The
/// derivative must match at one of several step sizes; if it matches at none, the coordinate is
/// skipped only when no step size looked smooth (forward and backward differences disagreeing at
/// each), otherwise it fails.
fn compare(
    what: &str,
    analytic: f32,
    smooth: bool,
    mut loss_moved_by: impl FnMut(f32) -> f64,
    skipped: &mut usize,
) -> Result<(), TestCaseError> {
    let centre = loss_moved_by(0.0);
    let analytic = analytic as f64;
    let mut differences = |h: f32| {
        let (plus, minus) = (loss_moved_by(h), loss_moved_by(-h));
        let h64 = h as f64;
        (
            (plus - minus) / (2.0 * h64),
            (plus - centre) / h64,
            (centre - minus) / h64,
        )
    };
    if smooth {
        let ((coarse, ..), (fine, ..)) = (differences(H_SMOOTH), differences(H_SMOOTH / 2.0));
        let numeric = (4.0 * fine - coarse) / 3.0;
        let tolerance = noise(centre, H_SMOOTH) + 5e-3 * numeric.abs();
        prop_assert!(
            (analytic - numeric).abs() <= tolerance,
            "{what}: analytic {analytic}, finite difference {numeric}"
        );
        return Ok(());
    }
    let mut smooth_mismatch = None;
    for h in [H_KINKS, H_KINKS / 2.0, H_KINKS / 4.0, H_KINKS / 8.0] {
        let (central, forward, backward) = differences(h);
        let tolerance = noise(centre, h) + 5e-3 * central.abs();
        if (analytic - central).abs() <= tolerance {
            return Ok(());
        }
        if (forward - backward).abs() <= 2.0 * tolerance {
            smooth_mismatch = Some(central);
        }
    }
    match smooth_mismatch {
        Some(numeric) => prop_assert!(
            false,
            "{what}: analytic {analytic}, finite difference {numeric}"
        ),
        None => *skipped += 1,
    }
    Ok(())
}

/// Sizes of one random configuration.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    units: usize,
    features: usize,
    timesteps: usize,
    batch: usize,
}

fn check(
    arch: Arch,
    head: Head,
    act: Activation,
    sizes: Sizes,
    seed: u64,
) -> Result<(), TestCaseError> {
    let Sizes {
        units,
        features,
        timesteps,
        batch,
    } = sizes;
    let mut rng = lstm_core::init::seeded_rng(seed);
    let mut model = Sequential::with_seed(&[timesteps, features], seed);
    let sequence_out = matches!(arch, Arch::SequenceToSequence);
    match arch {
        Arch::LstmDense => {
            model.add(Lstm::new(units).activation(act)).unwrap();
        }
        Arch::GoBackwards => {
            model
                .add(Lstm::new(units).activation(act).go_backwards(true))
                .unwrap();
        }
        Arch::Stacked => {
            model
                .add(Lstm::new(units).activation(act).return_sequences(true))
                .unwrap();
            model.add(Lstm::new(units + 1).activation(act)).unwrap();
        }
        Arch::SequenceToSequence => {
            model
                .add(Lstm::new(units).activation(act).return_sequences(true))
                .unwrap();
        }
        Arch::Bidirectional(mode) => {
            model
                .add(Bidirectional::new(Lstm::new(units).activation(act)).merge_mode(mode))
                .unwrap();
        }
    }
    let (loss, out_act, outputs) = match head {
        Head::Regression(loss, a) => (loss, a, 2),
        Head::Classes(loss, a) => (loss, a, 3),
    };
    let dense = Dense::new(outputs).activation(out_act);
    if sequence_out {
        model.add(TimeDistributed::new(dense)).unwrap();
    } else {
        model.add(dense).unwrap();
    }
    model.compile(Adam::default(), loss).unwrap();

    let x = ArrayD::random_using(
        IxDyn(&[batch, timesteps, features]),
        Uniform::new(-1.0f32, 1.0).unwrap(),
        &mut rng,
    );
    let mut out_shape = vec![batch];
    out_shape.extend(model.output_shape());
    let y = match loss {
        Loss::SparseCategoricalCrossentropy => {
            let rows: usize = out_shape[..out_shape.len() - 1].iter().product();
            ArrayD::from_shape_fn(IxDyn(&out_shape[..out_shape.len() - 1]), |i| {
                ((i.as_array_view().sum() + rows) % outputs) as f32
            })
        }
        Loss::CategoricalCrossentropy => ArrayD::from_shape_fn(IxDyn(&out_shape), |i| {
            let pos = i.as_array_view();
            let row: usize = pos.iter().take(pos.len() - 1).sum();
            (pos[pos.len() - 1] == row % outputs) as u8 as f32
        }),
        _ => ArrayD::random_using(
            IxDyn(&out_shape),
            Uniform::new(-1.0f32, 1.0).unwrap(),
            &mut rng,
        ),
    };

    let grads = model.gradients(&x, &y).unwrap();
    let weights = model.get_weights();
    let smooth = act != Activation::Relu
        && !matches!(
            head,
            Head::Regression(Loss::MeanAbsoluteError, _) | Head::Regression(_, Activation::Relu)
        );
    let (mut checked, mut skipped) = (0, 0);
    for (w, grad) in grads.weights.iter().enumerate() {
        for k in 0..grad.len() {
            let probe = |h: f32| {
                let mut moved = weights.clone();
                moved[w].as_slice_mut().unwrap()[k] += h;
                model.set_weights(&moved).unwrap();
                loss_at(&mut model, &x, &y)
            };
            compare(
                &format!("{arch:?} {head:?} weight {w}[{k}]"),
                grad.as_slice().unwrap()[k],
                smooth,
                probe,
                &mut skipped,
            )?;
            checked += 1;
        }
    }
    model.set_weights(&weights).unwrap();
    for k in 0..x.len() {
        let probe = |h: f32| {
            let mut moved = x.clone();
            moved.as_slice_mut().unwrap()[k] += h;
            loss_at(&mut model, &moved, &y)
        };
        compare(
            &format!("{arch:?} {head:?} dx[{k}]"),
            grads.input.as_slice().unwrap()[k],
            smooth,
            probe,
            &mut skipped,
        )?;
        checked += 1;
    }
    prop_assert!(
        skipped * 2 <= checked,
        "{skipped} of {checked} coordinates sat on a kink"
    );
    Ok(())
}

fn arch() -> impl Strategy<Value = Arch> {
    prop_oneof![
        Just(Arch::LstmDense),
        Just(Arch::GoBackwards),
        Just(Arch::Stacked),
        Just(Arch::SequenceToSequence),
        Just(Arch::Bidirectional(MergeMode::Concat)),
        Just(Arch::Bidirectional(MergeMode::Sum)),
        Just(Arch::Bidirectional(MergeMode::Mul)),
        Just(Arch::Bidirectional(MergeMode::Ave)),
    ]
}

fn head() -> impl Strategy<Value = Head> {
    prop_oneof![
        Just(Head::Regression(Loss::MeanSquaredError, Activation::Linear)),
        Just(Head::Regression(Loss::MeanSquaredError, Activation::Tanh)),
        Just(Head::Regression(Loss::MeanSquaredError, Activation::Relu)),
        Just(Head::Regression(
            Loss::MeanAbsoluteError,
            Activation::Sigmoid
        )),
        Just(Head::Classes(
            Loss::CategoricalCrossentropy,
            Activation::Softmax
        )),
        Just(Head::Classes(
            Loss::CategoricalCrossentropy,
            Activation::Sigmoid
        )),
        Just(Head::Classes(
            Loss::SparseCategoricalCrossentropy,
            Activation::Softmax
        )),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn analytic_gradients_match_finite_differences(
        arch in arch(),
        head in head(),
        relu in any::<bool>(),
        units in 1usize..4,
        features in 1usize..3,
        timesteps in 1usize..4,
        batch in 1usize..3,
        seed in 0u64..1000,
    ) {
        let act = if relu { Activation::Relu } else { Activation::Tanh };
        check(arch, head, act, Sizes { units, features, timesteps, batch }, seed)?;
    }
}

/// Every combination once, so no layer kind or loss depends on the random draw.
#[test]
fn every_layer_kind_and_loss_once() {
    let archs = [
        Arch::LstmDense,
        Arch::GoBackwards,
        Arch::Stacked,
        Arch::SequenceToSequence,
        Arch::Bidirectional(MergeMode::Concat),
        Arch::Bidirectional(MergeMode::Sum),
        Arch::Bidirectional(MergeMode::Mul),
        Arch::Bidirectional(MergeMode::Ave),
    ];
    let heads = [
        Head::Regression(Loss::MeanSquaredError, Activation::Linear),
        Head::Regression(Loss::MeanAbsoluteError, Activation::Sigmoid),
        Head::Classes(Loss::CategoricalCrossentropy, Activation::Softmax),
        Head::Classes(Loss::CategoricalCrossentropy, Activation::Sigmoid),
        Head::Classes(Loss::SparseCategoricalCrossentropy, Activation::Softmax),
    ];
    for (k, arch) in archs.iter().enumerate() {
        for (j, head) in heads.iter().enumerate() {
            for act in [Activation::Tanh, Activation::Relu] {
                let sizes = Sizes {
                    units: 2,
                    features: 2,
                    timesteps: 3,
                    batch: 2,
                };
                check(*arch, *head, act, sizes, (k * 10 + j) as u64).unwrap();
            }
        }
    }
}

#[test]
fn dropout_passes_gradients_only_through_kept_units() {
    let mut layer = Dropout::new(0.5);
    let mut rng = lstm_core::init::seeded_rng(3);
    layer.build(&[100], &mut rng).unwrap();
    let x = ArrayD::from_elem(IxDyn(&[4, 100]), 1.0f32);
    let out = layer.forward(&x, true, &mut rng).unwrap();
    let kept = out.iter().filter(|&&v| v != 0.0).count();
    assert!(
        (120..280).contains(&kept),
        "about half of 400 kept, got {kept}"
    );
    assert!(
        out.iter().all(|&v| v == 0.0 || v == 2.0),
        "kept units are scaled by 1/(1-rate)"
    );
    let grad = layer
        .backward(&ArrayD::from_elem(IxDyn(&[4, 100]), 1.0))
        .unwrap();
    assert_eq!(grad, out, "d(out)/d(x) is the mask");
    assert_eq!(
        layer.forward(&x, false, &mut rng).unwrap(),
        x,
        "identity at inference"
    );
}
