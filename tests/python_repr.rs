//! `socket_lessons::old::python::repr` prints what Python's `repr` prints, checked
//! against Python itself on thousands of generated values: each is pickled by
//! serde-pickle (as lesson 5's server does), unpickled and printed by Python,
//! and printed by the Rust side.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::Stdio;

use serde_pickle::{DeOptions, HashableValue, SerOptions, Value};
use socket_lessons::old::python::repr;
use support::python3;

/// A small, seeded random number generator (xorshift64*): the same values on
/// every run.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Characters that exercise every rule of `repr(str)`: quotes, escapes,
/// controls, separators, format and private-use characters, and printable text
/// from outside ASCII.
const CHARACTERS: &[char] = &[
    'a',
    'Z',
    '0',
    ' ',
    '\'',
    '"',
    '\\',
    '\t',
    '\n',
    '\r',
    '\0',
    '\u{7}',
    '\u{1f}',
    '\u{7f}',
    '\u{80}',
    '\u{9f}',
    '\u{a0}',
    '\u{ad}',
    'é',
    'ß',
    '中',
    '\u{2028}',
    '\u{2029}',
    '\u{200b}',
    '\u{3000}',
    '\u{feff}',
    '\u{fffd}',
    '\u{e000}',
    '\u{1f600}',
    '\u{10ffff}',
];

fn text(random: &mut Random) -> String {
    (0..random.below(8)).map(|_| random.pick(CHARACTERS)).collect()
}

fn bytes(random: &mut Random) -> Vec<u8> {
    (0..random.below(8))
        .map(|_| {
            random.pick(&[
                0, 7, 9, 10, 13, 32, 34, 39, 65, 92, 126, 127, 128, 255,
            ])
        })
        .collect()
}

/// An integer beyond 64 bits, made the way Python pickles one (LONG1:
/// little-endian bytes).
fn big_integer(random: &mut Random) -> Value {
    let size = 9 + random.below(12);
    let mut pickle = vec![0x80, 2, 0x8a, size as u8];
    pickle.extend((0..size).map(|_| random.next() as u8));
    pickle.push(b'.');
    serde_pickle::value_from_slice(&pickle, DeOptions::new()).unwrap()
}

fn float(random: &mut Random) -> f64 {
    match random.below(4) {
        0 => random.pick(&[
            0.0,
            -0.0,
            1.0,
            0.1,
            1e16,
            1e15,
            1e-4,
            1e-5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ]),
        1 => random.below(2_000_000) as f64 / 1000.0 - 1000.0,
        _ => f64::from_bits(random.next()),
    }
}

/// Python prints sets in the order of their hashes; for integers below 8 in a
/// set of at most four, that is sorted order, which serde-pickle's sets keep.
fn small_integers(random: &mut Random) -> BTreeSet<HashableValue> {
    (0..random.below(5))
        .map(|_| HashableValue::I64(random.below(8) as i64))
        .collect()
}

fn key(random: &mut Random) -> HashableValue {
    match random.below(4) {
        0 => HashableValue::I64(random.next() as i64 >> random.below(64)),
        1 => HashableValue::Tuple(vec![
            HashableValue::I64(random.below(10) as i64),
            HashableValue::None,
        ]),
        _ => HashableValue::String(text(random)),
    }
}

fn value(random: &mut Random, depth: usize) -> Value {
    let kinds = if depth == 0 { 8 } else { 13 };
    match random.below(kinds) {
        0 => Value::None,
        1 => Value::Bool(random.below(2) == 1),
        2 => Value::I64(random.next() as i64 >> random.below(64)),
        3 => big_integer(random),
        4 => Value::F64(float(random)),
        5 => Value::Bytes(bytes(random)),
        6 | 7 => Value::String(text(random)),
        8 => Value::List(
            (0..random.below(4)).map(|_| value(random, depth - 1)).collect(),
        ),
        9 => Value::Tuple(
            (0..random.below(4)).map(|_| value(random, depth - 1)).collect(),
        ),
        10 => Value::Set(small_integers(random)),
        11 => Value::FrozenSet(small_integers(random)),
        _ => Value::Dict(
            (0..random.below(4))
                .map(|_| (key(random), value(random, depth - 1)))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}

#[test]
fn rust_prints_what_python_prints_for_generated_values() {
    let Some(mut python) = python3("tests/python/repr_of_pickles.py") else {
        return;
    };
    let mut random = Random(0x5eed_50c7_e71e_5500);
    let values: Vec<Value> = (0..5000).map(|_| value(&mut random, 3)).collect();
    let mut input = String::new();
    for value in &values {
        let pickle =
            serde_pickle::value_to_vec(value, SerOptions::new()).unwrap();
        input.extend(pickle.iter().map(|byte| format!("{byte:02x}")));
        input.push('\n');
    }
    let mut child =
        python.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success(), "python failed");
    let python_lines: Vec<&str> =
        std::str::from_utf8(&output.stdout).unwrap().lines().collect();
    assert_eq!(python_lines.len(), values.len());
    for (value, python_line) in values.iter().zip(python_lines) {
        assert_eq!(repr(value), python_line, "for {value:?}");
    }
}
