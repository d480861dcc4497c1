//! Analytic gradients against central finite differences, over small random configurations of
//! every layer kind and every loss (proptest). Checks every weight and every input value.

use lstm_core::prelude::*;
use lstm_core::{Layer, MergeMode};
use ndarray::{ArrayD, Dimension, IxDyn};
use ndarray_rand::RandomExt;
use ndarray_rand::rand_distr::Uniform;
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

/// Probe steps: large, so that the f32 rounding of the loss (~1e-7·|L|/h) stays small beside the
/// difference. Where the loss is smooth, Richardson's error is O(h⁴); where relu or |·| put
/// kinks in the way, the largest of H_KINKS, H_KINKS/2, ... whose stretch is smooth is used.
const H_SMOOTH: f32 = 2e-2;
const H_KINKS: f32 = 3.2e-2;

#[derive(Debug, Clone, Copy)]
enum Arch {
    LstmDense,
    GoBackwards,
    Stacked,
    SequenceToSequence,
    Bidirectional(MergeMode),
    /// GRU(return_sequences, go_backwards) → GRU.
    GruStacked,
    /// SimpleRNN → Dense.
    SimpleRnn,
    /// GRU(return_sequences) → SimpleRNN(go_backwards).
    GruIntoSimpleRnn,
    /// Bidirectional(GRU), and of SimpleRNN, summed.
    BidirectionalGru,
    BidirectionalSimpleRnn,
}

#[derive(Debug, Clone, Copy)]
enum Head {
    Regression(Loss, Activation),
    Classes(Loss, Activation),
}

/// Loss at the model's current weights (in f64 for clean differences) and, where the check needs
/// it (models with kinks), one coordinate of the analytic gradient there, times `error` (1 but
/// in the test that injects a gradient error).
fn loss_and_gradient(
    model: &mut Sequential,
    x: &ArrayD<f32>,
    y: &ArrayD<f32>,
    smooth: bool,
    error: f32,
    coordinate: impl Fn(&lstm_core::Gradients) -> f32,
) -> (f64, f64) {
    let loss = model.evaluate(x, y).unwrap().loss as f64;
    if smooth {
        return (loss, f64::NAN);
    }
    let g = model.gradients(x, y).unwrap();
    (loss, (coordinate(&g) * error) as f64)
}

/// The loss is an f32: a few ulps of it, divided by h, is the noise floor of a difference
/// (a generous bound, for smooth models).
fn noise(loss: f64, h: f32) -> f64 {
    30.0 * f32::EPSILON as f64 * loss.abs().max(1e-3) / h as f64
}

/// The rounding error of one evaluation of the loss, measured: the loss moves by rounding alone
/// when a weight moves by one ulp (its true change is below an ulp of the loss). Four times the
/// largest such move over a sample of weights, and at least six ulps of the larger of the loss and
/// the largest prediction (or of 1e-3): a small loss can be the difference of two outputs near
/// 0.5 (MAE), and then it moves in steps of the outputs' ulp, not its own.
fn measured_loss_noise(
    model: &mut Sequential,
    x: &ArrayD<f32>,
    y: &ArrayD<f32>,
    weights: &[ArrayD<f32>],
) -> f64 {
    let centre = model.evaluate(x, y).unwrap().loss;
    let mut largest = 0.0f64;
    for (w, array) in weights.iter().enumerate() {
        for k in (0..array.len()).step_by(array.len().div_ceil(4).max(1)) {
            let mut moved = weights.to_vec();
            let value = &mut moved[w].as_slice_mut().unwrap()[k];
            *value = value.next_up();
            model.set_weights(&moved).unwrap();
            let loss = model.evaluate(x, y).unwrap().loss;
            largest = largest.max((loss as f64 - centre as f64).abs());
        }
    }
    model.set_weights(weights).unwrap();
    let largest_prediction = model
        .predict(x)
        .unwrap()
        .iter()
        .fold(0.0f32, |m, p| m.max(p.abs()));
    let scale = (centre.abs().max(largest_prediction) as f64).max(1e-3);
    let floor = 6.0 * f32::EPSILON as f64 * scale;
    (4.0 * largest).max(floor)
}

