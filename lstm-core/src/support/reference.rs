//! Keras' results on the tutorial's tasks, for the notebooks to compare with instead of typing
//! numbers in. `make keras-reference` writes them to `data/keras_reference.json`: the tutorial's
//! Keras models trained on the notebooks' own data and splits, one run per seed, with the
//! versions and the machine that produced them.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{LstmError, Result};
use crate::support::baselines::Spread;

/// One task: what was run, and one record per seed (`seed` and the task's metrics).
#[derive(Debug, Clone, Deserialize)]
pub struct Task {
    /// The task, model and protocol, in words.
    pub what: String,
    /// One record per seed, in seed order.
    pub runs: Vec<BTreeMap<String, Value>>,
}

/// The processor the reference ran on.
#[derive(Debug, Clone, Deserialize)]
pub struct Machine {
    /// The processor's model name.
    pub processor: String,
    /// Logical cores.
    pub cores: usize,
}

/// The contents of a reference file (see the module's documentation).
#[derive(Debug, Clone, Deserialize)]
pub struct KerasReference {
    /// Python, TensorFlow, Keras and NumPy versions, and how TensorFlow was configured.
    pub versions: BTreeMap<String, Value>,
    /// Where it ran.
    pub machine: Machine,
    /// The tasks by name.
    pub tasks: BTreeMap<String, Task>,
}

