//! Python-style printing: what Python's `repr()` shows for a value, and for
//! `bytes`.
//!
//! The tutorial prints what it receives with Python's `print`, and its readers
//! know that notation: `{1: 'Client', 2: 'Server'}`, `b'Socket '`, `(1,)`,
//! `None`. Lesson 5 receives Python values ([`Unpickled`], serde-pickle's
//! [`Value`] and `bytearray`) and prints them the same way, so a Rust client
//! and a Python client print the same lines.
//!
//! Two things Python decides at run time cannot be copied exactly: a dict
//! prints in the order its keys were inserted and a set in the order of their
//! hashes, while serde-pickle keeps both in sorted order. For dicts built in
//! sorted order and for sets of small integers (the lessons' values) the text
//! is the same.

use serde_pickle::{HashableValue, Value};
use std::fmt::Write as _;

use crate::old::unpickle::Unpickled;

/// `repr(value)`, as Python prints it.
pub fn repr(value: &impl Repr) -> String {
    let mut text = String::new();
    value.write_repr(&mut text);
    text
}

/// A value [`repr`] prints: one serde-pickle made, or one read by
/// [`unpickle`](crate::old::unpickle::unpickle).
pub trait Repr {
    fn write_repr(&self, text: &mut String);
}

impl Repr for Value {
    fn write_repr(&self, text: &mut String) {
        write_value(text, self);
    }
}

impl Repr for Unpickled {
    fn write_repr(&self, text: &mut String) {
        let write = |text: &mut String, item: &Unpickled| item.write_repr(text);
        match self {
            Unpickled::Value(value) => write_value(text, value),
            Unpickled::ByteArray(bytes) => {
                let _ = write!(text, "bytearray({})", bytes_repr(bytes));
            }
            Unpickled::List(items) => {
                write_items(text, "[", items.iter(), "]", write)
            }
            Unpickled::Tuple(items) => write_tuple(text, items, write),
            Unpickled::Dict(entries) => write_dict(text, entries, write),
        }
    }
}

/// `repr(b'...')`: printable ASCII as is, the rest as escapes.
///
/// ```
/// use socket_lessons::old::python::bytes_repr;
/// assert_eq!(bytes_repr(b"\x80\x03it's\n"), r#"b"\x80\x03it's\n""#);
/// ```
pub fn bytes_repr(bytes: &[u8]) -> String {
    let quote = preferred_quote(bytes.contains(&b'\''), bytes.contains(&b'"'));
    let mut text = format!("b{quote}");
    for &byte in bytes {
        match byte {
            b'\\' => text.push_str("\\\\"),
            b'\t' => text.push_str("\\t"),
            b'\n' => text.push_str("\\n"),
            b'\r' => text.push_str("\\r"),
            _ if byte as char == quote => text.extend(['\\', quote]),
            0x20..0x7f => text.push(byte as char),
            _ => {
                let _ = write!(text, "\\x{byte:02x}");
            }
        }
    }
    text.push(quote);
    text
}

/// `bytes_repr` of `bytes` cut into pieces of at most `width` characters
/// each, for printing a long value on several lines. Python reads pieces
/// written one after another as one value: `b'ab' b'cd'` is `b'abcd'`.
///
/// ```
/// use socket_lessons::old::python::bytes_repr_lines;
/// assert_eq!(bytes_repr_lines(b"abcdef", 6), ["b'abc'", "b'def'"]);
/// ```
pub fn bytes_repr_lines(bytes: &[u8], width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut start = 0;
    while start < bytes.len() || lines.is_empty() {
        // The longest piece that fits; at least one byte, so a piece always
        // moves on (one byte's repr is at most 7 characters: b'\xff').
        let mut end = start + 1;
        while end < bytes.len()
            && bytes_repr(&bytes[start..=end]).len() <= width
        {
            end += 1;
        }
        lines.push(bytes_repr(&bytes[start..end.min(bytes.len())]));
        start = end;
    }
    lines
}

fn write_value(text: &mut String, value: &Value) {
    match value {
        Value::None => text.push_str("None"),
        Value::Bool(true) => text.push_str("True"),
        Value::Bool(false) => text.push_str("False"),
        Value::I64(number) => {
            let _ = write!(text, "{number}");
        }
        Value::Int(number) => {
            let _ = write!(text, "{number}");
        }
        Value::F64(number) => text.push_str(&float_repr(*number)),
        Value::Bytes(bytes) => text.push_str(&bytes_repr(bytes)),
        Value::String(string) => text.push_str(&str_repr(string)),
        Value::List(items) => {
            write_items(text, "[", items.iter(), "]", write_value)
        }
        Value::Tuple(items) => write_tuple(text, items, write_value),
        Value::Set(items) if items.is_empty() => text.push_str("set()"),
        Value::Set(items) => {
            write_items(text, "{", items.iter(), "}", write_key)
        }
        Value::FrozenSet(items) => write_frozenset(text, items.iter()),
        Value::Dict(entries) => write_dict(text, entries, write_value),
    }
}

