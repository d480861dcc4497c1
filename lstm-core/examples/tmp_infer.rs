use lstm_core::prelude::*;
use std::time::Instant;
fn main() -> lstm_core::Result<()> {
    let h: usize = std::env::args().nth(1).map_or(128, |s| s.parse().unwrap());
    let mut m = Sequential::with_seed(&[30, 1], 1);
    m.add(Lstm::new(h))?;
    m.add(Dense::new(1))?;
    m.compile(Adam::default(), Loss::MeanSquaredError)?;
    let w = Array3::from_shape_fn((10_000, 30, 1), |(b, t, _)| {
        ((b * 7 + t) % 13) as f32 / 13.0
    });
    for _ in 0..8 {
        let s = Instant::now();
        m.predict(&w)?;
        println!("{:.0}/s", 10_000.0 / s.elapsed().as_secs_f64());
    }
    Ok(())
}
