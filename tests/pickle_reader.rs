//! The pickle reader (`src/pickle.rs`) and the text helpers (`src/text.rs`)
//! against Python itself: what Python writes at protocols 0 to 5 prints as
//! Python prints it, hand-made pickles read as Python reads them (or are
//! refused where Python fails), hostile pickles end fast in a refusal, and
//! `is_printable` is `str.isprintable()` for every code point.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use socket_lessons::framing::DEFAULT_MAX_LEN;
use socket_lessons::pickle::{MAX_DEPTH, MAX_INT_DIGITS, loads};
use socket_lessons::text::is_printable;

/// Held by the tests that take seconds of both cores, and by the one that
/// times the reader, so that these do not run at once.
fn alone() -> MutexGuard<'static, ()> {
    static HEAVY: Mutex<()> = Mutex::new(());
    HEAVY.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What `script` prints, run by python3; None (and a note) if there is none.
fn python(script: &str) -> Option<Vec<u8>> {
    let child = Command::new("python3")
        .arg("-")
        .env("PYTHONIOENCODING", "utf-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        println!("skipped: python3 not found");
        return None;
    };
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "python3 failed on:\n{script}");
    Some(output.stdout)
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
    let Some(printed) = python(script) else { return 0 };
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

#[test]
pub fn prints_what_python_writes_as_python_prints_it() {
    let count = assert_read_as_python_reads(CORPUS);
    assert!(count == 0 || count > 500, "{count}");
}

/// Pickles made by hand: opcodes Python 3 no longer writes (py2 strs),
/// text forms, repeated keys, odd calls; each read as Python reads it, or
/// refused where Python fails.
const HAND_MADE: &str = r#"
import pickle
NAN = b'\x7f\xf8' + bytes(6)
pickles = [
    # py2 strs, and protocol 0's str
    b"S'it\\'s\\n\\x41\\t\\\\ \\q\\101\\7777'\n.", b'S"say \\"hi\\""\n.',
    b"S'\\x4'\n.", b"S'no end\n.", b"S'\xc3\xa9'\n.", b"S'\\'\n.",
    b"T\x02\x00\x00\x00ab.", b"U\x02cd.", b"U\x01\xe9.",
    b'V\\u0041\\U0001f600\\x\\\\u0041\xe9\\\n.', b'V\\u00\n.',
    b'V\\U00110000\n.', b'X\x02\x00\x00\x00\xed\xa0.', b'C\x03abc.',
    # numbers as text, and binary ints
    b'I00\n.', b'I01\n.', b'I-7\n.', b'I\n.', b'I' + b'9' * 4300 + b'\n.',
    b'L12L\n.', b'L-99999999999999999999L\n.', b'L5\n.',
    b'F1.5\n.', b'Finf\n.', b'F-nan\n.', b'F1e999\n.', b'F1.5x\n.', b'F\n.',
    b'F1_0\n.', b'F 1.5\n.', b'F1E5\n.', b'F.5\n.', b'F5.\n.', b'Finfinity\n.',
    b'\x8a\x00.', b'\x8a\x01\xff.', b'\x8b\x02\x00\x00\x00\x00\x80.',
    # equal keys and items: the first key's place, the last value
    b'}(K\x01K\x02K\x01K\x03u.', b'\x8f(K\x01K\x02K\x01\x88\x90.',
    b'}(K\x01K\x02\x88K\x03G?\xf0\x00\x00\x00\x00\x00\x00K\x04u.',
    b'(K\x01K\x01\x91.', b'}()]\x85K\x01u.', b'}(G' + NAN + b'K\x012K\x02u.',
    b'\x8f(G' + NAN + b'G' + NAN + b'\x90.', b'\x8f(G' + NAN + b'2\x90.',
    b'}(]K\x02u.', b'\x8f(}\x90.', b'\x8f(\x96' + bytes(8) + b'\x90.',
    b'\x8f(K\x02K\x01K\x02\x88u.',
    # the stack, marks and memo
    b'NN.', b'(N.', b'N0N.', b'(0N.', b'(N1N.', b']K\x01a.', b')K\x01a.',
    b']q\x05h\x05a.', b']p12\ng12\na.', b'N\x94h\x00.', b'h\x00.',
    b'\x80\x06N.', b'\x95\x05\x00\x00\x00\x00\x00\x00\x00N.',
    # globals and calls
    b'c__builtin__\nset\n)R.', b'cbuiltins\nlist\n(K\x01K\x02tR.',
    b'cbuiltins\ntuple\n]K\x01a\x85R.', b'cbuiltins\ndict\n}K\x01K\x02s\x85R.',
    b'c__builtin__\nbytearray\nVab\nVlatin-1\n\x86R.',
    b'c_codecs\nencode\nV\xe9\nVlatin1\n\x86R.',
    b'c_codecs\nencode\nV\\u0100\nVlatin1\n\x86R.',
    b'\x8c\x08builtins\x8c\tfrozenset\x93]K\x03a\x85R.',
    b'K\x01K\x02\x86R.',
]
# What Python reads and the reader refuses: other globals, calls Python's
# pickler never writes, such as bytes(n) and list(dict), and numbers written
# otherwise (C's strtol reads I007 as octal).
stricter = [
    b'\x8c\x02os\x8c\x06system\x93.', b'cos\nsystem\n.',
    b'cbuiltins\nbytes\nK\x01\x85R.', b'cbuiltins\nlist\n}\x85R.',
    b'c_codecs\nencode\nVa\nVutf-8\n\x86R.', b'cbuiltins\nset\n\x85.',
    b'I007\n.', b'I1_0\n.', b'L0x10\n.', b'I+5\n.', b'I 5\n.', b'L00\n.',
]
for data in stricter:
    print(data.hex(), 'refused: ' + repr(pickle.loads(data)), sep='\t')
