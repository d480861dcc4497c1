//! The memory experiment that decides. Every layer is trained to a plateau (early stopping on
//! validation loss, best weights restored), its learning rate is chosen on validation data, and
//! the test sequences are scored once per model, after that choice. Five seeds, two budgets, the
//! gates started where Keras starts them and opened.
//!
//! ```text
//! for each condition (layer, budget, gate start) and distance:
//!     selection seed: train once per learning rate, keep the rate with the best validation
//!                     accuracy (these runs are never scored on test data)
//!     every seed:     train with that rate, score the held-out test sequences once
//! ```
//!
//! It takes minutes, so `examples/memory_study.rs` runs it and writes a JSON file the notebook
//! reads ([`Study::load`]); [`run_one`] re-runs any single point, bit for bit on one machine.

use std::path::Path;
use std::time::Instant;

use ndarray::{Array1, Array3};
use serde::{Deserialize, Serialize};

use super::{Contender, RecallConfig, color, recall_model};
use crate::error::{LstmError, Result};
use crate::support::plot::{self, Figure, Labels, Series};
use crate::training::callbacks::EarlyStopping;
use crate::training::model::Sequential;
use crate::training::trainer::FitConfig;

/// What the study trains. Defaults: the three layers; budgets 350 and 1,400 parameters; gates
/// started as Keras starts them and opened (bias 3); distances 10 to 200; seeds 0 to 4, the
/// learning rate chosen on seed 100; Adam at 0.001, 0.003, 0.01 or 0.03; at most 100 epochs,
/// stopping after 20 without a better validation loss; 1,024 training, 256 validation and 512 test sequences; batch 32.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyPlan {
    /// The layers compared.
    pub layers: Vec<Contender>,
    /// Parameters of the recurrent layer (each layer gets the units closest to it).
    pub budgets: Vec<usize>,
    /// Initial bias of the state-keeping gate ([`RecallConfig::memory_gate_bias`]); `None` is
    /// Keras' start. The plain RNN has no such gate and runs only with `None`.
    pub gate_biases: Vec<Option<f32>>,
    /// Steps between the marked value and the answer.
    pub distances: Vec<usize>,
    /// Seeds of the data and the weights of the scored runs.
    pub seeds: Vec<u64>,
    /// The seed of the runs that choose the learning rate: not one of `seeds`, so that every
    /// scored run is one training run at a rate chosen elsewhere (a best of several runs on a
    /// scored seed would be a lucky restart).
    pub selection_seed: u64,
    /// Adam's learning rates tried on the selection seed.
    pub learning_rates: Vec<f32>,
    /// The most epochs a model trains.
    pub max_epochs: usize,
    /// Epochs without a lower validation loss before training stops.
    pub patience: usize,
    /// Training sequences.
    pub train_samples: usize,
    /// Validation sequences (another seed): they choose the epoch and the learning rate.
    pub validation_samples: usize,
    /// Test sequences (a third seed): scored once per model.
    pub test_samples: usize,
    /// Batch size.
    pub batch_size: usize,
}

impl Default for StudyPlan {
    fn default() -> Self {
        StudyPlan {
            layers: Contender::ALL.to_vec(),
            budgets: vec![350, 1400],
            gate_biases: vec![None, Some(3.0)],
            distances: vec![10, 25, 50, 100, 200],
            seeds: (0..5).collect(),
            selection_seed: 100,
            learning_rates: vec![0.001, 0.003, 0.01, 0.03],
            max_epochs: 100,
            patience: 20,
            train_samples: 1024,
            validation_samples: 256,
            test_samples: 512,
            batch_size: 32,
        }
    }
}

