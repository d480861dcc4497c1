use lstm_core::plot::{self, Labels, Series};
fn main() -> lstm_core::Result<()> {
    let pts: Vec<(f32, f32)> = (1..=50).map(|e| (e as f32, 0.7 * (0.95f32).powi(e) + 0.012)).collect();
    let f = plot::line_chart(&Labels { title: "t", x: "epoch", y: "loss" }, &[Series::line("a", pts, plot::TRAIN)], true)?;
    std::fs::write("/tmp/plt/a.svg", f.svg()).unwrap();
    Ok(())
}
