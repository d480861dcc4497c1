//! Writes `data/city_temperature.csv`, the messy example CSV of notebook 08 (see `data/README.md`).
//! `cargo run -p lstm-core --features polars --example make_example_csv`

fn main() -> lstm_core::Result<()> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/city_temperature.csv");
    lstm_core::support::weather::write_example_csv(&path, 7)?;
    println!("wrote {}", path.display());
    Ok(())
}
