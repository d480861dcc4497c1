//! Hyperparameter search: random search, and Hyperband with Keras Tuner's bracket schedule.
//!
//! You give two functions: `build(hp)` makes a compiled model for a set of hyperparameters, and
//! `train(model, epochs)` trains it for that many *more* epochs and returns the validation loss.
//! Hyperband promotes the best trials of each round, and they continue training where they
//! stopped (Keras Tuner reloads their weights; here the model is kept).

use ndarray_rand::rand::Rng as _;

use crate::display::{Html, html_escape};
use crate::error::{LstmError, Result};
use crate::math::init::seeded_rng;
use crate::support::plot::{self, Figure, Labels, Series};
use crate::training::model::Sequential;

/// Where to search: units and the number of stacked LSTM layers from lists, dropout uniformly in
/// a range, learning rate on a log scale.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchSpace {
    /// LSTM sizes to choose from.
    pub units: Vec<usize>,
    /// Numbers of stacked LSTM layers to choose from (e.g. `vec![1, 2, 3]`).
    pub layers: Vec<usize>,
    /// Range of the dropout rate, drawn uniformly (the build function decides where it applies:
    /// a `Dropout` layer, or the LSTM's own input dropout).
    pub dropout: (f32, f32),
    /// Range of Adam's learning rate, drawn on a log scale.
    pub learning_rate: (f32, f32),
}

impl SearchSpace {
    fn validate(&self) -> Result<()> {
        if self.units.is_empty() || self.units.contains(&0) {
            return Err(LstmError::config(
                "units choices",
                "a non-empty list of sizes >= 1",
                format!("{:?}", self.units),
            ));
        }
        if self.layers.is_empty() || self.layers.contains(&0) {
            return Err(LstmError::config(
                "layers choices",
                "a non-empty list of layer counts >= 1",
                format!("{:?}", self.layers),
            ));
        }
        let (d0, d1) = self.dropout;
        if !(0.0 <= d0 && d0 <= d1 && d1 < 1.0) {
            return Err(LstmError::config(
                "dropout range",
                "0 <= low <= high < 1",
                format!("({d0}, {d1})"),
            ));
        }
        let (l0, l1) = self.learning_rate;
        if !(l0 > 0.0 && l0 <= l1 && l1.is_finite()) {
            return Err(LstmError::config(
                "learning rate range",
                "0 < low <= high",
                format!("({l0}, {l1})"),
            ));
        }
        Ok(())
    }

    /// One random point of the space.
    pub fn sample(&self, rng: &mut crate::math::init::Rng) -> HyperParameters {
        let units = self.units[rng.random_range(0..self.units.len())];
        let layers = self.layers[rng.random_range(0..self.layers.len())];
        let dropout = self.dropout.0 + (self.dropout.1 - self.dropout.0) * rng.random::<f32>();
        let (log_low, log_high) = (self.learning_rate.0.ln(), self.learning_rate.1.ln());
        let learning_rate = (log_low + (log_high - log_low) * rng.random::<f32>()).exp();
        HyperParameters {
            units,
            layers,
            dropout,
            learning_rate,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
/// One configuration drawn from a [`SearchSpace`].
pub struct HyperParameters {
    /// LSTM units (per layer).
    pub units: usize,
    /// Stacked LSTM layers.
    pub layers: usize,
    /// The dropout rate.
    pub dropout: f32,
    /// Adam's learning rate.
    pub learning_rate: f32,
}

impl std::fmt::Display for HyperParameters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} × LSTM({}), dropout {:.2}, learning rate {:.1e}",
            self.layers, self.units, self.dropout, self.learning_rate
        )
    }
}

/// Lower objectives first, NaN last whatever its sign (`total_cmp` alone puts a negative NaN,
/// which 0/0 gives, before every number).
fn by_objective(a: f32, b: f32) -> std::cmp::Ordering {
    a.is_nan().cmp(&b.is_nan()).then(a.total_cmp(&b))
}

/// One trained configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// Position in [`SearchResult::trials`].
    pub id: usize,
    /// The configuration trained.
    pub hyperparameters: HyperParameters,
    /// Total epochs this model has been trained for.
    pub epochs: usize,
    /// The objective the search minimises (the loss on the validation data the search function uses).
    pub val_loss: f32,
    /// Hyperband bracket and round (None for random search).
    pub bracket: Option<usize>,
    /// The round of successive halving within the bracket.
    pub round: Option<usize>,
    /// The trial this one continues (a promotion).
    pub continues: Option<usize>,
    /// Why the trial failed (its build or train returned this error, e.g. the fit diverged);
    /// then `val_loss` is NaN and the trial never wins. The search goes on, as Keras Tuner's does.
    pub error: Option<String>,
}

