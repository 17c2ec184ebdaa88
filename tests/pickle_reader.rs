//! The pickle reader (`src/pickle.rs`) and the text helpers (`src/text.rs`)
//! against Python itself: what Python writes at protocols 0 to 5 prints as
//! Python prints it, hand-made pickles read as Python reads them (or are
//! refused), hostile pickles end in a refusal, and `is_printable` is
//! `str.isprintable()` for every code point.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::mpsc;

use libtest_mimic::Trial;
use socket_lessons::framing::DEFAULT_MAX_LEN;
use socket_lessons::pickle::{MAX_DEPTH, MAX_INT_DIGITS, loads};
use socket_lessons::text::{
    bytes_repr, escape, float_repr, is_printable, str_repr,
};

use crate::support::DEADLINE;

pub fn tests() -> Vec<Trial> {
    let mut tests = tests![
        keeps_order_shares_what_the_memo_shares_and_prints_loops,
        repr_stops_at_its_budget,
        refusals_say_what_and_where,
        refuses_hostile_pickles,
        reads_what_the_length_header_admits,
        written_out_counts_copies_and_loops,
        printable_follows_python_at_the_edges_of_its_table,
        reprs_quote_and_escape_as_python_does,
        floats_switch_to_exponents_where_python_does,
    ];
    tests.extend(python_tests![
        prints_what_python_writes_as_python_prints_it,
        reads_hand_made_pickles_as_python_does,
        reads_a_bytes_as_long_as_a_message,
        is_printable_is_pythons_for_every_code_point,
    ]);
    tests
}

/// What `script` prints, run by python3 (these tests are ignored where
/// there is none, outside CI; here its absence is a failure).
fn python(script: &str) -> Vec<u8> {
    let mut child = Command::new(crate::support::python_path().unwrap())
        .arg("-")
        .env("PYTHONIOENCODING", "utf-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "python3 failed on:\n{script}");
    output.stdout
}

/// `read(pickled)`, which must end within the tests' deadline: a hang is a
/// failure, not a stuck test run.
fn within_deadline<T: Send + 'static>(
    read: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || sender.send(read()));
    receiver.recv_timeout(DEADLINE).expect("the reader ends in time")
}

fn unhex(hex: &str) -> Vec<u8> {
    let digit = |at: usize| u8::from_str_radix(&hex[at..at + 2], 16).unwrap();
    (0..hex.len()).step_by(2).map(digit).collect()
}

/// Python prints, a line each, a pickle in hex, a tab, and what
/// `pickle.loads` makes of it: its repr, or `error: ` and the error, or
/// `refused: ` and a repr the reader is to refuse. Checks that the reader
/// prints the same repr, or refuses.
fn assert_read_as_python_reads(script: &str) -> usize {
    let printed = python(script);
    let mut count = 0;
    for line in String::from_utf8(printed).unwrap().lines() {
        let (hex, python) = line.split_once('\t').unwrap();
        let pickled = unhex(hex);
        let read = loads(&pickled);
        if python.starts_with("refused: ") {
            assert!(read.is_err(), "{hex}: {python}");
            continue;
        }
        match (read, python.strip_prefix("error: ")) {
            (Ok(value), None) => {
                let repr = value.repr(usize::MAX - 10);
                if repr != python {
                    let (repr, python) = (shortened(&repr), shortened(python));
                    panic!("{hex:.200}:\n ours   {repr}\n python {python}");
                }
            }
            (Err(_), Some(_)) => {}
            (Ok(value), Some(error)) => {
                panic!("{hex:.200}: Python: {error}, ours {}", value.repr(200))
            }
            (Err(refused), None) => {
                panic!("{hex:.200}: {refused}; Python: {}", shortened(python))
            }
        }
        count += 1;
    }
    count
}

fn shortened(text: &str) -> String {
    text.chars().take(300).collect()
}

/// Values Python reads back as they were, each at protocols 0 to 5. Sets
/// hold small ints only: for them Python's order is the pickle's.
const CORPUS: &str = r#"
import pickle, random, struct
a = [1]
l = []; l.append(l)
d = {}; d[1] = d
inner = []; t = (inner,); inner.append(t)
deep = []
for _ in range(99): deep = [deep]
key = (1, 'two')
random.seed(5)
floats = [random.random() * 10 ** random.randint(-30, 30) for _ in range(300)]
floats += [round(random.uniform(-1e6, 1e6), random.randint(0, 9))
           for _ in range(300)]