/// Compares an analytic derivative with finite differences of the loss.
///
/// A smooth model (tanh, no relu, no |·|): central differences at h and h/2 combined by
/// Richardson extrapolation (error O(h⁴)); every coordinate must match.
///
/// A model with relu or MAE has kinks, and a kink between the probes spoils a difference. Whether
/// one lies between them is read off the analytic gradient itself, at the probes: on a smooth
/// stretch the gradient is nearly linear, so `g(+h) + g(−h) − 2·g(0)` is tiny, while a kink
/// makes the gradient jump. That test is free of the loss's rounding noise (it never divides by
/// h), which is what let kinks of tiny networks pass as smooth before. On a smooth stretch the
/// difference quotient must equal the gradient's average over it, Simpson's
/// `(g(−h) + 4·g(0) + g(+h)) / 6`; a wrong gradient is wrong at the probes too, so it is still
/// caught. Step sizes shrink until one stretch is smooth; with none, the coordinate is skipped.
/// A kink that changes the gradient by less than 0.1% of its size passes as smooth, and moves the
/// difference quotient by less than that: well inside the 0.5% tolerance.
fn compare(
    what: &str,
    analytic: f32,
    smooth: bool,
    loss_noise: f64,
    mut loss_and_gradient: impl FnMut(f32) -> (f64, f64),
    skipped: &mut usize,
) -> Result<(), TestCaseError> {
    let (centre, _) = loss_and_gradient(0.0);
    let analytic = analytic as f64;
    if smooth {
        let mut central = |h: f32| {
            let ((plus, _), (minus, _)) = (loss_and_gradient(h), loss_and_gradient(-h));
            (plus - minus) / (2.0 * h as f64)
        };
        let (coarse, fine) = (central(H_SMOOTH), central(H_SMOOTH / 2.0));
        let numeric = (4.0 * fine - coarse) / 3.0;
        let tolerance = noise(centre, H_SMOOTH) + 5e-3 * numeric.abs();
        prop_assert!(
            (analytic - numeric).abs() <= tolerance,
            "{what}: analytic {analytic}, finite difference {numeric}"
        );
        return Ok(());
    }
    // A mismatch on a stretch that looked smooth: two kinks can hide between the probes (a unit
    // alive only inside), or the gradient is wrong. Other stretches tell: hidden kinks leave
    // smaller ones, a wrong gradient stays wrong wherever the difference can resolve it. So a
    // coordinate fails only on mismatches at two step sizes, and passes on a match at a step size
    // that can resolve a 2% error.
    let mut mismatch: Option<(f32, f64, f64)> = None;
    for k in 0..9 {
        let h = H_KINKS / (1 << k) as f32;
        let probes = [-h, -h / 2.0, h / 2.0, h].map(&mut loss_and_gradient);
        let [(minus, g_m), (_, g_mh), (_, g_ph), (plus, g_p)] = probes;
        let numeric = (plus - minus) / (2.0 * h as f64);
        let gradients = [g_m, g_mh, analytic, g_ph, g_p];
        let scale = gradients.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        if scale == 0.0 {
            // A dead unit: zero everywhere we look. A zero gradient shows no scaling error, and
            // a loss that moves anyway has a unit alive somewhere between the probes.
            if numeric.abs() <= loss_noise / h as f64 {
                return Ok(());
            }
            continue;
        }
        let slope = (g_p - g_m) / 2.0; // per h
        let off_line = [(-1.0, g_m), (-0.5, g_mh), (0.5, g_ph), (1.0, g_p)]
            .iter()
            .map(|(t, g)| (g - analytic - t * slope).abs())
            .fold(0.0f64, f64::max);
        if off_line > 1e-3 * scale + 1e-6 {
            continue; // a kink between the probes
        }
        // Composite Simpson over the five probes: the gradient's average on [−h, h].
        let average = (g_m + 4.0 * g_mh + 2.0 * analytic + 4.0 * g_ph + g_p) / 12.0;
        let noise = loss_noise / h as f64;
        let tolerance = noise + 5e-3 * average.abs();
        // Can this stretch resolve a 2% error?
        let decisive = noise <= 5e-3 * average.abs();
        if (average - numeric).abs() <= tolerance {
            if mismatch.is_none() || decisive {
                return Ok(());
            }
        } else if let Some((h0, average0, numeric0)) = mismatch {
            // A wrong gradient is off by the same factor at every step size; rounding noise and
            // hidden kinks are not (noise has a random sign, a hidden kink's share grows as 1/h).
            let (off0, off) = (numeric0 / average0 - 1.0, numeric / average - 1.0);
            let consistent = off0 * off > 0.0 && (off / off0) > 2.0 / 3.0 && (off / off0) < 1.5;
            prop_assert!(
                !consistent,
                "{what}: analytic {analytic}; averages over ±{h0} and ±{h}: {average0}, {average}; \
                 finite differences {numeric0}, {numeric}"
            );
            mismatch = Some((h, average, numeric));
        } else {
            mismatch = Some((h, average, numeric));
        }
    }
    *skipped += 1;
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

/// Checks every weight and input gradient of one configuration. `gradient_error` scales the
/// analytic gradients everywhere (1.0; 1.02 in the test that proves a 2% error is caught).
fn check(
    arch: Arch,
    head: Head,
    act: Activation,
    sizes: Sizes,
    seed: u64,
    gradient_error: f32,
) -> Result<f32, TestCaseError> {
    let Sizes {
        units,
        features,
        timesteps,
        batch,
    } = sizes;
    let mut rng = lstm_core::math::init::seeded_rng(seed);
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
        Arch::GruStacked => {
            model
                .add(
                    Gru::new(units)
                        .activation(act)
                        .return_sequences(true)
                        .go_backwards(true),
                )
                .unwrap();
            model.add(Gru::new(units + 1).activation(act)).unwrap();
        }
        Arch::SimpleRnn => {
            model.add(SimpleRnn::new(units).activation(act)).unwrap();
        }
        Arch::GruIntoSimpleRnn => {
            model
                .add(Gru::new(units).activation(act).return_sequences(true))
                .unwrap();
            model
                .add(SimpleRnn::new(units + 1).activation(act).go_backwards(true))
                .unwrap();
        }
        Arch::BidirectionalGru => {
            model
                .add(Bidirectional::new(Gru::new(units).activation(act)))
                .unwrap();
        }
        Arch::BidirectionalSimpleRnn => {
            model
                .add(
                    Bidirectional::new(SimpleRnn::new(units).activation(act))
                        .merge_mode(MergeMode::Sum),
                )
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
    let loss_noise = measured_loss_noise(&mut model, &x, &y, &weights);
    let (mut checked, mut skipped) = (0, 0);
    for (w, grad) in grads.weights.iter().enumerate() {
        for k in 0..grad.len() {
            let probe = |h: f32| {
                let mut moved = weights.clone();
                moved[w].as_slice_mut().unwrap()[k] += h;
                model.set_weights(&moved).unwrap();
                loss_and_gradient(&mut model, &x, &y, smooth, gradient_error, |g| {
                    g.weights[w].as_slice().unwrap()[k]
                })
            };
            compare(
                &format!("{arch:?} {head:?} weight {w}[{k}]"),
                grad.as_slice().unwrap()[k] * gradient_error,
                smooth,
                loss_noise,
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
            loss_and_gradient(&mut model, &moved, &y, smooth, gradient_error, |g| {
                g.input.as_slice().unwrap()[k]
            })
        };
        compare(
            &format!("{arch:?} {head:?} dx[{k}]"),
            grads.input.as_slice().unwrap()[k] * gradient_error,
            smooth,
            loss_noise,
            probe,
            &mut skipped,
        )?;
        checked += 1;
    }
    prop_assert!(
        skipped * 2 <= checked,
        "{skipped} of {checked} coordinates sat on a kink"
    );
    let largest = grads
        .weights
        .iter()
        .chain([&grads.input])
        .flat_map(|g| g.iter())
        .fold(0.0f32, |m, g| m.max(g.abs()));
    Ok(largest)
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
        Just(Arch::GruStacked),
        Just(Arch::SimpleRnn),
        Just(Arch::GruIntoSimpleRnn),
        Just(Arch::BidirectionalGru),
        Just(Arch::BidirectionalSimpleRnn),
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
    // A fixed seed: the same 48 configurations on every run and machine (a random seed made CI
    // fail on a case no earlier run had drawn). GRADCHECK_SEED=<n> explores other ones.
    #![proptest_config(ProptestConfig {
        cases: 48,
        rng_seed: RngSeed::Fixed(
            std::env::var("GRADCHECK_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261204),
        ),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

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
        check(arch, head, act, Sizes { units, features, timesteps, batch }, seed, 1.0).map(|_| ())?;
    }
}

/// Every layer kind, and every head (loss and output activation), for the grids below.
const ARCHS: [Arch; 13] = [
    Arch::LstmDense,
    Arch::GoBackwards,
    Arch::Stacked,
    Arch::SequenceToSequence,
    Arch::Bidirectional(MergeMode::Concat),
    Arch::Bidirectional(MergeMode::Sum),
    Arch::Bidirectional(MergeMode::Mul),
    Arch::Bidirectional(MergeMode::Ave),
    Arch::GruStacked,
    Arch::SimpleRnn,
    Arch::GruIntoSimpleRnn,
    Arch::BidirectionalGru,
    Arch::BidirectionalSimpleRnn,
];
const HEADS: [Head; 6] = [
    Head::Regression(Loss::MeanSquaredError, Activation::Linear),
    Head::Regression(Loss::MeanSquaredError, Activation::Relu),
    Head::Regression(Loss::MeanAbsoluteError, Activation::Sigmoid),
    Head::Classes(Loss::CategoricalCrossentropy, Activation::Softmax),
    Head::Classes(Loss::CategoricalCrossentropy, Activation::Sigmoid),
    Head::Classes(Loss::SparseCategoricalCrossentropy, Activation::Softmax),
];
const GRID_SIZES: Sizes = Sizes {
    units: 2,
    features: 2,
    timesteps: 3,
    batch: 2,
};

/// Every combination once, so no layer kind or loss depends on the random draw.
#[test]
fn every_layer_kind_and_loss_once() {
    for (k, arch) in ARCHS.iter().enumerate() {
        for (j, head) in HEADS.iter().enumerate() {
            for act in [Activation::Tanh, Activation::Relu] {
                check(*arch, *head, act, GRID_SIZES, (k * 10 + j) as u64, 1.0).unwrap();
            }
        }
    }
}

/// The check has teeth: a backward pass 2% off (too large or too small) is caught in every layer
/// kind and loss. Measured on this grid: 298 of 312 caught; the 14 misses are nearly dead relu
/// networks, whose gradient sits on kinks or below the rounding noise.
#[test]
fn a_two_percent_gradient_error_is_caught_everywhere() {
    let (mut caught, mut missed) = (0, vec![]);
    for (k, arch) in ARCHS.iter().enumerate() {
        for (j, head) in HEADS.iter().enumerate() {
            for act in [Activation::Tanh, Activation::Relu] {
                for error in [1.02f32, 0.98] {
                    match check(*arch, *head, act, GRID_SIZES, (k * 10 + j) as u64, error) {
                        Err(_) => caught += 1,
                        Ok(_) => missed.push((*arch, *head, act, error)),
                    }
                }
            }
        }
    }
    let total = caught + missed.len();
    eprintln!("caught {caught} of {total}, missed {}", missed.len());
    // Smooth models (tanh, no relu, no |·|) must catch it every time. A model with kinks can hide
    // it only where its gradient lives on kinks or below the rounding noise (a nearly dead relu
    // network): rare, and never a smooth one.
    let smooth = |head: &Head, act: Activation| {
        act == Activation::Tanh
            && !matches!(
                head,
                Head::Regression(Loss::MeanAbsoluteError, _)
                    | Head::Regression(_, Activation::Relu)
            )
    };
    assert!(
        missed.iter().all(|(_, head, act, _)| !smooth(head, *act)),
        "a smooth model missed a 2% error: {missed:?}"
    );
    assert!(
        missed.len() * 20 <= caught,
        "caught {caught} of {total}, missed {}: {missed:?}",
        missed.len()
    );
}

#[test]
fn dropout_passes_gradients_only_through_kept_units() {
    let mut layer = Dropout::new(0.5);
    let mut rng = lstm_core::math::init::seeded_rng(3);
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

/// Found by CI: a loss of 0.0065 made of two sigmoid outputs near their targets moves in steps of
/// the outputs' ulp (3e-8), so weight steps of 1e-3 left it exactly unchanged. The noise floor
/// scaled with the loss alone called the (right) gradient wrong; it now scales with the outputs.
#[test]
fn a_small_loss_that_moves_in_steps_of_the_outputs_passes() {
    check(
        Arch::Bidirectional(MergeMode::Concat),
        Head::Regression(Loss::MeanAbsoluteError, Activation::Sigmoid),
        Activation::Relu,
        Sizes {
            units: 2,
            features: 2,
            timesteps: 3,
            batch: 1,
        },
        355,
        1.0,
    )
    .unwrap();
}
