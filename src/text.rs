//! Text as Python prints it: `str.isprintable()`, the `repr()` of a str, of
//! bytes and of a float, and a peer's text made safe for a terminal.
//!
//! [`is_printable`] is Python 3.11.7's (Unicode 14.0.0) for every code point:
//! Rust's `char` methods know other categories, so it reads the ranges that
//! `scripts/gen-printable` asks python3 for, in `data/non-printable.txt`.

use std::fmt::Write as _;
use std::sync::OnceLock;

/// Python's `str.isprintable()` for one character: false for controls, format
/// and private-use characters, unassigned code points, separators but ' '.
pub fn is_printable(c: char) -> bool {
    static NOT_PRINTABLE: OnceLock<Vec<(u32, u32)>> = OnceLock::new();
    let ranges = NOT_PRINTABLE.get_or_init(|| {
        let hex = |n| u32::from_str_radix(n, 16).expect("a hex code point");
        let lines = include_str!("../data/non-printable.txt").lines();
        let ranges = lines.filter_map(|line| line.split_once(' '));
        ranges.map(|(first, last)| (hex(first), hex(last))).collect()
    });
    // The ranges are sorted and do not overlap: only the last that starts
    // at or before `c` may hold it.
    let after = ranges.partition_point(|&(first, _)| first <= u32::from(c));
    after == 0 || ranges[after - 1].1 < u32::from(c)
}

/// Text from a peer, safe to print: what is not printable (a newline, an
/// escape code that could clear the screen or fake a `[server]` line) is
/// shown as Python's `repr` shows it; the rest, the backslash too, as it is.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    text.chars().for_each(|c| push_shown(&mut escaped, c, None, false));
    escaped
}

/// Python's `repr(str)`: in single quotes unless the text has a `'` and no
/// `"`; the backslash, that quote and what is not printable escaped.
pub fn str_repr(text: &str) -> String {
    quoted(text.chars(), false)
}

/// Python's `repr(bytes)`: printable ASCII as it is, the rest as escapes.
pub fn bytes_repr(bytes: &[u8]) -> String {
    format!("b{}", quoted(bytes.iter().map(|&byte| char::from(byte)), true))
}

/// `chars` between the quotes Python would choose.
fn quoted<I: Iterator<Item = char> + Clone>(chars: I, bytes: bool) -> String {
    let has = |quote| chars.clone().any(|c| c == quote);
    let quote = if has('\'') && !has('"') { '"' } else { '\'' };
    let mut repr = String::from(quote);
    chars.for_each(|c| push_shown(&mut repr, c, Some(quote), bytes));
    repr.push(quote);
    repr
}

/// `c` as Python's repr of a str shows it between `quote`s (of bytes, if
/// `bytes`: only ASCII as it is); with no quote, the backslash as it is.
fn push_shown(text: &mut String, c: char, quote: Option<char>, bytes: bool) {
    let code = u32::from(c);
    let _ = match c {
        '\\' if quote.is_some() => write!(text, "\\\\"),
        _ if Some(c) == quote => write!(text, "\\{c}"),
        _ if is_printable(c) && (c.is_ascii() || !bytes) => write!(text, "{c}"),
        '\t' | '\n' | '\r' => write!(text, "{}", c.escape_default()),
        _ if code < 0x100 => write!(text, "\\x{code:02x}"),
        _ if code < 0x10000 => write!(text, "\\u{code:04x}"),
        _ => write!(text, "\\U{code:08x}"),
    };
}

/// Python's `repr(float)`: the shortest digits that read back as the same
/// number, positional from 1e-4 up to 1e16, in exponent form outside.
pub fn float_repr(number: f64) -> String {
    if !number.is_finite() {
        return number.to_string().to_lowercase(); // nan, inf, -inf
    }
    let sign = if number.is_sign_negative() { "-" } else { "" };
    let (digits, exponent) = shortest_digits(number.abs());
    let (first, rest) = digits.split_at(1);
    let dot = if rest.is_empty() { "" } else { "." };
    let zeros = |count| "0".repeat(count);
    match exponent {
        ..-4 | 16.. => format!("{sign}{first}{dot}{rest}e{exponent:+03}"),
        ..0 => format!("{sign}0.{}{digits}", zeros(-exponent as usize - 1)),
        _ => {
            // At least one digit after the point: `1.0`, as Python writes it.
            let point = exponent as usize + 1;
            let padded = format!("{digits:0<width$}", width = point + 1);
            format!("{sign}{}.{}", &padded[..point], &padded[point..])
        }
    }
}

/// The shortest digits that read back as `number` (not negative), and the
/// exponent of the first, as Rust's `{:e}` finds them; but where two are as
/// close (`number` lies half-way), Python takes the one ending in an even
/// digit, and the exact expansion tells when.
fn shortest_digits(number: f64) -> (String, i32) {
    let split = |text: String| {
        let (mantissa, exponent) = text.split_once('e').expect("an exponent");
        (mantissa.replace('.', ""), exponent.parse().unwrap_or(0))
    };
    let (digits, exponent) = split(format!("{number:e}"));
    // 800 places hold every digit of any f64, so this expansion is exact.
    let (exact, exact_exponent) = split(format!("{number:.800e}"));
    let (kept, dropped) = exact.split_at(digits.len());
    let half_way = dropped.trim_end_matches('0') == "5";
    // b'0' is even, so a digit's byte is even when the digit is.
    let even = kept.bytes().last().is_some_and(|digit| digit % 2 == 0);
    let candidate = format!("{}.{}e{exact_exponent}", &kept[..1], &kept[1..]);
    if half_way && even && kept != digits && candidate.parse() == Ok(number) {
        return (kept.trim_end_matches('0').into(), exact_exponent);
    }
    (digits, exponent)
}