/// A tuple of one is written `(x,)`: `(x)` is x in brackets.
fn write_tuple<T>(
    text: &mut String,
    items: &[T],
    write_item: impl FnMut(&mut String, &T),
) {
    let close = if items.len() == 1 { ",)" } else { ")" };
    write_items(text, "(", items.iter(), close, write_item)
}

fn write_dict<T>(
    text: &mut String,
    entries: &std::collections::BTreeMap<HashableValue, T>,
    mut write_item: impl FnMut(&mut String, &T),
) {
    write_items(text, "{", entries.iter(), "}", |text, (key, item)| {
        write_key(text, key);
        text.push_str(": ");
        write_item(text, item);
    })
}

/// Dict keys and set members: serde-pickle keeps them as [`HashableValue`].
fn write_key(text: &mut String, key: &HashableValue) {
    match key {
        HashableValue::Tuple(items) => write_tuple(text, items, write_key),
        HashableValue::FrozenSet(items) => write_frozenset(text, items.iter()),
        // The other kinds print as their plain values do.
        simple => write_value(text, &simple.clone().into_value()),
    }
}

fn write_frozenset<'a>(
    text: &mut String,
    items: impl ExactSizeIterator<Item = &'a HashableValue>,
) {
    if items.len() == 0 {
        text.push_str("frozenset()");
    } else {
        write_items(text, "frozenset({", items, "})", write_key);
    }
}

fn write_items<T>(
    text: &mut String,
    open: &str,
    items: impl Iterator<Item = T>,
    close: &str,
    mut write_item: impl FnMut(&mut String, T),
) {
    text.push_str(open);
    for (index, item) in items.enumerate() {
        if index > 0 {
            text.push_str(", ");
        }
        write_item(text, item);
    }
    text.push_str(close);
}

/// `repr(str)`: single quotes unless the text has a `'` and no `"`; escapes
/// for what is not printable.
pub(crate) fn str_repr(string: &str) -> String {
    let quote = preferred_quote(string.contains('\''), string.contains('"'));
    let mut text = String::from(quote);
    for character in string.chars() {
        match character {
            '\\' => text.push_str("\\\\"),
            _ if character == quote => text.extend(['\\', quote]),
            _ if is_printable(character) => text.push(character),
            _ => push_escape(&mut text, character),
        }
    }
    text.push(quote);
    text
}

/// Text from a peer, safe to print on a terminal: what is not printable
/// (a newline, an escape code that could clear the screen or fake a
/// `[server]` line) is shown as Python's `repr` shows it (`\n`, `\x1b`),
/// the rest as it is.
///
/// ```
/// use socket_lessons::old::python::escape_unprintable;
/// assert_eq!(escape_unprintable("hi\n\x1b[2J"), r"hi\n\x1b[2J");
/// ```
pub fn escape_unprintable(string: &str) -> String {
    let mut text = String::with_capacity(string.len());
    for character in string.chars() {
        match character {
            _ if is_printable(character) => text.push(character),
            _ => push_escape(&mut text, character),
        }
    }
    text
}

fn push_escape(text: &mut String, character: char) {
    let code = u32::from(character);
    let _ = match character {
        '\t' => write!(text, "\\t"),
        '\n' => write!(text, "\\n"),
        '\r' => write!(text, "\\r"),
        _ if code < 0x100 => write!(text, "\\x{code:02x}"),
        _ if code < 0x10000 => write!(text, "\\u{code:04x}"),
        _ => write!(text, "\\U{code:08x}"),
    };
}

fn preferred_quote(has_single: bool, has_double: bool) -> char {
    if has_single && !has_double { '"' } else { '\'' }
}

/// Python's `str.isprintable()` for one character, for the characters Unicode
/// has assigned: not a control or format character, not a separator other than
/// the space, not private use.
fn is_printable(character: char) -> bool {
    let code = u32::from(character);
    let format = matches!(
        code,
        0xad | 0x600..=0x605
            | 0x61c
            | 0x6dd
            | 0x70f
            | 0x890..=0x891
            | 0x8e2
            | 0x180e
            | 0x200b..=0x200f
            | 0x202a..=0x202e
            | 0x2060..=0x2064
            | 0x2066..=0x206f
            | 0xfeff
            | 0xfff9..=0xfffb
            | 0x110bd
            | 0x110cd
            | 0xe0001
            | 0xe0020..=0xe007f
    );
    let private_use = matches!(code, 0xe000..=0xf8ff | 0xf0000..);
    let separator = character.is_whitespace() && character != ' ';
    !(character.is_control() || format || private_use || separator)
}