for data in pickles:
    try:
        print(data.hex(), repr(pickle.loads(data)), sep='\t')
    except Exception as error:
        print(data.hex(), f'error: {error!r}', sep='\t')
"#;

#[test]
pub fn reads_hand_made_pickles_as_python_does() {
    assert_read_as_python_reads(HAND_MADE);
}

/// The one size limit is the length header's: a bytes value whose pickle
/// is as long as a message may be is read, written as protocol 2 writes it
/// (`_codecs.encode(str, 'latin1')`), as protocol 3 (BINBYTES) and as 5
/// (BINBYTES8).
#[test]
pub fn reads_a_bytes_as_long_as_a_message() {
    let _alone = alone();
    // For each protocol: the pickle, and Python's repr of what it reads,
    // each after its length (8 bytes, little-endian).
    let script = format!(
        "import pickle, sys\n\
         n = {DEFAULT_MAX_LEN}\n\
         for protocol in 2, 3, 5:\n\
         \x20   extra = len(pickle.dumps(b'x' * n, protocol=protocol)) - n\n\
         \x20   data = pickle.dumps(b'x' * (n - extra), protocol=protocol)\n\
         \x20   assert len(data) == n\n\
         \x20   for piece in data, repr(pickle.loads(data)).encode():\n\
         \x20       sys.stdout.buffer.write(len(piece).to_bytes(8, 'little'))\n\
         \x20       sys.stdout.buffer.write(piece)\n"
    );
    let Some(printed) = python(&script) else { return };
    let mut rest = &printed[..];
    let mut next = || {
        let (len, after) = rest.split_at(8);
        let len = u64::from_le_bytes(len.try_into().unwrap()) as usize;
        let (piece, after) = after.split_at(len);
        rest = after;
        piece
    };
    for _ in 0..3 {
        let (pickled, python) = (next(), next());
        let repr = loads(pickled).unwrap().repr(usize::MAX - 10);
        assert!(repr.as_bytes() == python, "{:?}", &pickled[..20]);
    }
}

