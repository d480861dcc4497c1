//! The "Why LSTM" experiment from the command line: `cargo run --release --example why_lstm [epochs] [budget] distances...`.
use lstm_core::support::memory::{RecallConfig, recall_experiment};

fn main() -> lstm_core::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut config = RecallConfig::default();
    if let Some(e) = args.first() {
        config.epochs = e.parse().unwrap();
    }
    if let Some(b) = args.get(1) {
        config.budget = b.parse().unwrap();
    }
    if let Some(s) = args.get(2) {
        config.seed = s.parse().unwrap();
    }
    if let Ok(lr) = std::env::var("LR") {
        config.learning_rate = lr.parse().unwrap();
    }
    if let Ok(n) = std::env::var("N") {
        config.train_samples = n.parse().unwrap();
    }
    if let Ok(b) = std::env::var("BATCH") {
        config.batch_size = b.parse().unwrap();
    }
    let distances: Vec<usize> = if args.len() > 3 {
        args[3..].iter().map(|d| d.parse().unwrap()).collect()
    } else {
        vec![5, 10, 20, 40, 80]
    };
    let started = std::time::Instant::now();
    recall_experiment(&distances, &[config.seed], &config)?;
    println!("total {:.1} s", started.elapsed().as_secs_f32());
    Ok(())
}