/// Keras Tuner's `max_consecutive_failed_trials`: after this many failures in a row the search
/// stops, since the build or train function itself is likely wrong.
pub const MAX_CONSECUTIVE_FAILED_TRIALS: usize = 3;

/// Runs one trial's work, turning its error into a failed trial; stops the search after
/// [`MAX_CONSECUTIVE_FAILED_TRIALS`] failures in a row.
struct Failures {
    search: &'static str,
    in_a_row: Vec<String>,
}

impl Failures {
    fn new(search: &'static str) -> Self {
        Failures {
            search,
            in_a_row: vec![],
        }
    }

    /// The objective, or NaN and the error's message; an error once too many failed in a row.
    fn record<T>(
        &mut self,
        id: usize,
        hp: &HyperParameters,
        outcome: Result<T>,
        trials: &[Trial],
    ) -> Result<(Option<T>, Option<String>)> {
        match outcome {
            Ok(value) => {
                self.in_a_row.clear();
                Ok((Some(value), None))
            }
            Err(e) => {
                let message = e.to_string();
                self.in_a_row.push(format!("trial {id} ({hp}): {message}"));
                if self.in_a_row.len() >= MAX_CONSECUTIVE_FAILED_TRIALS {
                    return Err(LstmError::TrialsFailed {
                        search: self.search,
                        failed: self.in_a_row.len(),
                        trials: self.in_a_row.join("; "),
                        finished: trials.iter().filter(|t| t.error.is_none()).count(),
                    });
                }
                Ok((None, Some(message)))
            }
        }
    }
}

/// The trials of a search, with the best one and a table.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    /// Every trial, in the order run.
    pub trials: Vec<Trial>,
}

impl SearchResult {
    /// The trial with the lowest validation loss. A trial whose objective is NaN (a model that
    /// diverged, or 0/0) is never the winner; an error if there are no trials, or none with a
    /// number.
    pub fn best(&self) -> Result<&Trial> {
        let first = self.trials.first().ok_or(LstmError::Empty {
            context: "SearchResult::best: the search result holds no trials".into(),
            min: 1,
        })?;
        self.trials
            .iter()
            .filter(|t| !t.val_loss.is_nan())
            .min_by(|a, b| by_objective(a.val_loss, b.val_loss))
            .ok_or(LstmError::NonFinite {
                context: format!(
                    "SearchResult::best: the objective of every one of the {} trials",
                    self.trials.len()
                ),
                index: format!("[{}]", first.id),
                value: first.val_loss,
            })
    }

    /// Total epochs trained, over all trials: the search's budget.
    pub fn total_epochs(&self) -> usize {
        self.trials
            .iter()
            .map(|t| {
                let before = t
                    .continues
                    .and_then(|p| self.trials.get(p))
                    .map_or(0, |p| p.epochs);
                t.epochs.saturating_sub(before)
            })
            .sum()
    }

    /// The trials as an HTML table, the best one highlighted.
    pub fn to_html(&self) -> Html {
        let best = self.best().map(|t| t.id).ok();
        let mut html = String::from(
            "<table class=\"lstm-trials\"><thead><tr><th>trial</th><th>bracket</th><th>round</th><th>continues</th><th>epochs</th><th>units</th><th>layers</th><th>dropout</th><th>learning rate</th><th>val_loss</th></tr></thead><tbody>",
        );
        let opt = |v: Option<usize>| v.map_or("–".to_string(), |v| v.to_string());
        for t in &self.trials {
            let style = if Some(t.id) == best {
                " style=\"font-weight:bold;background:#e8f4e8\""
            } else {
                ""
            };
            html += &format!(
                "<tr{style}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.2e}</td><td{}>{}</td></tr>",
                t.id,
                opt(t.bracket),
                opt(t.round),
                opt(t.continues),
                t.epochs,
                t.hyperparameters.units,
                t.hyperparameters.layers,
                t.hyperparameters.dropout,
                t.hyperparameters.learning_rate,
                match &t.error {
                    Some(e) => format!(" title=\"{}\"", html_escape(e)),
                    None => String::new(),
                },
                match &t.error {
                    // The first sentence ("training diverged at epoch 1, batch 3: the loss
                    // became inf"); the whole message on hover.
                    Some(e) => format!(
                        "failed: {}",
                        html_escape(e.split(". ").next().unwrap_or(e.as_str()))
                    ),
                    None => format!("{:.5}", t.val_loss),
                }
            );
        }
        html += "</tbody></table>";
        Html(html)
    }