impl StudyPlan {
    /// Checks every setting; the first wrong one is the error.
    pub fn validate(&self) -> Result<()> {
        let non_empty = |name: &str, len: usize| {
            if len == 0 {
                Err(LstmError::config(
                    format!("StudyPlan {name}"),
                    "at least one entry",
                    "an empty list",
                ))
            } else {
                Ok(())
            }
        };
        non_empty("layers", self.layers.len())?;
        non_empty("budgets", self.budgets.len())?;
        non_empty("gate_biases", self.gate_biases.len())?;
        non_empty("distances", self.distances.len())?;
        non_empty("seeds", self.seeds.len())?;
        non_empty("learning_rates", self.learning_rates.len())?;
        if let Some(lr) = self
            .learning_rates
            .iter()
            .find(|lr| !(lr.is_finite() && **lr > 0.0))
        {
            return Err(LstmError::config(
                "StudyPlan learning_rates",
                "positive finite rates",
                lr,
            ));
        }
        if let Some(b) = self.gate_biases.iter().flatten().find(|b| !b.is_finite()) {
            return Err(LstmError::config(
                "StudyPlan gate_biases",
                "finite biases",
                b,
            ));
        }
        for (name, value) in [
            ("budgets", self.budgets.iter().min().copied().unwrap_or(0)),
            (
                "distances",
                self.distances.iter().min().copied().unwrap_or(0),
            ),
            ("max_epochs", self.max_epochs),
            ("train_samples", self.train_samples),
            ("validation_samples", self.validation_samples),
            ("test_samples", self.test_samples),
            ("batch_size", self.batch_size),
        ] {
            if value == 0 {
                return Err(LstmError::config(
                    format!("StudyPlan {name}"),
                    "at least 1",
                    0,
                ));
            }
        }
        if self.seeds.contains(&self.selection_seed) {
            return Err(LstmError::config(
                "StudyPlan selection_seed",
                "a seed that is not one of the scored seeds",
                self.selection_seed,
            ));
        }
        if self.patience == 0 || self.patience >= self.max_epochs {
            return Err(LstmError::config(
                "StudyPlan patience",
                format!("1 to {} (below max_epochs)", self.max_epochs - 1),
                self.patience,
            ));
        }
        Ok(())
    }

    /// Every (layer, budget, gate start) the plan trains, in order; the plain RNN only with
    /// Keras' start.
    pub fn conditions(&self) -> Vec<Condition> {
        let mut out = vec![];
        for &budget in &self.budgets {
            for &gate_bias in &self.gate_biases {
                for &layer in &self.layers {
                    if layer == Contender::SimpleRnn && gate_bias.is_some() {
                        continue;
                    }
                    out.push(Condition {
                        layer,
                        budget,
                        gate_bias,
                    });
                }
            }
        }
        out
    }

    /// The training, validation and test sequences of one distance and seed, from three seeds.
    /// An error if any validation or test sequence also appears in training.
    #[allow(clippy::type_complexity)]
    pub fn data(&self, distance: usize, seed: u64) -> Result<[(Array3<f32>, Array1<f32>); 3]> {
        let train = crate::support::data::recall_task(self.train_samples, distance, seed);
        let validation =
            crate::support::data::recall_task(self.validation_samples, distance, seed + 500_009);
        let test = crate::support::data::recall_task(self.test_samples, distance, seed + 1_000_003);
        for (name, part) in [("validation", &validation.0), ("test", &test.0)] {
            let shared = crate::support::data::shared_sequences(&train.0, part)?;
            if shared > 0 {
                return Err(LstmError::config(
                    "memory study data",
                    format!("{name} sequences that training never saw"),
                    format!("{shared} of them in the training set"),
                ));
            }
        }
        Ok([train, validation, test])
    }
}

/// One line of the comparison: a layer, its budget and where its state-keeping gate starts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// The layer.
    pub layer: Contender,
    /// Parameters of the recurrent layer.
    pub budget: usize,
    /// Initial bias of the state-keeping gate; `None` is Keras' start.
    pub gate_bias: Option<f32>,
}

impl Condition {
    /// "LSTM" with Keras' start, "LSTM, gate bias 3" when opened.
    pub fn label(&self) -> String {
        match self.gate_bias {
            None => self.layer.name().to_string(),
            Some(b) => format!("{}, gate bias {b}", self.layer.name()),
        }
    }
}

