//! Character-level text: a vocabulary, training windows in two encodings, and generation by
//! greedy choice or by sampling with a temperature.

use ndarray::{Array1, Array2, Array3};
use ndarray_rand::rand::Rng as _;

use crate::check::batch_shape;
use crate::error::{LstmError, Result};
use crate::math::init::seeded_rng;
use crate::training::model::Sequential;

/// The characters of a text, sorted (as Python's `sorted(set(text))`), each with an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vocabulary {
    chars: Vec<char>,
}

/// How a character is fed to the LSTM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// The tutorial's way: the character's index as one number. It makes unrelated characters
    /// look close ('d' = 3 sits between 'c' and 'e') and squeezes them into one feature.
    RawIndex,
    /// One feature per character, 1 for the character and 0 elsewhere: no false ordering.
    OneHot,
}

impl Vocabulary {
    /// The sorted distinct characters of `text`: at least two, or there is nothing to predict.
    pub fn from_text(text: &str) -> Result<Self> {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        if chars.len() < 2 {
            return Err(LstmError::config(
                "Vocabulary::from_text",
                "a text of at least 2 distinct characters (with one, the next character is \
                 always that one: nothing to learn, and a softmax over one class)",
                match chars.first() {
                    None => "an empty text".to_string(),
                    Some(c) => format!(
                        "a text of {} character(s), all {c:?}: a vocabulary of 1 character",
                        text.chars().count()
                    ),
                },
            ));
        }
        Ok(Vocabulary { chars })
    }

    /// Number of distinct characters.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// Never true for a vocabulary built by `from_text`.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The characters, sorted; a character's index is its position here.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// The index of `c`, if it is in the vocabulary.
    pub fn index_of(&self, c: char) -> Option<usize> {
        self.chars.binary_search(&c).ok()
    }

    /// Indices of every character; an unknown character is an error naming it and its position.
    pub fn encode(&self, text: &str) -> Result<Vec<usize>> {
        text.chars()
            .enumerate()
            .map(|(pos, c)| {
                self.index_of(c).ok_or_else(|| {
                    LstmError::config(
                        "character",
                        format!("one of the {} in the vocabulary", self.len()),
                        format!("{c:?} at position {pos}"),
                    )
                })
            })
            .collect()
    }

    /// The characters of `indices`; an index outside the vocabulary is an error naming it.
    pub fn decode(&self, indices: &[usize]) -> Result<String> {
        indices
            .iter()
            .enumerate()
            .map(|(pos, &i)| {
                self.chars
                    .get(i)
                    .copied()
                    .ok_or_else(|| self.bad_index(i, pos))
            })
            .collect()
    }

    fn bad_index(&self, index: usize, pos: usize) -> LstmError {
        LstmError::config(
            "character index",
            format!("an index in 0..{} (the vocabulary's size)", self.len()),
            format!("{index} at position {pos}"),
        )
    }

    /// The number of input features each encoding gives.
    pub fn features(&self, encoding: Encoding) -> usize {
        match encoding {
            Encoding::RawIndex => 1,
            Encoding::OneHot => self.len(),
        }
    }

    /// One sequence of indices as LSTM input `[timesteps, features]`; an index outside the
    /// vocabulary is an error naming it.
    pub fn encode_input(&self, indices: &[usize], encoding: Encoding) -> Result<Array2<f32>> {
        if let Some(pos) = indices.iter().position(|&i| i >= self.len()) {
            return Err(self.bad_index(indices[pos], pos));
        }
        Ok(match encoding {
            Encoding::RawIndex => {
                Array2::from_shape_fn((indices.len(), 1), |(t, _)| indices[t] as f32)
            }
            Encoding::OneHot => Array2::from_shape_fn((indices.len(), self.len()), |(t, k)| {
                (indices[t] == k) as u8 as f32
            }),
        })
    }
}

/// Training pairs cut from a text: `seq_len` characters → the next one.
#[derive(Debug, Clone, PartialEq)]
pub struct TextData {
    /// `[samples, seq_len, features]`
    pub x: Array3<f32>,
    /// The next character's index, `[samples]` (for sparse categorical cross-entropy).
    pub y_index: Array1<f32>,
    /// The next character one-hot, `[samples, vocabulary]` (for categorical cross-entropy).
    pub y_one_hot: Array2<f32>,
}

/// Every window of `seq_len` characters and the character after it.
pub fn sequences(
    text: &str,
    vocab: &Vocabulary,
    seq_len: usize,
    encoding: Encoding,
) -> Result<TextData> {
    let indices = vocab.encode(text)?;
    if seq_len == 0 {
        return Err(LstmError::config("seq_len", "at least 1", 0));
    }
    if seq_len >= indices.len() {
        return Err(LstmError::WindowTooLong {
            n_steps: seq_len,
            needed: seq_len + 1,
            len: indices.len(),
        });
    }
    let samples = indices.len() - seq_len;
    let features = vocab.features(encoding);
    let mut x = Array3::zeros((samples, seq_len, features));
    for k in 0..samples {
        x.index_axis_mut(ndarray::Axis(0), k)
            .assign(&vocab.encode_input(&indices[k..k + seq_len], encoding)?);
    }
    let next = &indices[seq_len..];
    Ok(TextData {
        x,
        y_index: next.iter().map(|&i| i as f32).collect(),
        y_one_hot: Array2::from_shape_fn((samples, vocab.len()), |(k, c)| {
            (next[k] == c) as u8 as f32
        }),
    })
}

