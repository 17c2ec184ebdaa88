//! Text as Python prints it: `str.isprintable()`, the `repr()` of a str, of
//! bytes and of a float, and a peer's text made safe for a terminal.
//!
//! The tutorial's readers know Python's notation (`'hello'`, `b'\x00\x05'`,
//! `1e+16`). [`is_printable`] is exactly Python 3.11.7's `str.isprintable()`
//! (Unicode 14.0.0) for every code point: Rust's `char` methods know other
//! categories, so it reads the ranges Python refuses from
//! `data/non-printable.txt`, which `scripts/gen-printable` writes from python3
//! itself (run it again to follow a newer Python).

use std::fmt::Write as _;
use std::sync::OnceLock;

/// Python's `str.isprintable()` for one character: false for controls,
/// format characters, private use, unassigned code points and every
/// separator but the space.
///
/// ```
/// use socket_lessons::text::is_printable;
/// assert!(is_printable('é') && is_printable(' ') && is_printable('\\'));
/// assert!(!is_printable('\n') && !is_printable('\u{2028}'));
/// ```
pub fn is_printable(c: char) -> bool {
    if c.is_ascii() {
        return matches!(c, ' '..='~');
    }
    static NOT_PRINTABLE: OnceLock<Vec<(u32, u32)>> = OnceLock::new();
    let ranges = NOT_PRINTABLE.get_or_init(|| {
        let hex = |n| u32::from_str_radix(n, 16).expect("a hex code point");
        let lines = include_str!("../data/non-printable.txt").lines();
        let ranges = lines.filter_map(|line| line.split_once(' '));
        ranges.map(|(first, last)| (hex(first), hex(last))).collect()
    });
    // The last range that starts at or before `c`, if any, holds it or
    // nothing does: the ranges are sorted and do not overlap.
    let after = ranges.partition_point(|&(first, _)| first <= u32::from(c));
    after == 0 || ranges[after - 1].1 < u32::from(c)
}

/// Text from a peer, safe to print: what is not printable (a newline, an
/// escape code that could clear the screen or fake a `[server]` line) is
/// shown as Python's `repr` shows it; the rest, the backslash too, as it is.
///
/// ```
/// use socket_lessons::text::escape;
/// assert_eq!(escape("a\\b\n\x1b[2J\u{2028}"), r"a\b\n\x1b[2J\u2028");
/// ```
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    text.chars().for_each(|c| push_shown(&mut escaped, c));
    escaped
}

/// Python's `repr(str)`: in single quotes unless the text has a `'` and no
/// `"`; the backslash, that quote and what is not printable escaped.
///
/// ```
/// use socket_lessons::text::str_repr;
/// assert_eq!(str_repr("it's\t"), r#""it's\t""#);
/// ```
pub fn str_repr(text: &str) -> String {
    quoted("", text.chars(), push_shown)
}

/// Python's `repr(bytes)`: printable ASCII as it is, the rest as escapes.
///
/// ```
/// use socket_lessons::text::bytes_repr;
/// assert_eq!(bytes_repr(b"\x80\x03it's\n"), r#"b"\x80\x03it's\n""#);
/// ```
pub fn bytes_repr(bytes: &[u8]) -> String {
    let chars = bytes.iter().map(|&byte| char::from(byte));
    quoted("b", chars, |repr, c| match c {
        ' '..='~' | '\t' | '\n' | '\r' => push_shown(repr, c),
        _ => _ = write!(repr, "\\x{:02x}", u32::from(c)),
    })
}

/// `chars` between the quotes Python would choose, after `prefix`: the
/// backslash and that quote escaped, each other character as `show` shows
/// it.
fn quoted(
    prefix: &str,
    chars: impl Iterator<Item = char> + Clone,
    show: impl Fn(&mut String, char),
) -> String {
    let has = |quote| chars.clone().any(|c| c == quote);
    let quote = if has('\'') && !has('"') { '"' } else { '\'' };
    let mut repr = format!("{prefix}{quote}");
    for c in chars {
        match c {
            '\\' => repr.push_str("\\\\"),
            _ if c == quote => repr.extend(['\\', quote]),
            _ => show(&mut repr, c),
        }
    }
    repr.push(quote);
    repr
}

/// `c` as it appears inside Python's repr of a str, but for the backslash
/// and the quote, which only a repr escapes.
fn push_shown(text: &mut String, c: char) {
    let code = u32::from(c);
    let _ = match c {
        _ if is_printable(c) => write!(text, "{c}"),
        '\t' => write!(text, "\\t"),
        '\n' => write!(text, "\\n"),
        '\r' => write!(text, "\\r"),
        _ if code < 0x100 => write!(text, "\\x{code:02x}"),
        _ if code < 0x10000 => write!(text, "\\u{code:04x}"),
        _ => write!(text, "\\U{code:08x}"),
    };
}

/// Python's `repr(float)`: the shortest digits that read back as the same
/// number, positional from 1e-4 up to 1e16, in exponent form outside.
///
/// ```
/// use socket_lessons::text::float_repr;
/// assert_eq!(float_repr(1e16), "1e+16");
/// assert_eq!(float_repr(-0.0), "-0.0");
/// ```
pub fn float_repr(number: f64) -> String {
    if !number.is_finite() {
        return number.to_string().to_lowercase(); // nan, inf, -inf
    }
    let sign = if number.is_sign_negative() { "-" } else { "" };
    let (digits, exponent) = shortest_digits(number.abs());
    // Positional if the point falls 4 places before to 16 after digit one.
    let point = exponent + 1;
    if !(-4 < point && point <= 16) {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        return format!("{sign}{first}{dot}{rest}e{exponent:+03}");
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
/// exponent of the first, as Rust's `{:e}` finds them; but where two are as
/// close (`number` lies half-way), Python takes the one ending in an even
/// digit, and the exact expansion tells when.
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
    let zeros = |rest: &str| rest.bytes().all(|digit| digit == b'0');
    let half_way = dropped.strip_prefix('5').is_some_and(zeros);
    let even = kept
        .bytes()
        .last()
        .is_some_and(|digit| (digit - b'0').is_multiple_of(2));
    let candidate = format!("{}.{}e{exact_exponent}", &kept[..1], &kept[1..]);
    if half_way && even && kept != digits && candidate.parse() == Ok(number) {
        return (kept.trim_end_matches('0').into(), exact_exponent);
    }
    (digits, exponent)
}
