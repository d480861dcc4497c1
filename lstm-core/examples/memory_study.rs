//! The memory experiment of notebook "Why LSTM", too long for a notebook: every layer trained to
//! a plateau at every distance, its learning rate chosen on validation data, five seeds, two
//! budgets, gates started closed and open. Writes the JSON file the notebook reads:
//!
//! ```sh
//! cargo run --release -p lstm-core --example memory_study -- data/memory_study.json
//! ```
//!
//! (`make memory-study` runs exactly that.) On one machine a re-run writes the same numbers, bit
//! for bit, but the times. `-- --costs FILE` only times one epoch of each layer again and writes
//! those times into FILE (run it on a quiet machine: the study's own runs share the machine with
//! whatever else runs).
use lstm_core::support::memory::study::{Study, StudyPlan, measure_costs, run_study};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, file] = args.as_slice()
        && flag == "--costs"
    {
        let result = Study::load(file).and_then(|mut study| {
            let middle = study.plan.distances[study.plan.distances.len() / 2];
            study.costs = measure_costs(&study.plan, middle)?;
            study.save(file)?;
            Ok(study)
        });
        match result {
            Ok(study) => {
                for c in &study.costs {
                    println!(
                        "{:9} {:4} parameters: {:.1} ms per epoch",
                        c.layer.name(),
                        c.budget,
                        1000.0 * c.seconds_per_epoch
                    );
                }
            }
            Err(e) => {
                eprintln!("memory study costs failed: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    let [out] = args.as_slice() else {
        eprintln!("usage: memory_study OUTPUT.json | memory_study --costs FILE.json");
        std::process::exit(2);
    };
    let command =
        "cargo run --release -p lstm-core --example memory_study -- data/memory_study.json";
    let plan = StudyPlan::default();
    let result = run_study(&plan, command, &mut |run| {
        let outcome = match (&run.diverged, run.test_accuracy) {
            (Some(_), _) => "diverged".to_string(),
            (None, Some(test)) => format!("test {:5.1}%", 100.0 * test),
            (None, None) => format!(
                "validation {:5.1}%",
                100.0 * run.best_val_accuracy().unwrap_or(f32::NAN)
            ),
        };
        println!(
            "{:<22} budget {:4}  distance {:3}  seed {}  lr {:<5}  {:2} epochs  {outcome}  {:.1} s",
            run.condition.label(),
            run.condition.budget,
            run.distance,
            run.seed,
            run.learning_rate,
            run.epochs(),
            run.seconds
        );
    })
    .and_then(|study| {
        study.save(out)?;
        Ok(study)
    });
    match result {
        Ok(study) => println!(
            "{} runs in {:.0} s, written to {out}",
            study.runs.len(),
            study.provenance.seconds
        ),
        Err(e) => {
            eprintln!("memory study failed: {e}");
            std::process::exit(1);
        }
    }
}