/// Picks a class from probabilities reshaped by a temperature: `p_i^(1/T)`, renormalised.
/// Low temperatures sharpen towards the most likely class (T = 0 is the greedy argmax); high
/// temperatures flatten towards uniform.
pub fn sample_with_temperature(
    probs: &[f32],
    temperature: f32,
    rng: &mut crate::math::init::Rng,
) -> Result<usize> {
    if probs.is_empty()
        || probs.iter().any(|p| !p.is_finite() || *p < 0.0)
        || probs.iter().all(|p| *p == 0.0)
    {
        let bad = probs
            .iter()
            .position(|p| !p.is_finite() || *p < 0.0)
            .map_or("all zero".to_string(), |k| {
                format!("{} at class {k}", probs[k])
            });
        return Err(LstmError::config(
            "probabilities",
            "non-negative finite numbers, not all zero: the output of a softmax (end the model \
             with Dense::new(vocabulary size).activation(Activation::Softmax))",
            format!("{} values, {bad}", probs.len()),
        ));
    }
    if !(temperature >= 0.0 && temperature.is_finite()) {
        return Err(LstmError::config(
            "temperature",
            "a finite number >= 0",
            temperature,
        ));
    }
    let argmax = probs
        .iter()
        .enumerate()
        .fold(0, |best, (k, &p)| if p > probs[best] { k } else { best });
    if temperature == 0.0 {
        return Ok(argmax);
    }
    // In log space, so small temperatures do not underflow.
    let logits: Vec<f64> = probs
        .iter()
        .map(|&p| (p as f64).max(1e-30).ln() / temperature as f64)
        .collect();
    let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
    let total: f64 = weights.iter().sum();
    let mut draw = rng.random::<f64>() * total;
    for (k, w) in weights.iter().enumerate() {
        draw -= w;
        if draw <= 0.0 {
            return Ok(k);
        }
    }
    Ok(argmax)
}

/// Generates `length` characters after `start` with a trained character model (input
/// `[seq_len, features]`, softmax output over the vocabulary). Temperature 0 is greedy.
pub fn generate(
    model: &mut Sequential,
    vocab: &Vocabulary,
    encoding: Encoding,
    start: &str,
    length: usize,
    temperature: f32,
    seed: u64,
) -> Result<String> {
    let [seq_len, features] = model.input_shape()[..] else {
        return Err(LstmError::shape(
            "generate: model input",
            "(None, seq_len, features)",
            batch_shape(model.input_shape()),
        ));
    };
    if features != vocab.features(encoding) || model.output_shape() != [vocab.len()] {
        return Err(LstmError::shape(
            "generate: model for this vocabulary and encoding",
            format!(
                "input (None, {seq_len}, {}) and output (None, {})",
                vocab.features(encoding),
                vocab.len()
            ),
            format!(
                "input (None, {seq_len}, {features}) and output {}",
                batch_shape(&model.output_shape())
            ),
        ));
    }
    let mut window = vocab.encode(start)?;
    if window.len() < seq_len {
        return Err(LstmError::config(
            "generate: start",
            format!("at least {seq_len} characters (the model reads {seq_len} at a time)"),
            format!("{} characters: {start:?}", window.len()),
        ));
    }
    window.drain(..window.len() - seq_len);
    let mut rng = seeded_rng(seed);
    let mut out = Vec::with_capacity(length);
    for _ in 0..length {
        let x = vocab
            .encode_input(&window, encoding)?
            .insert_axis(ndarray::Axis(0));
        let probs = model.predict(&x)?;
        let next = sample_with_temperature(
            probs.as_slice().expect("fresh array"),
            temperature,
            &mut rng,
        )?;
        out.push(next);
        window.remove(0);
        window.push(next);
    }
    vocab.decode(&out)
}

