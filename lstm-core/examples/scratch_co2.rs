use lstm_core::prelude::*;
use lstm_core::baselines::*;
fn main() -> lstm_core::Result<()> {
    let levels: Vec<f32> = std::fs::read_to_string("/tmp/sm/co2_filled.txt").unwrap().lines().map(|l| l.parse().unwrap()).collect();
    let n_steps: usize = std::env::var("T").map(|v| v.parse().unwrap()).unwrap_or(52);
    let units: usize = std::env::var("U").map(|v| v.parse().unwrap()).unwrap_or(32);
    let epochs: usize = std::env::var("E").map(|v| v.parse().unwrap()).unwrap_or(30);
    // level windows
    let (xl, yl) = data::prepare_data(&levels, n_steps)?;
    let xl = data::to_sequences(&xl, 1)?;
    let sl = data::chronological_split(&xl, &yl, 0.8)?;
    // difference windows, aligned: diff[k] = levels[k+1]-levels[k]; window of n_steps diffs ending at level index k+n_steps predicts level k+n_steps+1
    let diffs: Vec<f32> = levels.windows(2).map(|w| w[1] - w[0]).collect();
    let (xd, yd) = data::prepare_data(&diffs, n_steps)?;
    let xd = data::to_sequences(&xd, 1)?;
    let sd = data::chronological_split(&xd, &yd, 0.8)?;
    let mut sc = StandardScaler::new(); sc.fit(&sd.x_train)?;
    let mut m = Sequential::with_seed(&[n_steps, 1], 0);
    m.add(Lstm::new(units))?; m.add(Dense::new(1))?;
    m.compile(Adam::new(0.001), Loss::MeanSquaredError)?;
    let t = std::time::Instant::now();
    m.fit(&sc.transform(&sd.x_train)?, &sc.transform(&sd.y_train)?, &FitConfig::new().epochs(epochs).batch_size(32).validation_split(0.1).verbose(0))?;
    println!("fit {:?}", t.elapsed());
    let dpred = sc.inverse_transform(&m.predict(&sc.transform(&sd.x_test)?)?)?;
    // level before each diff target: diff target index j = k + n_steps in diffs → level target index j+1, previous level index j
    let test_levels_prev: Vec<f32> = sd.test_index.iter().map(|&k| levels[k + n_steps]).collect();
    let test_levels: Array1<f32> = sd.test_index.iter().map(|&k| levels[k + n_steps + 1]).collect();
    let lstm_levels: Array1<f32> = dpred.iter().zip(&test_levels_prev).map(|(d, p)| p + d).collect();
    // level-window model: LSTM on raw levels scaled
    let mut sc2 = MinMaxScaler::new(); sc2.fit(&sl.x_train)?;
    let mut m2 = Sequential::with_seed(&[n_steps, 1], 0);
    m2.add(Lstm::new(units))?; m2.add(Dense::new(1))?;
    m2.compile(Adam::new(0.001), Loss::MeanSquaredError)?;
    m2.fit(&sc2.transform(&sl.x_train)?, &sc2.transform(&sl.y_train)?, &FitConfig::new().epochs(epochs).batch_size(32).validation_split(0.1).verbose(0))?;
    let lp = sc2.inverse_transform(&m2.predict(&sc2.transform(&sl.x_test)?)?)?;
    // align: level windows target index k+n_steps; select those whose target index matches test_levels (diff split has one fewer window)
    let lvl_target: Vec<usize> = sl.test_index.iter().map(|&k| k + n_steps).collect();
    let dif_target: Vec<usize> = sd.test_index.iter().map(|&k| k + n_steps + 1).collect();
    println!("targets level {}..{} ({}), diff {}..{} ({})", lvl_target[0], lvl_target.last().unwrap(), lvl_target.len(), dif_target[0], dif_target.last().unwrap(), dif_target.len());
    let mut b = Scoreboard::new("co2 level split", "ppm", &sl.y_test)?;
    b.model("LSTM on levels", &lp.iter().copied().collect())?;
    b.standard_baselines(&sl.x_train, &sl.y_train, &sl.x_test, 0)?;
    // seasonal: y(t) = y(t-1) + (y(t-52) - y(t-53))
    if n_steps >= 53 {
        let s: Array1<f32> = (0..sl.x_test.shape()[0]).map(|k| sl.x_test[[k, n_steps-1, 0]] + sl.x_test[[k, n_steps-52, 0]] - sl.x_test[[k, n_steps-53, 0]]).collect();
        b.baseline("seasonal diff", &s)?;
    }
    println!("{b}");
    let mut b2 = Scoreboard::new("co2 diff split", "ppm", &test_levels)?;
    b2.model("LSTM on differences", &lstm_levels)?;
    b2.baseline("persistence", &Array1::from(test_levels_prev.clone()))?;
    println!("{b2}");
    let origins: Vec<usize> = (1839..=2284 - 52).step_by(13).collect();
    let lin = LinearForecast::fit(&sl.x_train, &sl.y_train)?;
    let p = backtest(&levels, &origins, 52, |h, n| Ok(vec![*h.last().unwrap(); n]))?;
    let sn = backtest(&levels, &origins, 52, |h, n| seasonal_naive(h, 52, n))?;
    let li = backtest(&levels, &origins, 52, |h, n| lin.forecast(h, n))?;
    let ls = backtest(&levels, &origins, 52, |h, n| data::forecast_from_differences(&mut m, &sc, h, n))?;
    println!("52-week backtest over {} origins: persistence {p:.3}, seasonal naive {sn:.3}, linear {li:.3}, LSTM diff {ls:.3}", origins.len());
    Ok(())
}