/// One trained model of the study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyRun {
    /// Layer, budget and gate start.
    pub condition: Condition,
    /// Units of the recurrent layer.
    pub units: usize,
    /// Parameters of the recurrent layer.
    pub params: usize,
    /// Steps between the marked value and the answer.
    pub distance: usize,
    /// Seed of the data and the weights.
    pub seed: u64,
    /// Adam's learning rate.
    pub learning_rate: f32,
    /// Training accuracy per epoch.
    pub accuracy: Vec<f32>,
    /// Validation accuracy per epoch.
    pub val_accuracy: Vec<f32>,
    /// Validation loss per epoch.
    pub val_loss: Vec<f32>,
    /// The epoch (1-based) with the lowest validation loss: the weights the model keeps.
    pub best_epoch: usize,
    /// Whether training stopped on its own (a plateau of `patience` epochs) before `max_epochs`.
    pub stopped_early: bool,
    /// Why training failed, if it diverged (then nothing is scored).
    pub diverged: Option<String>,
    /// Whether this is a scored run (a seed of the plan, at the rate chosen for its condition
    /// and distance); `false` for the runs on the selection seed that chose the rate.
    pub chosen: bool,
    /// Held-out accuracy (0.5 is guessing), scored once, only for runs with the chosen rate.
    pub test_accuracy: Option<f32>,
    /// Training time in seconds, on the machine that ran it.
    pub seconds: f32,
}

impl StudyRun {
    /// Validation accuracy of the kept weights (the best epoch's).
    pub fn best_val_accuracy(&self) -> Option<f32> {
        self.val_accuracy
            .get(self.best_epoch.checked_sub(1)?)
            .copied()
    }

    /// Training accuracy of the kept weights (the best epoch's).
    pub fn best_accuracy(&self) -> Option<f32> {
        self.accuracy.get(self.best_epoch.checked_sub(1)?).copied()
    }

    /// Epochs trained.
    pub fn epochs(&self) -> usize {
        self.accuracy.len()
    }
}

/// Trains one model of the study: `condition` at `distance` with `seed` and `learning_rate`, on
/// [`StudyPlan::data`]'s training sequences, stopping on the validation loss. Returns the run
/// (not yet scored on test data: see [`score`]) and the model with its best epoch's weights.
/// A diverged fit is a run with `diverged` set, not an error.
pub fn run_one(
    plan: &StudyPlan,
    condition: Condition,
    distance: usize,
    seed: u64,
    learning_rate: f32,
) -> Result<(StudyRun, Sequential)> {
    plan.validate()?;
    let [(x, y), (x_val, y_val), _] = plan.data(distance, seed)?;
    let config = RecallConfig {
        budget: condition.budget,
        learning_rate,
        seed,
        memory_gate_bias: condition.gate_bias,
    };
    let mut model = recall_model(condition.layer, distance, &config)?;
    let fit = FitConfig::new()
        .epochs(plan.max_epochs)
        .batch_size(plan.batch_size)
        .validation_data(&x_val, &y_val)
        .early_stopping(
            EarlyStopping::new()
                .monitor("val_loss")
                .patience(plan.patience)
                .restore_best_weights(true),
        )
        .verbose(0);
    let units = condition.layer.units_for_budget(condition.budget, 2);
    let started = Instant::now();
    let fitted = model.fit(&x, &y, &fit);
    let seconds = started.elapsed().as_secs_f32();
    let mut run = StudyRun {
        condition,
        units,
        params: condition.layer.params(units, 2),
        distance,
        seed,
        learning_rate,
        accuracy: vec![],
        val_accuracy: vec![],
        val_loss: vec![],
        best_epoch: 0,
        stopped_early: false,
        diverged: None,
        chosen: false,
        test_accuracy: None,
        seconds,
    };
    match fitted {
        Ok(history) => {
            let series = |name: &str| history.series(name).unwrap_or_default().to_vec();
            run.accuracy = series("accuracy");
            run.val_accuracy = series("val_accuracy");
            run.val_loss = series("val_loss");
            run.stopped_early = history.stopped_epoch.is_some();
            run.best_epoch = lowest(&run.val_loss).map_or(0, |k| k + 1);
            if !run.stopped_early {
                // Ran to the cap without a plateau: the weights are the last epoch's.
                run.best_epoch = run.val_loss.len();
            }
        }
        Err(e @ LstmError::Diverged { .. }) => run.diverged = Some(e.to_string()),
        Err(e) => return Err(e),
    }
    Ok((run, model))
}