floats += [struct.unpack('<d', random.randbytes(8))[0] for _ in range(300)]
cases = [
    None, True, False, 0, 1, -1, -5, 255, 256, 257, 65535, 65536, 2**31 - 1,
    -2**31, 2**31, 2**63, -2**63 - 1, 2**64, 2**100, -2**3000, 10**4298,
    0.0, -0.0, 1.5, 1e300, float('nan'), float('inf'), float('-inf'), 1e-5,
    0.1, 1e16, 1e15, 123456789012345678.0, 5e-324, 1.7976931348623157e308,
    floats,
    '', 'hello', "it's", 'say "hi"', 'both \' and "', 'tab\tnew\nline\r\\',
    '\x00\x1b[2J\x7f\x80\x9f\xa0\xad', '\u2028\u2029\u200b\ufeff', 'é中',
    '\U0001f600', '\U000e0001\U0010ffff\ue000\u0378', 'x' * 300,
    'back\\slash u\\u0041', '\x1a\r\n',
    b'', b'ab', bytes(range(256)), b"it's", b'"\'', bytearray(),
    bytearray(b'ab'), bytearray(range(256)), bytearray(b"it's"),
    [], (), {}, set(), frozenset(), (1,), ((),), [()], (1, 2), (1, 2, 3),
    (1, 2, 3, 4), ([],), ({},), [[[]]],
    {'b': 1, 'a': 2}, {3: 'c', 1: 'a', 2: 'b'},
    {'z': None, 'y': b'v', 'x': 1.5},
    {(1, 2): [3], 'k': {'z': None, 'y': bytearray(b'v')},
     1.5: frozenset({2, 1})},
    {None: 0, True: 1, 2.5: 2, b'k': 3, (): 4, frozenset(): 5, key: key},
    [1, [2, [3, [4, (5, {6: 7})]]]], deep,
    {1, 2, 3}, {100, 7, 33}, frozenset({5, 3, 1}), set(range(50)),
    [a, a], {'x': a, 'y': a}, (a, a, [a]), [key, key, {key: key}],
    l, d, t, [l, d, t], {'self': l},
    list(range(2500)), {i: str(i) for i in range(1500, 0, -1)},
    set(range(1200)), frozenset(range(1100)), tuple(range(1300)),
]
for value in cases:
    for protocol in range(6):
        data = pickle.dumps(value, protocol=protocol)
        print(data.hex(), repr(pickle.loads(data)), sep='\t')
"#;

fn prints_what_python_writes_as_python_prints_it() {
    let count = assert_read_as_python_reads(CORPUS);
    assert!(count > 500, "{count}");
}