impl KerasReference {
    /// Reads a reference file, checking that every task has runs and every run a seed.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| LstmError::Io {
            path: shown.clone(),
            message: format!("{e} (`make keras-reference` writes it)"),
        })?;
        let reference: KerasReference =
            serde_json::from_str(&text).map_err(|e| LstmError::Parse {
                context: shown.clone(),
                message: format!("not a Keras reference file ({e})"),
            })?;
        for (name, task) in &reference.tasks {
            let seedless = task.runs.iter().position(|r| !r.contains_key("seed"));
            if task.runs.is_empty() || seedless.is_some() {
                return Err(LstmError::Parse {
                    context: format!("{shown}: task {name}"),
                    message: match seedless {
                        Some(k) => format!("run {k} has no seed"),
                        None => "no runs".into(),
                    },
                });
            }
        }
        Ok(reference)
    }

    /// The task called `name`; the error lists the tasks there are.
    pub fn task(&self, name: &str) -> Result<&Task> {
        self.tasks.get(name).ok_or_else(|| LstmError::Config {
            param: "task".into(),
            expected: format!(
                "one of {}",
                self.tasks.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
            got: format!("{name:?}"),
        })
    }

    /// The seeds of a task's runs, in order.
    pub fn seeds(&self, task: &str) -> Result<Vec<u64>> {
        self.numbers(task, "seed", None)
            .map(|v| v.into_iter().map(|s| s as u64).collect())
    }

    /// A metric of every run of a task (e.g. `("weather", "test_mse")`), in seed order.
    pub fn values(&self, task: &str, metric: &str) -> Result<Vec<f32>> {
        self.numbers(task, metric, None)
            .map(|v| v.into_iter().map(|x| x as f32).collect())
    }

    /// Element `index` of a list-valued metric (e.g. the sum model's `probe` answers), per run.
    pub fn element(&self, task: &str, metric: &str, index: usize) -> Result<Vec<f32>> {
        self.numbers(task, metric, Some(index))
            .map(|v| v.into_iter().map(|x| x as f32).collect())
    }

    /// Mean, median, min and max of a metric over the task's runs.
    pub fn spread(&self, task: &str, metric: &str) -> Result<Spread> {
        Spread::of(&self.values(task, metric)?)
    }

    /// The metric of the run with this seed.
    pub fn value(&self, task: &str, metric: &str, seed: u64) -> Result<f32> {
        let seeds = self.seeds(task)?;
        let k = seeds
            .iter()
            .position(|&s| s == seed)
            .ok_or_else(|| LstmError::Config {
                param: format!("{task} seed"),
                expected: format!("one of {seeds:?}"),
                got: seed.to_string(),
            })?;
        Ok(self.values(task, metric)?[k])
    }

    /// `"Keras 3.15.1 (TensorFlow 2.21.0) on <processor>, N cores"`.
    pub fn describe(&self) -> String {
        let version = |k: &str| {
            self.versions
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string()
        };
        format!(
            "Keras {} (TensorFlow {}) on {}, {} cores",
            version("keras"),
            version("tensorflow"),
            self.machine.processor,
            self.machine.cores
        )
    }

    fn numbers(&self, task: &str, metric: &str, index: Option<usize>) -> Result<Vec<f64>> {
        let runs = &self.task(task)?.runs;
        runs.iter()
            .enumerate()
            .map(|(k, run)| {
                let field = run.get(metric).ok_or_else(|| LstmError::Config {
                    param: format!("{task} metric"),
                    expected: format!(
                        "one of {}",
                        run.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                    got: format!("{metric:?}"),
                })?;
                let value = match index {
                    Some(i) => field.get(i),
                    None => Some(field),
                };
                value
                    .and_then(Value::as_f64)
                    .ok_or_else(|| LstmError::Parse {
                        context: format!("{task}, run {k}, {metric}"),
                        message: match index {
                            Some(i) => format!("expected a list with a number at {i}, got {field}"),
                            None => format!("expected a number, got {field}"),
                        },
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join("lstm-core-reference-tests");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    const SMALL: &str = r#"{"generator": "test", "versions": {"keras": "3.15.1", "tensorflow": "2.21.0"},
        "machine": {"processor": "cpu", "cores": 2, "system": "Linux"},
        "tasks": {"sine": {"what": "w", "runs": [
            {"seed": 0, "test_mse": 0.5, "probe": [1.0, 2.0]},
            {"seed": 3, "test_mse": 0.25, "probe": [3.0, 4.0]}]}}}"#;

    #[test]
    fn reads_values_by_task_metric_and_seed() {
        let r = KerasReference::load(write("small.json", SMALL)).unwrap();
        assert_eq!(r.values("sine", "test_mse").unwrap(), vec![0.5, 0.25]);
        assert_eq!(r.seeds("sine").unwrap(), vec![0, 3]);
        assert_eq!(r.value("sine", "test_mse", 3).unwrap(), 0.25);
        assert_eq!(r.element("sine", "probe", 1).unwrap(), vec![2.0, 4.0]);
        let spread = r.spread("sine", "test_mse").unwrap();
        assert_eq!((spread.min, spread.max, spread.mean), (0.25, 0.5, 0.375));
        assert_eq!(
            r.describe(),
            "Keras 3.15.1 (TensorFlow 2.21.0) on cpu, 2 cores"
        );
    }

    #[test]
    fn unknown_names_list_what_there_is() {
        let r = KerasReference::load(write("small2.json", SMALL)).unwrap();
        let e = r.values("weather", "test_mse").unwrap_err().to_string();
        assert!(
            e.contains("one of sine") && e.contains("\"weather\""),
            "{e}"
        );
        let e = r.values("sine", "mae").unwrap_err().to_string();
        assert!(
            e.contains("probe, seed, test_mse") && e.contains("\"mae\""),
            "{e}"
        );
        let e = r.value("sine", "test_mse", 1).unwrap_err().to_string();
        assert!(e.contains("[0, 3]"), "{e}");
        let e = r.values("sine", "probe").unwrap_err().to_string();
        assert!(e.contains("expected a number"), "{e}");
    }

    #[test]
    fn refuses_files_that_are_not_references() {
        let e = KerasReference::load(write("bad.json", "{\"tasks\": 3}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a Keras reference file"), "{e}");
        let no_runs = SMALL.replace(
            r#"[
            {"seed": 0, "test_mse": 0.5, "probe": [1.0, 2.0]},
            {"seed": 3, "test_mse": 0.25, "probe": [3.0, 4.0]}]"#,
            "[]",
        );
        let e = KerasReference::load(write("empty.json", &no_runs))
            .unwrap_err()
            .to_string();
        assert!(e.contains("task sine: no runs"), "{e}");
        let e = KerasReference::load("/nonexistent/keras.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("make keras-reference"), "{e}");
    }

    #[test]
    fn the_committed_reference_has_every_task_the_notebooks_read() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/keras_reference.json");
        let r = KerasReference::load(path).unwrap();
        for (task, metric, seeds) in [
            ("next_number", "prediction", 5),
            ("sum_of_first_two", "held_out_mae", 10),
            ("noisy_sine_relu", "test_mse", 10),
            ("noisy_sine_tanh", "test_mse", 10),
            ("weather", "test_mse", 10),
            ("next_character_raw_index", "final_loss", 5),
            ("next_character_one_hot", "accuracy", 5),
        ] {
            let v = r.values(task, metric).unwrap();
            assert_eq!(v.len(), seeds, "{task}");
            assert!(v.iter().all(|x| x.is_finite()), "{task}");
            assert_eq!(r.values(task, "fit_seconds").unwrap().len(), seeds);
        }
    }
}