/// Scores `model` once on the test sequences of `run`'s distance and seed.
pub fn score(plan: &StudyPlan, run: &mut StudyRun, model: &mut Sequential) -> Result<()> {
    let [_, _, (x_test, y_test)] = plan.data(run.distance, run.seed)?;
    let accuracy = model
        .evaluate(&x_test, &y_test)?
        .metric("accuracy")
        .expect("recall models report accuracy");
    run.test_accuracy = Some(accuracy);
    Ok(())
}

/// The index of the smallest finite value (the first of equals).
fn lowest(values: &[f32]) -> Option<usize> {
    values
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map(|(k, _)| k)
}

/// The run whose rate is kept: the best validation accuracy of its kept weights, then the lower
/// validation loss, then the first (smallest) rate. Diverged runs never win.
fn choose(runs: &[StudyRun]) -> Option<usize> {
    runs.iter()
        .enumerate()
        .filter(|(_, r)| r.diverged.is_none() && r.best_val_accuracy().is_some())
        .max_by(|(ka, a), (kb, b)| {
            let acc = |r: &StudyRun| r.best_val_accuracy().unwrap_or(f32::NEG_INFINITY);
            // NaN (a loss that overflowed) counts as the worst loss, whatever its sign bit.
            let loss = |r: &StudyRun| {
                let l = r.val_loss[r.best_epoch - 1];
                if l.is_nan() { f32::INFINITY } else { l }
            };
            acc(a)
                .total_cmp(&acc(b))
                .then(loss(b).total_cmp(&loss(a)))
                .then(kb.cmp(ka))
        })
        .map(|(k, _)| k)
}

/// Where a study's file came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The command that writes the file.
    pub command: String,
    /// `lstm-core`'s version.
    pub version: String,
    /// The processor, as the operating system names it, and its core count.
    pub machine: String,
    /// Wall time of the whole study in seconds.
    pub seconds: f32,
}

/// A finished study: its plan, where it ran, and every run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Study {
    /// What was trained.
    pub plan: StudyPlan,
    /// Where and how it was produced.
    pub provenance: Provenance,
    /// Every model trained, learning-rate trials included.
    pub runs: Vec<StudyRun>,
    /// What one epoch costs each layer, measured on a quiet machine after the runs.
    pub costs: Vec<Cost>,
}

/// What one layer costs at one budget: what does not change between runs, and one measured time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    /// The layer.
    pub layer: Contender,
    /// Parameters of the recurrent layer asked for.
    pub budget: usize,
    /// Units of the recurrent layer.
    pub units: usize,
    /// Parameters of the recurrent layer.
    pub params: usize,
    /// Multiply-adds of one step for one sequence ([`Contender::multiply_adds_per_step`]).
    pub multiply_adds_per_step: usize,
    /// Steps per sequence in the timed epoch.
    pub timesteps: usize,
    /// Wall time of one training epoch (the median of three), in seconds.
    pub seconds_per_epoch: f32,
}

/// Times one training epoch of every layer at every budget of `plan` at `distance` (the median
/// of three epochs, after one to warm up), one after another.
pub fn measure_costs(plan: &StudyPlan, distance: usize) -> Result<Vec<Cost>> {
    plan.validate()?;
    let [(x, y), _, _] = plan.data(distance, plan.selection_seed)?;
    let mut costs = vec![];
    for &budget in &plan.budgets {
        for &layer in &plan.layers {
            let config = RecallConfig {
                budget,
                ..RecallConfig::default()
            };
            let mut model = recall_model(layer, distance, &config)?;
            let epoch = FitConfig::new().batch_size(plan.batch_size).verbose(0);
            model.fit(&x, &y, &epoch)?;
            let mut times = vec![];
            for _ in 0..3 {
                let started = Instant::now();
                model.fit(&x, &y, &epoch)?;
                times.push(started.elapsed().as_secs_f32());
            }
            times.sort_by(f32::total_cmp);
            let units = layer.units_for_budget(budget, 2);
            costs.push(Cost {
                layer,
                budget,
                units,
                params: layer.params(units, 2),
                multiply_adds_per_step: layer.multiply_adds_per_step(units, 2),
                timesteps: distance + 1,
                seconds_per_epoch: times[1],
            });
        }
    }
    Ok(costs)
}