/// A hostile pickle ends in a refusal that says why, fast, and so does
/// printing a value that would be endless written out.
#[test]
pub fn refuses_hostile_pickles_fast() {
    let _alone = alone();
    let deep_lists = [vec![b']'; 100_000], vec![b'a'; 99_999], vec![b'.']];
    let mut doubled = b"K\x01".to_vec(); // (x, x), 99 levels: 2**99 ones
    for _ in 1..MAX_DEPTH {
        doubled.extend(b"2\x86");
    }
    doubled.push(b'.');
    let long_int = [&b"I"[..], &[b'7'; MAX_INT_DIGITS + 1], b"\n."].concat();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"".to_vec(), "ends before its STOP"),
        (b"\x80\x04\x95".to_vec(), "FRAME at offset 2: the pickle ends"),
        (b"Nr\x40\x42\x0f\x00.".to_vec(), "a memo index of 1000000"),
        (
            b"X\xff\xff\xff\x7fab.".to_vec(),
            "BINUNICODE at offset 0: the pickle ends",
        ),
        (b"\x8d\xff\xff\xff\xff\xff\xff\xff\xff.".to_vec(), "ends inside it"),
        (b"\x8b\xff\xff\xff\xff.".to_vec(), "negative length"),
        (b"N.N".to_vec(), "1 bytes follow it"),
        (b"a.".to_vec(), "the stack is empty"),
        (b".".to_vec(), "the stack is empty"),
        (b"(.".to_vec(), "the stack is empty"),
        ([vec![b'('; 100_000], vec![b'.']].concat(), "too many MARKs"),
        ([&b"]"[..], &vec![0x94; 1_000_001], b"."].concat(), "a memo index"),
        ([vec![b'N'; 2_000_000], vec![b'.']].concat(), "on the stack"),
        ([vec![b']'; 1_100_000], vec![b'.']].concat(), "objects"),
        (deep_lists.concat(), "nests deeper than 100"),
        ([&b"N"[..], &vec![0x85; 100_000], b"."].concat(), "nests deeper"),
        (long_int, "digits"),
        (
            [&b"\x8b\xfa\x06\x00\x00"[..], &[1; 1786], b"."].concat(),
            "the 4300 Python 3.11 prints",
        ),
        (b"Vab\xff\\u12\n.".to_vec(), "UNICODE at offset 0: a bad escape"),
        (b"X\x01\x00\x00\x00\xff.".to_vec(), "not UTF-8"),
        (b"F1.5x\n.".to_vec(), "FLOAT at offset 0: not a number: 1.5x"),
        ([&b"F"[..], &[b'\x1b'; 100], b"\n."].concat(), r"\x1b\x1b..."),
        (b"cos\nsystem\n.".to_vec(), "names the global os.system, which plain"),
        (
            b"\x80\x02cposix\nsystem\nX\x02\x00\x00\x00lsq\x00\x85R.".to_vec(),
            "posix.system",
        ),
        (
            b"(i__main__\nC\n.".to_vec(),
            "INST at offset 1: plain data does not need it",
        ),
        (b"N\x81.".to_vec(), "NEWOBJ"),
        (b"}Nb.".to_vec(), "BUILD"),
        (b"P1\n.".to_vec(), "PERSID"),
        (b"\x82\x01.".to_vec(), "EXT1"),
        (b"\xff.".to_vec(), "byte 0xff at offset 0: no such opcode"),
        (b"}(]K\x02u.".to_vec(), "unhashable type: 'list'"),
        (
            b"\x8f(\x96\x00\x00\x00\x00\x00\x00\x00\x00\x90.".to_vec(),
            "'bytearray'",
        ),
        (b"cbuiltins\nset\n\x85.".to_vec(), "builtins.set used as a value"),
    ];
    let read = |pickled: &[u8]| loads(pickled).map(|value| value.repr(1000));
    // Fast at least once in three tries: a busy machine is not the reader.
    let fast = |pickled: &[u8]| {
        (0..3).any(|_| {
            let started = Instant::now();
            let _ = read(pickled);
            started.elapsed() < Duration::from_secs(1)
        })
    };
    for (pickled, message) in cases {
        let shown = String::from_utf8_lossy(&pickled[..pickled.len().min(40)]);
        assert!(fast(&pickled), "{shown:?} is slow");
        let refused = read(&pickled).unwrap_err().to_string();
        assert!(refused.contains(message), "{shown:?}: {refused}");
        assert!(!refused.contains('\n') && refused.len() < 200, "{refused}");
    }
    // Lists nested while empty, 100,000 deep: each was one deep when it was
    // put in the one before, so `loads` takes them; `to_serde` does not.
    let mut nested = b"]r\0\0\0\0".to_vec();
    for level in 1..100_000u32 {
        let level = level.to_le_bytes();
        nested.extend([&b"]r"[..], &level, b"a0j", &level].concat());
    }
    nested.extend(b"0j\0\0\0\0.");
    assert!(fast(&nested));
    assert_eq!(read(&nested).unwrap(), format!("{}...", "[".repeat(1000)));
    let refused = loads(&nested).unwrap().to_serde().unwrap_err();
    assert!(refused.to_string().contains("nests deeper than 100"));
    assert!(fast(&doubled));
    assert_eq!(read(&doubled).unwrap().len(), 1003);
    let refused = loads(&doubled).unwrap().to_serde().unwrap_err();
    assert!(refused.to_string().contains("more than 100000 values"));
}

/// `str.isprintable()` for all 0x110000 code points, from one python3.
#[test]
pub fn is_printable_is_pythons_for_every_code_point() {
    let _alone = alone();
    let script = "import sys\n\
        print(' '.join(str(c) for c in range(0x110000) \
        if not chr(c).isprintable()))";
    let Some(printed) = python(script) else { return };
    let printed = String::from_utf8(printed).unwrap();
    let python: Vec<u32> =
        printed.split_whitespace().map(|c| c.parse().unwrap()).collect();
    let ours: Vec<u32> = (0..0x110000)
        .filter(|&c| char::from_u32(c).is_none_or(|c| !is_printable(c)))
        .collect();
    assert_eq!(ours.len(), python.len());
    assert!(ours == python);
}

/// What lesson 11 does with a value: serde-pickle's `Value`, then a type.
#[test]
pub fn to_serde_copies_shared_objects_and_refuses_loops() {
    let shared =
        loads(b"\x80\x04]\x94(]\x94K\x01ah\x01\x96\x01\0\0\0\0\0\0\0ze.");
    let value = shared.unwrap().to_serde().unwrap();
    use serde_pickle::Value::{Bytes, I64, List};
    let one = List(vec![I64(1)]);
    assert_eq!(value, List(vec![one.clone(), one, Bytes(b"z".to_vec())]));
    let looped = loads(b"\x80\x04]\x94h\x00a.").unwrap();
    assert_eq!(looped.repr(80), "[[...]]");
    assert!(looped.to_serde().unwrap_err().to_string().contains("itself"));
}
