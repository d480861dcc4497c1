use lstm_core::prelude::*;
use lstm_core::text::{self, Encoding, Vocabulary};
fn build(seed: u64, v: usize) -> lstm_core::Result<Sequential> {
    let mut m = Sequential::with_seed(&[10, v], seed);
    m.add(Lstm::new(128))?;
    m.add(Dense::new(v).activation(Activation::Softmax))?;
    m.compile(Adam::default(), Loss::CategoricalCrossentropy)?;
    Ok(m)
}
fn main() -> lstm_core::Result<()> {
    let sentence = "Hello, world! This is a simple example of text generation using LSTM.";
    let vocab = Vocabulary::from_text(sentence)?;
    let d = text::sequences(sentence, &vocab, 10, Encoding::OneHot)?;
    let v = vocab.len();
    for seed in 0..3u64 {
        let mut m = build(seed, v)?;
        let h = m.fit(&d.x, &d.y_one_hot, &FitConfig::new().epochs(100).verbose(0))?;
        let e = m.evaluate(&d.x, &d.y_one_hot)?.loss;
        let curve = h.series("loss").unwrap();
        println!(
            "seed {seed} shuffle: final {:?} evaluate {e} | epochs 10,50,90: {} {} {}",
            h.final_loss(),
            curve[9],
            curve[49],
            curve[89]
        );
        let mut m = build(seed, v)?;
        let h = m.fit(
            &d.x,
            &d.y_one_hot,
            &FitConfig::new().epochs(100).batch_size(59).verbose(0),
        )?;
        println!("seed {seed} full batch shuffle: {:?}", h.final_loss());
        let mut m = build(seed, v)?;
        let h = m.fit(
            &d.x,
            &d.y_one_hot,
            &FitConfig::new()
                .epochs(100)
                .batch_size(59)
                .shuffle(false)
                .verbose(0),
        )?;
        println!("seed {seed} full batch no shuffle: {:?}", h.final_loss());
    }
    Ok(())
}
