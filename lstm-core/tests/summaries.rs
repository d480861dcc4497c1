//! `model.summary()` against Keras' own output for every model in `tests/reference/summaries.txt`.
//! Each model is rebuilt from its Keras rows (layer class and output shape), so a new entry in that
//! file is checked with no code change; the whole table must match character for character.

use lstm_core::prelude::*;

struct Entry {
    title: String,
    input_shape: Vec<usize>,
    count_params: usize,
    keras_text: String,
}

fn entries() -> Vec<Entry> {
    let text = include_str!("reference/summaries.txt");
    let mut out = vec![];
    for block in text.split("\n=== ").skip(1) {
        let title = block
            .lines()
            .next()
            .unwrap()
            .trim_end_matches(" ===")
            .to_string();
        let shape_line = block
            .lines()
            .find(|l| l.starts_with("input shape"))
            .unwrap();
        let dims = shape_line
            .rsplit('=')
            .next()
            .unwrap()
            .trim()
            .trim_matches(|c| c == '(' || c == ')');
        let input_shape = dims.split(',').map(|d| d.trim().parse().unwrap()).collect();
        let count_line = block
            .lines()
            .find(|l| l.starts_with("count_params()"))
            .unwrap();
        let count_params = count_line
            .split(['=', ';'])
            .nth(1)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let start = block.find("Model: ").unwrap();
        let end = block.find(" Non-trainable params").unwrap();
        let end = end + block[end..].find('\n').unwrap_or(block.len() - end);
        out.push(Entry {
            title,
            input_shape,
            count_params,
            keras_text: block[start..end].to_string(),
        });
    }
    out
}

/// `(None, 10, 64)` → `[10, 64]`.
fn parse_shape(cell: &str) -> Vec<usize> {
    cell.trim()
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .skip(1)
        .map(|d| d.trim().parse().unwrap())
        .collect()
}

/// Rebuilds the model from the rows of a Keras summary table.
fn rebuild(entry: &Entry) -> Sequential {
    let mut model = Sequential::new(&entry.input_shape);
    for line in entry.keras_text.lines().filter(|l| l.starts_with('│')) {
        let cells: Vec<&str> = line
            .split('│')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        let class = cells[0].split('(').nth(1).unwrap().trim_end_matches(')');
        let shape = parse_shape(cells[1]);
        let params: usize = cells[2].replace(',', "").parse().unwrap();
        let input = model.output_shape();
        let features = *input.last().unwrap();
        let last = *shape.last().unwrap();
        let sequences = shape.len() == 2;
        match class {
            "LSTM" => {
                let with_bias = 4 * last * (features + last + 1) == params;
                model
                    .add(
                        Lstm::new(last)
                            .return_sequences(sequences)
                            .use_bias(with_bias),
                    )
                    .unwrap();
            }
            "SimpleRNN" => {
                model
                    .add(SimpleRnn::new(last).return_sequences(sequences))
                    .unwrap();
            }
            "GRU" => {
                model
                    .add(Gru::new(last).return_sequences(sequences))
                    .unwrap();
            }
            "Bidirectional" => {
                // Keras' row does not name the wrapped layer: its parameter count does.
                let u = last / 2;
                let per_direction = params / 2;
                if per_direction == 4 * u * (features + u + 1) {
                    model
                        .add(Bidirectional::new(Lstm::new(u).return_sequences(sequences)))
                        .unwrap();
                } else if per_direction == 3 * u * (features + u + 2) {
                    model
                        .add(Bidirectional::new(Gru::new(u).return_sequences(sequences)))
                        .unwrap();
                } else {
                    assert_eq!(per_direction, u * (features + u + 1), "{}", entry.title);
                    model
                        .add(Bidirectional::new(
                            SimpleRnn::new(u).return_sequences(sequences),
                        ))
                        .unwrap();
                }
            }
            "Dense" => {
                let with_bias = features * last + last == params;
                model.add(Dense::new(last).use_bias(with_bias)).unwrap();
            }
            other => panic!(
                "{}: layer class {other} not handled by this test",
                entry.title
            ),
        }
    }
    model
}

#[test]
fn every_reference_summary_matches_keras_exactly() {
    let entries = entries();
    assert!(entries.len() >= 17, "found {} summaries", entries.len());
    for entry in &entries {
        let model = rebuild(entry);
        assert_eq!(model.count_params(), entry.count_params, "{}", entry.title);
        let ours = model.summary().to_string();
        assert_eq!(
            ours, entry.keras_text,
            "{}\n--- ours:\n{ours}\n--- keras:\n{}",
            entry.title, entry.keras_text
        );
    }
}

#[test]
fn the_tutorials_parameter_counts() {
    let count = |layers: Vec<Box<dyn Layer>>, input: &[usize]| {
        let mut model = Sequential::new(input);
        for layer in layers {
            model.add_boxed(layer).unwrap();
        }
        model.count_params()
    };
    // 4·u·(d + u + 1) per LSTM: LSTM(5) on one feature has 140, Dense(1) adds 6.
    assert_eq!(
        count(
            vec![Box::new(Lstm::new(5)), Box::new(Dense::new(1))],
            &[3, 1]
        ),
        146
    );
    // The tutorial's "125" only holds without any bias.
    assert_eq!(
        count(
            vec![
                Box::new(Lstm::new(5).use_bias(false)),
                Box::new(Dense::new(1).use_bias(false))
            ],
            &[3, 1]
        ),
        125
    );
    assert_eq!(count(vec![Box::new(Lstm::new(5))], &[3, 4]), 200);
    // u·(d + u + 1) for SimpleRNN, 3·u·(d + u + 2) for GRU (two bias rows).
    assert_eq!(
        count(
            vec![Box::new(SimpleRnn::new(50)), Box::new(Dense::new(1))],
            &[10, 1]
        ),
        2_651
    );
    assert_eq!(
        count(
            vec![Box::new(Gru::new(50)), Box::new(Dense::new(1))],
            &[10, 1]
        ),
        8_001
    );
    let gru_stack: Vec<Box<dyn Layer>> = vec![
        Box::new(Gru::new(64).return_sequences(true)),
        Box::new(Gru::new(32)),
        Box::new(Dense::new(1)),
    ];
    assert_eq!(count(gru_stack, &[30, 1]), 22_305);
    let bidirectional_gru: Vec<Box<dyn Layer>> = vec![
        Box::new(Bidirectional::new(Gru::new(32))),
        Box::new(Dense::new(1)),
    ];
    assert_eq!(count(bidirectional_gru, &[20, 4]), 7_361);
    let bidirectional_stack: Vec<Box<dyn Layer>> = vec![
        Box::new(Bidirectional::new(Lstm::new(64).return_sequences(true))),
        Box::new(Bidirectional::new(Lstm::new(32))),
        Box::new(Dense::new(1)),
    ];
    assert_eq!(count(bidirectional_stack, &[10, 1]), 75_073);
    let time_distributed: Vec<Box<dyn Layer>> = vec![
        Box::new(Lstm::new(8).return_sequences(true)),
        Box::new(TimeDistributed::new(Dense::new(2))),
    ];
    assert_eq!(
        count(time_distributed, &[5, 1]),
        4 * 8 * (1 + 8 + 1) + 8 * 2 + 2
    );
}