/// Runs the whole plan; `progress` sees each run as it finishes (scored or not).
pub fn run_study(
    plan: &StudyPlan,
    command: &str,
    progress: &mut dyn FnMut(&StudyRun),
) -> Result<Study> {
    plan.validate()?;
    let started = Instant::now();
    let mut runs = vec![];
    for condition in plan.conditions() {
        for &distance in &plan.distances {
            let mut trials = vec![];
            for &lr in &plan.learning_rates {
                let (run, _) = run_one(plan, condition, distance, plan.selection_seed, lr)?;
                progress(&run);
                trials.push(run);
            }
            let Some(pick) = choose(&trials) else {
                return Err(LstmError::config(
                    "memory study learning rates",
                    "at least one rate that trains without diverging",
                    format!(
                        "every rate of {:?} diverged for {} at distance {distance}",
                        plan.learning_rates,
                        condition.label()
                    ),
                ));
            };
            let learning_rate = plan.learning_rates[pick];
            runs.extend(trials);
            for &seed in &plan.seeds {
                let (mut run, mut model) = run_one(plan, condition, distance, seed, learning_rate)?;
                run.chosen = true;
                if run.diverged.is_none() {
                    score(plan, &mut run, &mut model)?;
                }
                progress(&run);
                runs.push(run);
            }
        }
    }
    let costs = measure_costs(plan, plan.distances[plan.distances.len() / 2])?;
    Ok(Study {
        costs,
        plan: plan.clone(),
        provenance: Provenance {
            command: command.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            machine: machine_name(),
            seconds: started.elapsed().as_secs_f32(),
        },
        runs,
    })
}

fn machine_name() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    format!("{cpu}, {cores} cores")
}

/// One value as compact JSON.
fn compact<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("a study serialises")
}

/// Mean, lowest and highest of a set of scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The mean.
    pub mean: f32,
    /// The lowest.
    pub min: f32,
    /// The highest.
    pub max: f32,
    /// How many scores.
    pub count: usize,
}

impl Spread {
    /// `None` for no scores.
    pub fn of(values: &[f32]) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        Some(Spread {
            mean: values.iter().sum::<f32>() / values.len() as f32,
            min: values.iter().copied().fold(f32::INFINITY, f32::min),
            max: values.iter().copied().fold(f32::NEG_INFINITY, f32::max),
            count: values.len(),
        })
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:5.1}% ({:5.1}–{:5.1})",
            100.0 * self.mean,
            100.0 * self.min,
            100.0 * self.max
        )
    }
}