    /// Validation loss of every trial against the epochs it was trained for.
    pub fn plot(&self, title: &str) -> Result<Figure> {
        let colors = [
            plot::TRAIN,
            plot::VALIDATION,
            plot::TEST,
            plot::HIGHLIGHT,
            plot::ACTUAL,
        ];
        let mut groups: Vec<(String, Vec<(f32, f32)>)> = vec![];
        for t in self.trials.iter().filter(|t| t.val_loss.is_finite()) {
            let label = t
                .bracket
                .map_or("random search".to_string(), |b| format!("bracket {b}"));
            match groups.iter_mut().find(|g| g.0 == label) {
                Some(g) => g.1.push((t.epochs as f32, t.val_loss)),
                None => groups.push((label, vec![(t.epochs as f32, t.val_loss)])),
            }
        }
        let series: Vec<Series> = groups
            .into_iter()
            .enumerate()
            .map(|(k, (label, points))| Series::dots(&label, points, colors[k % colors.len()]))
            .collect();
        plot::line_chart(
            &Labels {
                title,
                x: "epochs trained",
                y: "validation loss (log scale)",
            },
            &series,
            true,
        )
    }

    /// Rich display in evcxr: the table.
    pub fn evcxr_display(&self) {
        self.to_html().evcxr_display();
    }
}

/// `max_trials` random configurations, each trained for `epochs`. A trial whose build or train
/// fails (a fit that diverges at a high learning rate) is kept with its error and the search goes
/// on; [`MAX_CONSECUTIVE_FAILED_TRIALS`] failures in a row stop it.
pub fn random_search(
    space: &SearchSpace,
    max_trials: usize,
    epochs: usize,
    seed: u64,
    mut build: impl FnMut(&HyperParameters) -> Result<Sequential>,
    mut train: impl FnMut(&mut Sequential, usize) -> Result<f32>,
) -> Result<SearchResult> {
    space.validate()?;
    if max_trials == 0 || epochs == 0 {
        return Err(LstmError::config(
            "random_search",
            "max_trials >= 1 and epochs >= 1",
            format!("{max_trials} trials, {epochs} epochs"),
        ));
    }
    let mut rng = seeded_rng(seed);
    let mut trials = Vec::with_capacity(max_trials);
    let mut failures = Failures::new("random_search");
    for id in 0..max_trials {
        let hp = space.sample(&mut rng);
        let outcome = build(&hp).and_then(|mut model| train(&mut model, epochs));
        let (val_loss, error) = failures.record(id, &hp, outcome, &trials)?;
        trials.push(Trial {
            id,
            hyperparameters: hp,
            epochs,
            val_loss: val_loss.unwrap_or(f32::NAN),
            bracket: None,
            round: None,
            continues: None,
            error,
        });
    }
    Ok(SearchResult { trials })
}

/// One round of a bracket: how many trials, trained to how many epochs in total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Number of configurations trained in this round.
    pub size: usize,
    /// Epochs each has been trained for by the end of the round.
    pub epochs: usize,
}

/// Keras Tuner's Hyperband schedule: brackets from the most exploratory (many trials, 1 epoch) to
/// plain random search (few trials, `max_epochs`), each a list of rounds of successive halving.
///
/// `size(b, r) = ceil(ceil(1 + log_f(max_epochs)) / (b + 1) · f^(b − r))` and
/// `epochs(b, r) = ceil(max_epochs / f^(b − r))`. The logarithm is taken exactly when it is an
/// integer (Python's `math.log(27, 3)` is 3.0000000000000004, which would turn 27 trials into 34).
pub fn hyperband_schedule(
    max_epochs: usize,
    factor: usize,
    min_epochs: usize,
) -> Result<Vec<Vec<Round>>> {
    if factor < 2 || min_epochs == 0 || max_epochs < min_epochs {
        return Err(LstmError::config(
            "hyperband",
            "factor >= 2 and 1 <= min_epochs <= max_epochs",
            format!("factor {factor}, min_epochs {min_epochs}, max_epochs {max_epochs}"),
        ));
    }
    let (max, f) = (max_epochs as f64, factor as f64);
    let mut brackets = 0;
    let mut e = max;
    while e >= min_epochs as f64 {
        e /= f;
        brackets += 1;
    }
    let log = max.ln() / f.ln();
    let log = if (log - log.round()).abs() < 1e-9 {
        log.round()
    } else {
        log
    };
    let end_size = (1.0 + log).ceil();
    Ok((0..brackets)
        .rev()
        .map(|b| {
            (0..=b)
                .map(|r| Round {
                    size: (end_size / (b + 1) as f64 * f.powi(b - r)).ceil() as usize,
                    epochs: (max / f.powi(b - r)).ceil() as usize,
                })
                .collect()
        })
        .collect())
}