/// Pickles made by hand: text forms, repeated keys, odd calls; each read
/// as Python reads it, or refused where Python fails, or (`stricter`)
/// refused where Python reads it.
const HAND_MADE: &str = r#"
import pickle
NAN = b'\x7f\xf8' + bytes(6)
pickles = [
    # protocol 0's str
    b'V\\u0041\\U0001f600\\x\\\\u0041\xe9\\\n.', b'V\\u00\n.',
    b'V\\U00110000\n.', b'X\x02\x00\x00\x00\xed\xa0.', b'C\x03abc.',
    # numbers as text, and binary ints
    b'I00\n.', b'I01\n.', b'I-7\n.', b'I\n.', b'I' + b'9' * 4300 + b'\n.',
    b'L12L\n.', b'L-99999999999999999999L\n.', b'L5\n.',
    b'F1.5\n.', b'Finf\n.', b'F-nan\n.', b'F1e999\n.', b'F1.5x\n.', b'F\n.',
    b'F1_0\n.', b'F 1.5\n.', b'F1E5\n.', b'F.5\n.', b'F5.\n.', b'Finfinity\n.',
    b'\x8a\x00.', b'\x8a\x01\xff.', b'\x8b\x02\x00\x00\x00\x00\x80.',
    # equal keys and items (of one type): the first key's place, the last
    # value; a NaN is equal only to itself
    b'}(K\x01K\x02K\x01K\x03u.', b'\x8f(K\x01K\x02K\x01\x90.',
    b'}(\x8c\x01aK\x01K\x01K\x02\x8c\x01aK\x03u.', b'(K\x01K\x01\x91.',
    b'}(K\x01K\x02\x86K\x01K\x01K\x02\x86K\x02u.',
    b'}()]\x85K\x01u.', b'}(G' + NAN + b'K\x012K\x02u.',
    b'\x8f(G' + NAN + b'G' + NAN + b'\x90.', b'\x8f(G' + NAN + b'2\x90.',
    b'}(]K\x02u.', b'\x8f(}\x90.', b'\x8f(\x96' + bytes(8) + b'\x90.',
    b'\x8f(K\x02K\x01K\x02\x88u.',
    # the stack, marks and memo
    b'NN.', b'(N.', b'N0N.', b'(0N.', b'(N1N.', b']K\x01a.', b')K\x01a.',
    b']q\x05h\x05a.', b'N\x94h\x00.', b'h\x00.', b'N.N',
    b'\x80\x06N.', b'\x95\x05\x00\x00\x00\x00\x00\x00\x00N.',
    # globals and calls
    b'c__builtin__\nset\n]K\x01a\x85R.', b'c__builtin__\nbytes\n)R.',
    b'c_codecs\nencode\nV\xe9\nVlatin1\n\x86R.',
    b'c_codecs\nencode\nV\\u0100\nVlatin1\n\x86R.',
    b'\x8c\x08builtins\x8c\tfrozenset\x93]K\x03a\x85R.',
    b'K\x01K\x02\x86R.',
]
# What Python reads and the reader refuses: Python 2's strs, other globals,
# calls Python's pickler never writes, such as bytes(n) and set(), numbers
# written otherwise (C's strtol reads I007 as octal), and a memo index past
# the pickle's length.
stricter = [
    b"S'it\\'s'\n.", b"T\x02\x00\x00\x00ab.", b"U\x02cd.",
    b'\x8c\x02os\x8c\x06system\x93.', b'cos\nsystem\n.',
    b'cbuiltins\nbytes\nK\x01\x85R.', b'cbuiltins\nlist\n}\x85R.',
    b'c__builtin__\nset\n)R.',
    b'c__builtin__\nbytearray\nVab\nVlatin-1\n\x86R.',
    b'c_codecs\nencode\nVa\nVutf-8\n\x86R.', b'cbuiltins\nset\n\x85.',
    b'I007\n.', b'I1_0\n.', b'L0x10\n.', b'I+5\n.', b'I 5\n.', b'L00\n.',
    b']p12\ng12\na.',
]
for data in stricter:
    print(data.hex(), 'refused: ' + repr(pickle.loads(data)), sep='\t')
for data in pickles:
    try:
        print(data.hex(), repr(pickle.loads(data)), sep='\t')
    except Exception as error:
        print(data.hex(), f'error: {error!r}', sep='\t')
"#;

fn reads_hand_made_pickles_as_python_does() {
    assert_read_as_python_reads(HAND_MADE);
}

/// The one size limit is the length header's: a bytes value whose pickle
/// is as long as a message may be is read, written as protocol 2 writes it
/// (`_codecs.encode(str, 'latin1')`), as protocol 3 (BINBYTES) and as 5
/// (BINBYTES8).
fn reads_a_bytes_as_long_as_a_message() {
    // The pickle, at Python's highest protocol, and Python's repr of what
    // it reads, each after its length (8 bytes, little-endian). (The
    // corpus above reads bytes at every protocol; once at full size is
    // enough for the bound.)
    let script = format!(
        "import pickle, sys\n\
         n = {DEFAULT_MAX_LEN}\n\
         for protocol in [pickle.HIGHEST_PROTOCOL]:\n\
         \x20   extra = len(pickle.dumps(b'x' * n, protocol=protocol)) - n\n\
         \x20   data = pickle.dumps(b'x' * (n - extra), protocol=protocol)\n\
         \x20   assert len(data) == n\n\
         \x20   for piece in data, repr(pickle.loads(data)).encode():\n\
         \x20       sys.stdout.buffer.write(len(piece).to_bytes(8, 'little'))\n\
         \x20       sys.stdout.buffer.write(piece)\n"
    );
    let printed = python(&script);
    let mut rest = &printed[..];
    let mut next = || {
        let (len, after) = rest.split_at(8);
        let len = u64::from_le_bytes(len.try_into().unwrap()) as usize;
        let (piece, after) = after.split_at(len);
        rest = after;
        piece
    };
    {
        let (pickled, python) = (next(), next());
        let repr = loads(pickled).unwrap().repr(usize::MAX - 10);
        assert!(repr.as_bytes() == python, "{:?}", &pickled[..20]);
    }
}