/// Bits per character of a character n-gram model on `held_out`, trained on `train`: the
/// baseline a character-level network must beat. `context` is the number of preceding
/// characters the model conditions on (0: character frequencies alone; 2: trigrams). Counts are
/// add-one smoothed over `vocab`, so unseen combinations keep a small probability.
pub fn ngram_bits_per_char(
    vocab: &Vocabulary,
    train: &str,
    held_out: &str,
    context: usize,
) -> Result<f32> {
    let train = vocab.encode(train)?;
    let test = vocab.encode(held_out)?;
    if test.len() <= context || train.len() <= context {
        return Err(LstmError::config(
            "ngram_bits_per_char",
            format!("texts longer than the context ({context} characters)"),
            format!(
                "{} training and {} held-out characters",
                train.len(),
                test.len()
            ),
        ));
    }
    let mut counts: std::collections::HashMap<&[usize], Vec<u32>> =
        std::collections::HashMap::new();
    for w in train.windows(context + 1) {
        counts
            .entry(&w[..context])
            .or_insert_with(|| vec![0; vocab.len()])[w[context]] += 1;
    }
    let bits: f64 = test
        .windows(context + 1)
        .map(|w| {
            let (seen, total) = counts
                .get(&w[..context])
                .map_or((0, 0), |c| (c[w[context]], c.iter().sum::<u32>()));
            -(((seen + 1) as f64) / ((total as usize + vocab.len()) as f64)).log2()
        })
        .sum();
    Ok((bits / (test.len() - context) as f64) as f32)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ngram_bits_by_hand() {
        let vocab = super::Vocabulary::from_text("ab").unwrap();
        // Frequencies: a 3, b 1 in training → p(a) = 4/6, p(b) = 2/6 with add-one smoothing.
        let bits = super::ngram_bits_per_char(&vocab, "aaab", "ab", 0).unwrap();
        let want = (-(4.0f64 / 6.0).log2() - (2.0f64 / 6.0).log2()) / 2.0;
        assert!((bits as f64 - want).abs() < 1e-6, "{bits} vs {want}");
        // Bigrams: after 'a' training saw a, a, b → p(b | a) = 2/5.
        let bits = super::ngram_bits_per_char(&vocab, "aaab", "ab", 1).unwrap();
        assert!((bits as f64 + (2.0f64 / 5.0).log2()).abs() < 1e-6);
        assert!(super::ngram_bits_per_char(&vocab, "aaab", "a", 1).is_err());
        assert!(super::ngram_bits_per_char(&vocab, "aaab", "abc", 0).is_err());
    }

    use super::*;

    #[test]
    fn vocabulary_is_sorted_and_round_trips() {
        let v = Vocabulary::from_text("hello world").unwrap();
        assert_eq!(v.chars(), &[' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w']);
        assert_eq!(v.decode(&v.encode("lower").unwrap()).unwrap(), "lower");
        let err = v.encode("hex").unwrap_err();
        assert!(err.to_string().contains("'x' at position 2"), "{err}");
        // Indices outside the vocabulary used to be dropped (decode) or encoded as zeros.
        let err = v.decode(&[0, 8]).unwrap_err();
        assert!(
            err.to_string()
                .contains("0..8 (the vocabulary's size), got 8 at position 1"),
            "{err}"
        );
        assert!(v.encode_input(&[9], Encoding::OneHot).is_err());
        assert!(v.encode_input(&[9], Encoding::RawIndex).is_err());
    }

    #[test]
    fn sequences_in_both_encodings() {
        let v = Vocabulary::from_text("abcab").unwrap();
        let raw = sequences("abcab", &v, 2, Encoding::RawIndex).unwrap();
        assert_eq!(raw.x.shape(), &[3, 2, 1]);
        assert_eq!(raw.x[[1, 0, 0]], 1.0); // 'b'
        assert_eq!(raw.y_index.to_vec(), vec![2.0, 0.0, 1.0]);
        let hot = sequences("abcab", &v, 2, Encoding::OneHot).unwrap();
        assert_eq!(hot.x.shape(), &[3, 2, 3]);
        assert_eq!(
            hot.x.slice(ndarray::s![1, 0, ..]).to_vec(),
            vec![0.0, 1.0, 0.0]
        );
        assert_eq!(hot.y_one_hot.row(0).to_vec(), vec![0.0, 0.0, 1.0]);
        assert!(matches!(
            sequences("abc", &v, 3, Encoding::OneHot),
            Err(LstmError::WindowTooLong { .. })
        ));
    }

    #[test]
    fn temperature_sharpens_and_flattens() {
        let probs = [0.1f32, 0.6, 0.3];
        let mut rng = seeded_rng(1);
        assert_eq!(sample_with_temperature(&probs, 0.0, &mut rng).unwrap(), 1);
        let share_of_top = |t: f32| {
            let mut rng = seeded_rng(2);
            (0..4000)
                .filter(|_| sample_with_temperature(&probs, t, &mut rng).unwrap() == 1)
                .count() as f32
                / 4000.0
        };
        // Hand-computed: p_top^(1/T) / Σ p^(1/T).
        let expected =
            |t: f32| probs[1].powf(1.0 / t) / probs.iter().map(|p| p.powf(1.0 / t)).sum::<f32>();
        for t in [0.25f32, 1.0, 5.0] {
            let share = share_of_top(t);
            assert!(
                (share - expected(t)).abs() < 0.025,
                "T = {t}: {share} vs {}",
                expected(t)
            );
        }
        assert!(
            expected(0.25) > 0.94 && expected(5.0) < 0.4,
            "cold sharpens, hot flattens"
        );
        assert!(sample_with_temperature(&probs, -1.0, &mut rng).is_err());
        assert!(sample_with_temperature(&[f32::NAN], 1.0, &mut rng).is_err());
    }
}