/// Hyperband: for each bracket, train `size` random configurations for the first round's epochs,
/// then keep the best `size` of each round and continue training them to the next round's epochs.
pub fn hyperband(
    space: &SearchSpace,
    max_epochs: usize,
    factor: usize,
    seed: u64,
    mut build: impl FnMut(&HyperParameters) -> Result<Sequential>,
    mut train: impl FnMut(&mut Sequential, usize) -> Result<f32>,
) -> Result<SearchResult> {
    space.validate()?;
    let schedule = hyperband_schedule(max_epochs, factor, 1)?;
    let mut rng = seeded_rng(seed);
    let mut trials: Vec<Trial> = vec![];
    let mut failures = Failures::new("hyperband");
    let brackets = schedule.len();
    for (k, rounds) in schedule.iter().enumerate() {
        let bracket = brackets - 1 - k;
        // (trial id, model) of the current round.
        let mut alive: Vec<(usize, Sequential)> = vec![];
        for (r, round) in rounds.iter().enumerate() {
            if r == 0 {
                for _ in 0..round.size {
                    let hp = space.sample(&mut rng);
                    let id = trials.len();
                    let outcome = build(&hp).and_then(|mut model| {
                        train(&mut model, round.epochs).map(|loss| (model, loss))
                    });
                    let (trained, error) = failures.record(id, &hp, outcome, &trials)?;
                    let val_loss = trained.as_ref().map_or(f32::NAN, |t| t.1);
                    trials.push(Trial {
                        id,
                        hyperparameters: hp,
                        epochs: round.epochs,
                        val_loss,
                        bracket: Some(bracket),
                        round: Some(0),
                        continues: None,
                        error,
                    });
                    if let Some((model, _)) = trained {
                        alive.push((id, model));
                    }
                }
                continue;
            }
            alive.sort_by(|a, b| by_objective(trials[a.0].val_loss, trials[b.0].val_loss));
            alive.truncate(round.size);
            let previous_epochs = rounds[r - 1].epochs;
            let mut continued = Vec::with_capacity(alive.len());
            for (id, mut model) in alive {
                let new_id = trials.len();
                let hp = trials[id].hyperparameters;
                let outcome = train(&mut model, round.epochs - previous_epochs);
                let (val_loss, error) = failures.record(new_id, &hp, outcome, &trials)?;
                trials.push(Trial {
                    id: new_id,
                    hyperparameters: hp,
                    epochs: round.epochs,
                    val_loss: val_loss.unwrap_or(f32::NAN),
                    bracket: Some(bracket),
                    round: Some(r),
                    continues: Some(id),
                    error: error.clone(),
                });
                // A failed model is not promoted further.
                if error.is_none() {
                    continued.push((new_id, model));
                }
            }
            alive = continued;
        }
    }
    Ok(SearchResult { trials })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(schedule: &[Vec<Round>]) -> Vec<Vec<(usize, usize)>> {
        schedule
            .iter()
            .map(|b| b.iter().map(|r| (r.size, r.epochs)).collect())
            .collect()
    }

    #[test]
    fn keras_tuner_schedule_for_27_epochs_factor_3() {
        let s = hyperband_schedule(27, 3, 1).unwrap();
        assert_eq!(
            sizes(&s),
            vec![
                vec![(27, 1), (9, 3), (3, 9), (1, 27)],
                vec![(12, 3), (4, 9), (2, 27)],
                vec![(6, 9), (2, 27)],
                vec![(4, 27)],
            ]
        );
    }

    #[test]
    fn schedule_for_a_non_power() {
        // max 10, factor 3: brackets while 10, 3.33, 1.11 >= 1 → 3; end size ceil(1 + 2.096) = 4.
        let s = hyperband_schedule(10, 3, 1).unwrap();
        assert_eq!(
            sizes(&s),
            vec![
                vec![(12, 2), (4, 4), (2, 10)],
                vec![(6, 4), (2, 10)],
                vec![(4, 10)]
            ]
        );
        assert!(hyperband_schedule(10, 1, 1).is_err());
    }

    #[test]
    fn hyperband_promotes_the_best_and_continues_them() {
        let space = SearchSpace {
            units: vec![1, 2, 3, 4, 5, 6, 7, 8],
            layers: vec![1],
            dropout: (0.0, 0.0),
            learning_rate: (1e-3, 1e-3),
        };
        let build = |hp: &HyperParameters| {
            let mut m = Sequential::new(&[1, 1]);
            m.add(crate::Dense::new(hp.units))?;
            Ok(m)
        };
        // A fake objective: fewer units is better, and so is more training.
        let train = |m: &mut Sequential, epochs: usize| {
            Ok(m.output_shape()[0] as f32 / (1.0 + epochs as f32))
        };
        let result = hyperband(&space, 9, 3, 5, build, train).unwrap();
        let s = hyperband_schedule(9, 3, 1).unwrap();
        assert_eq!(
            sizes(&s),
            vec![
                vec![(9, 1), (3, 3), (1, 9)],
                vec![(5, 3), (2, 9)],
                vec![(3, 9)]
            ]
        );
        assert_eq!(result.trials.len(), 9 + 3 + 1 + 5 + 2 + 3);
        for t in result.trials.iter().filter(|t| t.continues.is_some()) {
            let parent = &result.trials[t.continues.unwrap()];
            assert_eq!(parent.hyperparameters, t.hyperparameters);
            assert_eq!(
                (parent.bracket, parent.round.unwrap() + 1),
                (t.bracket, t.round.unwrap())
            );
            // Promoted trials were the best of their round.
            let round: Vec<_> = result
                .trials
                .iter()
                .filter(|o| o.bracket == parent.bracket && o.round == parent.round)
                .collect();
            let better = round
                .iter()
                .filter(|o| o.val_loss < parent.val_loss)
                .count();
            assert!(better < s[2 - parent.bracket.unwrap()][t.round.unwrap()].size);
        }
        // Budget: 9·1 + 3·2 + 1·6, 5·3 + 2·6, 3·9.
        assert_eq!(result.total_epochs(), 9 + 6 + 6 + 15 + 12 + 27);
        let lowest = result
            .trials
            .iter()
            .map(|t| t.val_loss)
            .fold(f32::INFINITY, f32::min);
        assert_eq!(result.best().unwrap().val_loss, lowest);
    }

    #[test]
    fn sampling_stays_in_the_space_and_learning_rate_is_log_uniform() {
        let space = SearchSpace {
            units: vec![8, 16],
            layers: vec![1, 2, 3],
            dropout: (0.0, 0.5),
            learning_rate: (1e-4, 1e-1),
        };
        let mut rng = seeded_rng(0);
        let draws: Vec<_> = (0..2000).map(|_| space.sample(&mut rng)).collect();
        assert!(
            draws
                .iter()
                .all(|h| [8, 16].contains(&h.units) && (0.0..=0.5).contains(&h.dropout))
        );
        for layers in 1..=3 {
            let share = draws.iter().filter(|h| h.layers == layers).count() as f32 / 2000.0;
            assert!((share - 1.0 / 3.0).abs() < 0.04, "{layers} layers: {share}");
        }
        let no_layers = SearchSpace {
            layers: vec![],
            ..space.clone()
        };
        assert!(
            random_search(
                &no_layers,
                1,
                1,
                0,
                |_| unreachable!(),
                |_, _| unreachable!()
            )
            .is_err()
        );
        let h = HyperParameters {
            units: 32,
            layers: 2,
            dropout: 0.125,
            learning_rate: 0.0042,
        };
        assert_eq!(
            h.to_string(),
            "2 × LSTM(32), dropout 0.12, learning rate 4.2e-3"
        );
        // Log-uniform over 3 decades: about a third below 1e-3.
        let below = draws.iter().filter(|h| h.learning_rate < 1e-3).count() as f32 / 2000.0;
        assert!((below - 1.0 / 3.0).abs() < 0.04, "{below}");
        let bad = SearchSpace {
            learning_rate: (0.0, 1.0),
            ..space
        };
        assert!(random_search(&bad, 1, 1, 0, |_| unreachable!(), |_, _| unreachable!()).is_err());
    }
}