/// What the old separate bounds (a million objects, stack slots, memo
/// entries) refused is read: a list of 1.1 million floats (10 MB), 1.1
/// million lists, 2 million Nones, a million memo entries.
fn reads_what_the_length_header_admits() {
    let mut floats = b"\x80\x04](".to_vec();
    for n in 0..1_100_000u64 {
        floats.push(b'G');
        floats.extend((n as f64 + 0.5).to_be_bytes());
    }
    floats.extend(b"e.");
    assert!(floats.len() < DEFAULT_MAX_LEN);
    let cases = [
        (floats, "[0.5, 1.5, 2.5, 3.5,..."),
        ([&b"]"[..], &[0x94; 1_000_001], b"."].concat(), "[]"),
        ([vec![b']'; 1_100_000], vec![b'.']].concat(), "[]"),
        ([vec![b'N'; 2_000_000], vec![b'.']].concat(), "None"),
    ];
    for (pickled, repr) in cases {
        let read = within_deadline(move || loads(&pickled).map(|v| v.repr(20)));
        assert_eq!(read.unwrap(), repr);
    }
}

/// A hostile pickle ends in a refusal that says why in one line, and
/// printing a value that would be endless written out stops.
fn refuses_hostile_pickles() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"".to_vec(), "ends before its STOP"),
        (
            b"\x80\x04\x95".to_vec(),
            "opcode b'\\x95' at offset 2: the pickle ends",
        ),
        (b"Nr\x40\x42\x0f\x00.".to_vec(), "a memo index past the 7 bytes"),
        (
            b"X\xff\xff\xff\x7fab.".to_vec(),
            "opcode b'X' at offset 0: the pickle ends",
        ),
        (b"\x8d\xff\xff\xff\xff\xff\xff\xff\xff.".to_vec(), "ends inside it"),
        (
            b"\x8b\xff\xff\xff\xff.".to_vec(),
            "opcode b'\\x8b' at offset 0: the pickle",
        ),
        (b"a.".to_vec(), "opcode b'a' at offset 0: too few on the stack"),
        (b".".to_vec(), "too few on the stack"),
        (b"(.".to_vec(), "too few on the stack"),
        ([vec![b'('; 100_000], vec![b'.']].concat(), "too many MARKs"),
        (
            [&b"I"[..], &[b'7'; MAX_INT_DIGITS + 1], b"\n."].concat(),
            "opcode b'I' at offset 0: more than 4300 digits",
        ),
        (
            [&b"\x8b\xfa\x06\x00\x00"[..], &[1; 1786], b"."].concat(),
            "more bytes than Python 3.11 prints",
        ),
        (b"Vab\xff\\u12\n.".to_vec(), "opcode b'V' at offset 0: a bad"),
        (b"X\x01\x00\x00\x00\xff.".to_vec(), "not UTF-8"),
        (b"F1.5x\n.".to_vec(), "opcode b'F' at offset 0: not a number"),
        (b"S'a'\n.".to_vec(), "opcode b'S' at offset 0: a Python 2 str"),
        (b"cos\nsystem\n.".to_vec(), "names the global os.system, which plain"),
        (b"c\x1b[2J\nx\n.".to_vec(), r"the global \x1b[2J.x"),
        (
            b"\x80\x02cposix\nsystem\nX\x02\x00\x00\x00lsq\x00\x85R.".to_vec(),
            "posix.system",
        ),
        (
            b"(i__main__\nC\n.".to_vec(),
            "opcode b'i' at offset 1: plain data does not need it",
        ),
        (b"N\x81.".to_vec(), "opcode b'\\x81'"),
        (b"}Nb.".to_vec(), "opcode b'b'"),
        (b"P1\n.".to_vec(), "opcode b'P'"),
        (b"\x82\x01.".to_vec(), "opcode b'\\x82'"),
        (b"\xff.".to_vec(), "opcode b'\\xff' at offset 0: no such opcode"),
        (b"}(]K\x02u.".to_vec(), "unhashable type: 'list'"),
        (
            b"\x8f(\x96\x00\x00\x00\x00\x00\x00\x00\x00\x90.".to_vec(),
            "'bytearray'",
        ),
        (b"cbuiltins\nset\n\x85.".to_vec(), "a global used as a value"),
    ];
    for (pickled, message) in cases {
        let shown = String::from_utf8_lossy(&pickled[..pickled.len().min(40)]);
        let shown = shown.into_owned();
        let read = within_deadline(move || loads(&pickled).map(|_| ()));
        let refused = read.unwrap_err().to_string();
        assert!(refused.contains(message), "{shown:?}: {refused}");
        assert!(!refused.contains('\n') && refused.len() < 200, "{refused}");
    }
    // Lists nested while empty, 100,000 deep, then filled; lists filled as
    // they nest; 100,000 one-tuples: nothing recurses while reading, and
    // each is refused once built.
    let mut nested = b"]r\0\0\0\0".to_vec();
    for level in 1..100_000u32 {
        let level = level.to_le_bytes();
        nested.extend([&b"]r"[..], &level, b"a0j", &level].concat());
    }
    nested.extend(b"0j\0\0\0\0.");
    let deep_lists = [vec![b']'; 100_000], vec![b'a'; 99_999], vec![b'.']];
    let tuples = [&b"N"[..], &vec![0x85; 100_000], b"."].concat();
    for pickled in [nested, deep_lists.concat(), tuples] {
        let refused = within_deadline(move || {
            loads(&pickled).err().map(|refused| refused.to_string())
        });
        let refused = refused.expect("refused");
        assert!(refused.contains("nests deeper than 100"), "{refused}");
    }
    // At the bound, read; one level more, refused.
    let lists = |levels: usize| {
        [vec![b']'; levels], vec![b'a'; levels - 1], vec![b'.']].concat()
    };
    assert!(loads(&lists(MAX_DEPTH)).is_ok());
    assert!(loads(&lists(MAX_DEPTH + 1)).is_err());
    // (x, x), 99 levels: 2**99 ones, written out.
    let mut doubled = b"K\x01".to_vec();
    for _ in 1..MAX_DEPTH {
        doubled.extend(b"2\x86");
    }
    doubled.push(b'.');
    let (repr, written_out) = within_deadline(move || {
        let value = loads(&doubled).unwrap();
        (value.repr(1000), value.written_out())
    });
    assert_eq!(repr.len(), 1003);
    assert_eq!(written_out, usize::MAX);
}