impl Study {
    /// Writes the study as JSON, one run per line (a re-run's diff shows which runs changed).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let runs: Vec<String> = self.runs.iter().map(compact).collect();
        let json = format!(
            "{{\n\"plan\": {},\n\"provenance\": {},\n\"costs\": {},\n\"runs\": [\n{}\n]\n}}\n",
            compact(&self.plan),
            compact(&self.provenance),
            compact(&self.costs),
            runs.join(",\n")
        );
        std::fs::write(path, json).map_err(|e| LstmError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Reads a study written by [`Study::save`], and checks that its runs belong to its plan.
    pub fn load(path: impl AsRef<Path>) -> Result<Study> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| LstmError::Io {
            path: path.display().to_string(),
            message: format!(
                "{e} (the file is written by `cargo run --release -p lstm-core --example \
                 memory_study`)"
            ),
        })?;
        let study: Study = serde_json::from_str(&text).map_err(|e| LstmError::Parse {
            context: path.display().to_string(),
            message: format!("not a memory study file: {e}"),
        })?;
        study.plan.validate()?;
        let conditions = study.plan.conditions();
        if let Some(stray) = study.runs.iter().find(|r| {
            !conditions.contains(&r.condition)
                || !study.plan.distances.contains(&r.distance)
                || !(study.plan.seeds.contains(&r.seed) || r.seed == study.plan.selection_seed)
        }) {
            return Err(LstmError::Parse {
                context: path.display().to_string(),
                message: format!(
                    "a run outside the file's plan: {} at distance {}, seed {}",
                    stray.condition.label(),
                    stray.distance,
                    stray.seed
                ),
            });
        }
        Ok(study)
    }

    /// The conditions with `budget` and `gate_bias`, in the plan's layer order.
    pub fn conditions(&self, budget: usize, gate_bias: Option<f32>) -> Vec<Condition> {
        self.plan
            .conditions()
            .into_iter()
            .filter(|c| c.budget == budget && c.gate_bias == gate_bias)
            .collect()
    }

    /// The scored runs (one per seed) of `condition` at `distance`.
    pub fn scored(&self, condition: Condition, distance: usize) -> Vec<&StudyRun> {
        self.runs
            .iter()
            .filter(|r| r.condition == condition && r.distance == distance && r.chosen)
            .collect()
    }

    /// Held-out accuracies over the seeds of `condition` at `distance` (a diverged seed
    /// counts as guessing, 0.5).
    pub fn test_accuracies(&self, condition: Condition, distance: usize) -> Vec<f32> {
        self.scored(condition, distance)
            .iter()
            .map(|r| r.test_accuracy.unwrap_or(0.5))
            .collect()
    }

    /// Mean and range of [`Study::test_accuracies`].
    pub fn spread(&self, condition: Condition, distance: usize) -> Option<Spread> {
        Spread::of(&self.test_accuracies(condition, distance))
    }

    /// The learning rate chosen on validation data for `condition` at `distance`.
    pub fn learning_rate(&self, condition: Condition, distance: usize) -> Option<f32> {
        self.scored(condition, distance)
            .first()
            .map(|r| r.learning_rate)
    }

    /// The scored run of `condition` at `distance` with `seed`.
    pub fn run(&self, condition: Condition, distance: usize, seed: u64) -> Option<&StudyRun> {
        self.scored(condition, distance)
            .into_iter()
            .find(|r| r.seed == seed)
    }

    /// A text table: one row per distance, one column per condition with `budget` and
    /// `gate_bias`: mean held-out accuracy and its range over the seeds.
    pub fn table(&self, budget: usize, gate_bias: Option<f32>) -> String {
        let conditions = self.conditions(budget, gate_bias);
        let mut out = format!("{:>8}", "distance");
        for c in &conditions {
            out += &format!("  {:>23}", c.label());
        }
        for &d in &self.plan.distances {
            out += &format!("\n{d:>8}");
            for &c in &conditions {
                match self.spread(c, d) {
                    Some(s) => out += &format!("  {:>23}", s.to_string()),
                    None => out += &format!("  {:>23}", "-"),
                }
            }
        }
        out
    }

    /// Held-out accuracy against distance for `budget` and `gate_bias`: one line per layer
    /// (the mean over seeds) and one dot per seed, spread sideways so that no dot hides another.
    pub fn accuracy_chart(
        &self,
        budget: usize,
        gate_bias: Option<f32>,
        title: &str,
    ) -> Result<Figure> {
        let conditions = self.conditions(budget, gate_bias);
        let distances = &self.plan.distances;
        let mut series = vec![];
        for (k, &c) in conditions.iter().enumerate() {
            let offset = 0.25 * (k as f32 - (conditions.len() as f32 - 1.0) / 2.0);
            let mean: Vec<(f32, f32)> = distances
                .iter()
                .enumerate()
                .filter_map(|(i, &d)| {
                    self.spread(c, d)
                        .map(|s| (i as f32 + offset, 100.0 * s.mean))
                })
                .collect();
            series.push(Series::thick(
                &format!("{} (mean)", c.label()),
                mean,
                color(c.layer),
            ));
            let mut dots = vec![];
            for (i, &d) in distances.iter().enumerate() {
                let scores = self.test_accuracies(c, d);
                let n = scores.len() as f32;
                for (s, a) in scores.iter().enumerate() {
                    let jitter = 0.05 * (s as f32 - (n - 1.0) / 2.0);
                    dots.push((i as f32 + offset + jitter, 100.0 * a));
                }
            }
            series.push(Series::dots(
                &format!("{}, each seed", c.layer.name()),
                dots,
                color(c.layer),
            ));
        }
        let labels = Labels {
            title,
            x: "steps between the marked value and the answer",
            y: "held-out accuracy (%)",
        };
        let ticks = distances.clone();
        let x_format = move |v: &f32| {
            let i = v.round();
            if (v - i).abs() < 1e-3 && i >= 0.0 && (i as usize) < ticks.len() {
                ticks[i as usize].to_string()
            } else {
                String::new()
            }
        };
        plot::line_chart_with_x_format(&labels, &series, false, &x_format)
    }

    /// Training (line) and validation (dots) accuracy per epoch of the scored runs at
    /// `distance` with `seed`, for every condition with `budget` and `gate_bias`: did each
    /// layer reach a plateau?
    pub fn curves_chart(
        &self,
        budget: usize,
        gate_bias: Option<f32>,
        distance: usize,
        seed: u64,
        title: &str,
    ) -> Result<Figure> {
        let mut series = vec![];
        for c in self.conditions(budget, gate_bias) {
            let Some(run) = self.run(c, distance, seed) else {
                continue;
            };
            let points = |v: &[f32]| {
                v.iter()
                    .enumerate()
                    .map(|(e, a)| ((e + 1) as f32, 100.0 * a))
                    .collect::<Vec<_>>()
            };
            series.push(Series::line(
                &format!("{} training", c.layer.name()),
                points(&run.accuracy),
                color(c.layer),
            ));
            series.push(Series::dots(
                &format!("{} validation", c.layer.name()),
                points(&run.val_accuracy),
                color(c.layer),
            ));
        }
        if series.is_empty() {
            return Err(LstmError::config(
                "curves_chart",
                format!(
                    "a distance and seed of the study ({:?})",
                    self.plan.distances
                ),
                format!("distance {distance}, seed {seed}"),
            ));
        }
        plot::line_chart(
            &Labels {
                title,
                x: "epoch",
                y: "accuracy (%)",
            },
            &series,
            false,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_plan() -> StudyPlan {
        StudyPlan {
            layers: vec![Contender::SimpleRnn, Contender::Lstm],
            budgets: vec![60],
            gate_biases: vec![None, Some(3.0)],
            distances: vec![3],
            seeds: vec![0, 1],
            selection_seed: 7,
            learning_rates: vec![0.003, 0.03],
            max_epochs: 4,
            patience: 2,
            train_samples: 64,
            validation_samples: 32,
            test_samples: 32,
            batch_size: 16,
        }
    }

    #[test]
    fn the_plain_rnn_runs_only_with_keras_start() {
        let labels: Vec<String> = tiny_plan()
            .conditions()
            .iter()
            .map(Condition::label)
            .collect();
        assert_eq!(labels, ["SimpleRNN", "LSTM", "LSTM, gate bias 3"]);
    }

    #[test]
    fn a_study_chooses_on_validation_scores_chosen_runs_and_round_trips() {
        let plan = tiny_plan();
        let mut seen = 0;
        let study = run_study(&plan, "test", &mut |_| seen += 1).unwrap();
        // Per condition: 2 rate trials on the selection seed, then the 2 scored seeds.
        assert_eq!(seen, 3 * (2 + 2));
        assert_eq!(study.runs.len(), 3 * 4);
        assert_eq!(study.costs.len(), 2, "one cost per layer and budget");
        assert!(
            study
                .costs
                .iter()
                .all(|c| c.seconds_per_epoch > 0.0 && c.timesteps == 4)
        );
        for c in plan.conditions() {
            let scored = study.scored(c, 3);
            assert_eq!(scored.len(), 2, "one scored run per seed");
            let trials: Vec<StudyRun> = study
                .runs
                .iter()
                .filter(|r| r.condition == c && r.seed == 7)
                .cloned()
                .collect();
            assert_eq!(trials.len(), 2, "one selection run per rate");
            let pick = choose(&trials).unwrap();
            // The selection runs are never scored on test data, nor counted as seeds.
            assert!(
                trials
                    .iter()
                    .all(|r| !r.chosen && r.test_accuracy.is_none())
            );
            assert!(
                scored
                    .iter()
                    .all(|r| r.learning_rate == trials[pick].learning_rate)
            );
            assert!(scored.iter().all(|r| r.test_accuracy.is_some()));
            assert_eq!(study.learning_rate(c, 3), Some(trials[pick].learning_rate));
        }
        // Deterministic: the same point re-run gives the same bits.
        let c = plan.conditions()[1];
        let first = study.run(c, 3, 1).unwrap();
        let (mut again, mut model) = run_one(&plan, c, 3, 1, first.learning_rate).unwrap();
        score(&plan, &mut again, &mut model).unwrap();
        again.chosen = true;
        again.seconds = first.seconds;
        assert_eq!(&again, first);

        let path = std::env::temp_dir().join(format!("study-{}.json", std::process::id()));
        study.save(&path).unwrap();
        let back = Study::load(&path).unwrap();
        assert_eq!(back, study);
        assert!(study.table(60, None).contains("SimpleRNN"));
        study.accuracy_chart(60, Some(3.0), "t").unwrap();
        study.curves_chart(60, None, 3, 0, "t").unwrap();
        assert!(study.curves_chart(60, None, 99, 0, "t").is_err());
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn choice_prefers_validation_accuracy_then_loss_and_skips_diverged() {
        let run = |acc: f32, loss: f32, diverged: bool| StudyRun {
            condition: tiny_plan().conditions()[0],
            units: 1,
            params: 1,
            distance: 3,
            seed: 0,
            learning_rate: 0.1,
            accuracy: vec![acc],
            val_accuracy: vec![acc],
            val_loss: vec![loss],
            best_epoch: 1,
            stopped_early: true,
            diverged: diverged.then(|| "diverged".to_string()),
            chosen: false,
            test_accuracy: None,
            seconds: 0.0,
        };
        assert_eq!(
            choose(&[run(0.6, 0.5, false), run(0.9, 0.6, false)]),
            Some(1)
        );
        assert_eq!(
            choose(&[run(0.9, 0.5, false), run(0.9, 0.6, false)]),
            Some(0)
        );
        assert_eq!(
            choose(&[run(0.9, 0.5, false), run(0.9, 0.5, false)]),
            Some(0)
        );
        assert_eq!(
            choose(&[run(0.6, 0.5, false), run(0.9, 0.4, true)]),
            Some(0)
        );
        assert_eq!(choose(&[run(0.9, 0.4, true)]), None);
    }

    #[test]
    fn bad_plans_and_files_are_clear_errors() {
        let mut plan = tiny_plan();
        plan.seeds.clear();
        assert!(plan.validate().unwrap_err().to_string().contains("seeds"));
        let mut plan = tiny_plan();
        plan.learning_rates = vec![f32::NAN];
        assert!(
            plan.validate()
                .unwrap_err()
                .to_string()
                .contains("learning_rates")
        );
        let mut plan = tiny_plan();
        plan.selection_seed = 1;
        assert!(
            plan.validate()
                .unwrap_err()
                .to_string()
                .contains("selection_seed")
        );
        let mut plan = tiny_plan();
        plan.patience = 4;
        assert!(
            plan.validate()
                .unwrap_err()
                .to_string()
                .contains("patience")
        );
        let path = std::env::temp_dir().join(format!("not-a-study-{}.json", std::process::id()));
        std::fs::write(&path, "{\"plan\": 3}").unwrap();
        let err = Study::load(&path).unwrap_err().to_string();
        assert!(err.contains("not a memory study file"), "{err}");
        std::fs::remove_file(&path).ok();
        let err = Study::load("/no/such/study.json").unwrap_err().to_string();
        assert!(err.contains("memory_study"), "{err}");
    }
}