/// `repr(float)`: the shortest digits that read back as the same number, laid
/// out as Python does: positional from 1e-4 up to 1e16, scientific outside.
pub fn float_repr(number: f64) -> String {
    if number.is_nan() {
        return "nan".into();
    }
    if number.is_infinite() {
        return if number > 0.0 { "inf" } else { "-inf" }.into();
    }
    let sign = if number.is_sign_negative() { "-" } else { "" };
    let (digits, exponent) = shortest_digits(number.abs());
    // Python's rule, with the decimal point `point` places after the first
    // digit's position.
    let point = exponent + 1;
    if !(-4 < point && point <= 16) {
        let (first, rest) = digits.split_at(1);
        let fraction =
            if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        return format!(
            "{sign}{first}{fraction}e{exponent_sign}{:02}",
            exponent.abs()
        );
    }
    let body = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
    } else {
        let (whole, fraction) = digits.split_at(point as usize);
        format!("{whole}.{fraction}")
    };
    format!("{sign}{body}")
}

/// The shortest digits that read back as `number` (not negative), and the
/// exponent of the first.
///
/// Rust's `{:e}` finds them. Where two candidates are equally short and equally
/// close (the number lies exactly half-way), Python takes the one ending in an
/// even digit; the exact expansion tells whether that happened.
fn shortest_digits(number: f64) -> (String, i32) {
    let split = |scientific: &str| -> (String, i32) {
        let (mantissa, exponent) =
            scientific.split_once('e').unwrap_or((scientific, "0"));
        (mantissa.replace('.', ""), exponent.parse().unwrap_or(0))
    };
    let (digits, exponent) = split(&format!("{number:e}"));
    // 800 places hold every digit of any f64, so this expansion is exact.
    let (exact, exact_exponent) = split(&format!("{number:.800e}"));
    let (kept, dropped) = exact.split_at(digits.len().min(exact.len()));
    let half_way = dropped
        .strip_prefix('5')
        .is_some_and(|rest| rest.bytes().all(|digit| digit == b'0'));
    let even = kept.bytes().last().is_some_and(|digit| (digit - b'0') % 2 == 0);
    if half_way && even && kept != digits {
        let candidate =
            format!("{}.{}e{exact_exponent}", &kept[..1], &kept[1..]);
        if candidate.parse() == Ok(number) {
            let kept = kept.trim_end_matches('0');
            return (
                if kept.is_empty() { "0".into() } else { kept.to_string() },
                exact_exponent,
            );
        }
    }
    (digits, exponent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn string(text: &str) -> Value {
        Value::String(text.into())
    }

    #[test]
    fn the_tutorials_dict_prints_as_python_prints_it() {
        let roles = BTreeMap::from([
            (HashableValue::I64(1), string("Client")),
            (HashableValue::I64(2), string("Server")),
        ]);
        assert_eq!(repr(&Value::Dict(roles)), "{1: 'Client', 2: 'Server'}");
    }

    #[test]
    fn containers_follow_pythons_punctuation() {
        assert_eq!(repr(&Value::Tuple(vec![Value::I64(1)])), "(1,)");
        assert_eq!(repr(&Value::Tuple(vec![])), "()");
        assert_eq!(
            repr(&Value::List(vec![
                Value::I64(1),
                Value::None,
                Value::Bool(true)
            ])),
            "[1, None, True]"
        );
        assert_eq!(repr(&Value::Set(BTreeSet::new())), "set()");
        assert_eq!(repr(&Value::FrozenSet(BTreeSet::new())), "frozenset()");
        let members =
            BTreeSet::from([HashableValue::I64(1), HashableValue::I64(2)]);
        assert_eq!(repr(&Value::Set(members.clone())), "{1, 2}");
        assert_eq!(repr(&Value::FrozenSet(members)), "frozenset({1, 2})");
        assert_eq!(repr(&Value::Dict(BTreeMap::new())), "{}");
    }

    #[test]
    fn strings_pick_quotes_and_escape_like_python() {
        assert_eq!(str_repr("it's"), "\"it's\"");
        assert_eq!(str_repr("say \"hi\""), "'say \"hi\"'");
        assert_eq!(str_repr("both ' and \""), "'both \\' and \"'");
        assert_eq!(
            str_repr("tab\tnew\nline\\ \u{7} \u{a0} é 中 \u{2028} \u{1f600}"),
            "'tab\\tnew\\nline\\\\ \\x07 \\xa0 é 中 \\u2028 \u{1f600}'"
        );
    }

    #[test]
    fn bytes_escape_everything_outside_printable_ascii() {
        assert_eq!(
            bytes_repr(b"\x80\x03}q\x00(K\x01X\x06\x00\x00\x00Client"),
            "b'\\x80\\x03}q\\x00(K\\x01X\\x06\\x00\\x00\\x00Client'"
        );
        assert_eq!(bytes_repr(b"it's"), "b\"it's\"");
        assert_eq!(bytes_repr(b""), "b''");
    }

    #[test]
    fn floats_switch_to_exponents_where_python_does() {
        for (number, python) in [
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789.125, "123456789.125"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (2.5e300, "2.5e+300"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (-204_921_607_815_722.12, "-204921607815722.12"),
        ] {
            assert_eq!(float_repr(number), python);
        }
    }
}