/// `str.isprintable()` for all 0x110000 code points, from one python3.
fn is_printable_is_pythons_for_every_code_point() {
    let script = "import sys\n\
        print(' '.join(str(c) for c in range(0x110000) \
        if not chr(c).isprintable()))";
    let printed = String::from_utf8(python(script)).unwrap();
    let python: Vec<u32> =
        printed.split_whitespace().map(|c| c.parse().unwrap()).collect();
    let ours: Vec<u32> = (0..0x110000)
        .filter(|&c| char::from_u32(c).is_none_or(|c| !is_printable(c)))
        .collect();
    assert_eq!(ours.len(), python.len());
    assert!(ours == python);
}

/// What lesson 11 checks before serde-pickle copies a value: how many
/// objects it holds written out, each copy counted; a loop never ends.
fn written_out_counts_copies_and_loops() {
    // [a, a, bytearray(b'z')], a = [1]: 1 + 2 + 2 + 1 objects.
    let shared =
        loads(b"\x80\x04]\x94(]\x94K\x01ah\x01\x96\x01\0\0\0\0\0\0\0ze.");
    let shared = shared.unwrap();
    assert_eq!(shared.repr(80), "[[1], [1], bytearray(b'z')]");
    assert_eq!(shared.written_out(), 6);
    let looped = loads(b"\x80\x04]\x94h\x00a.").unwrap();
    assert_eq!(looped.repr(80), "[[...]]");
    assert_eq!(looped.written_out(), usize::MAX);
}

fn repr_of(pickled: &[u8]) -> String {
    let value = loads(pickled);
    value.map_or_else(|refused| refused.to_string(), |v| v.repr(80))
}

fn keeps_order_shares_what_the_memo_shares_and_prints_loops() {
    let dict = b"\x80\x04}\x94(\x8c\x01b\x94K\x01\x8c\x01a\x94K\x02u.";
    assert_eq!(repr_of(dict), "{'b': 1, 'a': 2}");
    // [a, a], then 2 appended to a: both places show it, as in Python.
    assert_eq!(repr_of(b"](]\x94h\x00eh\x00K\x02a0."), "[[2], [2]]");
    assert_eq!(repr_of(b"\x80\x04]\x94h\x00a."), "[[...]]");
    assert_eq!(repr_of(b"}\x94K\x01h\x00s."), "{1: {...}}");
    assert_eq!(repr_of(b"(K\x01K\x02K\x01\x91."), "frozenset({1, 2})");
}

fn repr_stops_at_its_budget() {
    let value = loads(b"](K\x01\x8c\x02\xc3\xa9\x94e.").unwrap();
    assert_eq!(value.repr(8), "[1, 'é']");
    assert_eq!(value.repr(6), "[1, 'é...");
    assert_eq!(value.repr(0), "...");
}

fn refusals_say_what_and_where() {
    for (pickled, refusal) in [
        (&b"K"[..], "opcode b'K' at offset 0: the pickle ends inside it"),
        (
            b"\x80\x02c__main__\nf\n.",
            "the pickle names the global __main__.f, which plain data \
             does not need",
        ),
        (b"I1\nI2\nb.", "opcode b'b' at offset 6: plain data does not need it"),
        (b"}(]K\x01u.", "opcode b'u' at offset 5: unhashable type: 'list'"),
    ] {
        assert_eq!(repr_of(pickled), refusal);
    }
}

fn printable_follows_python_at_the_edges_of_its_table() {
    for c in [' ', '~', '\u{a1}', 'é', '中', '\u{1f600}', '\u{e0100}'] {
        assert!(is_printable(c), "{c:?}");
    }
    let not = ['\0', '\x7f', '\u{a0}', '\u{ad}', '\u{2028}', '\u{378}'];
    for c in not.into_iter().chain(['\u{e000}', '\u{e0001}', '\u{10ffff}']) {
        assert!(!is_printable(c), "{c:?}");
    }
}

fn reprs_quote_and_escape_as_python_does() {
    assert_eq!(str_repr("say \"hi\""), r#"'say "hi"'"#);
    assert_eq!(str_repr("it's\t"), r#""it's\t""#);
    assert_eq!(str_repr("both ' and \""), r#"'both \' and "'"#);
    assert_eq!(
        str_repr("\\\r\x07\u{a0}é\u{2028}\u{e0001}\u{1f600}"),
        "'\\\\\\r\\x07\\xa0é\\u2028\\U000e0001\u{1f600}'"
    );
    assert_eq!(escape("\t'\\"), r"\t'\");
    assert_eq!(escape("a\\b\n\x1b[2J\u{2028}"), r"a\b\n\x1b[2J\u2028");
    assert_eq!(bytes_repr(b"\x80\x03it's\n"), r#"b"\x80\x03it's\n""#);
    assert_eq!(bytes_repr(b"\\\t\x7f\"'"), r#"b'\\\t\x7f"\''"#);
    assert_eq!(bytes_repr(b""), "b''");
}

fn floats_switch_to_exponents_where_python_does() {
    for (number, python) in [
        (1.0, "1.0"),
        (0.1, "0.1"),
        (1e15, "1000000000000000.0"),
        (1e16, "1e+16"),
        (-0.0, "-0.0"),
        (0.0001, "0.0001"),
        (1.5e-7, "1.5e-07"),
        (2.5e300, "2.5e+300"),
        (f64::NEG_INFINITY, "-inf"),
        (-204_921_607_815_722.12, "-204921607815722.12"),
        (123456789012345678.0, "1.2345678901234568e+17"),
    ] {
        assert_eq!(float_repr(number), python);
    }
}
