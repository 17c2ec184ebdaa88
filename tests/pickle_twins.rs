//! Lesson 5's two clients, Rust and Python, read the same pickles the same
//! way: for every message of a corpus (plain values Python writes at each
//! protocol, and every hostile kind of tests/hostile_pickle.rs) they print
//! the same lines on stdout and on stderr, and end with the same status.

mod support;

use std::io::Write;
use std::net::TcpListener;
use std::process::Stdio;
use std::thread;

use socket_lessons::old::framing::frame;
use socket_lessons::old::python::repr;
use socket_lessons::old::unpickle::{
    MAX_DEPTH, MAX_INT_BYTES, MAX_INT_DIGITS, unpickle,
};
use support::{
    Output, lesson, mask_ports, python_pickles, python3, run, unfold,
};

/// A one-connection server that sends `pickle`, framed, and closes.
fn serve(pickle: &[u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let framed = frame(pickle).unwrap();
    thread::spawn(move || {
        let (mut client, _) = listener.accept().unwrap();
        let _ = client.write_all(&framed);
    });
    port
}

fn rust_client(pickle: &[u8]) -> Output {
    let port = serve(pickle);
    run(lesson("lesson_05", &["client", "--port", &port]))
}

fn python_client(pickle: &[u8]) -> Option<Output> {
    let port = serve(pickle);
    let mut client = python3("lessons/python/lesson_05.py")?;
    client.args(["client", "--port", &port]).env_remove("CLICOLOR_FORCE");
    Some(run(client))
}

/// Plain values, shared and recursive ones, and values of other types.
const EXPRESSIONS: &[&str] = &[
    "{1: 'Client', 2: 'Server'}",
    "[1, 2, 'abc']",
    "('Python', 3, 3.5, True)",
    "{1, 2, 3}",
    "{2: 'b', 1: 'a', 'key': None, b'k': 0.5, (1, 2): frozenset({3})}",
    "{3, 1, 2, -7, 10**30}",
    "('one',)",
    "()",
    "set()",
    "frozenset({0, 5})",
    "frozenset()",
    r#""quotes ' and \" and \\ and \t\n\x00 é 中 \u00a0 \U0001f600""#,
    "\"it's\"",
    r"b'\x00\x01\xff bytes q'",
    "bytearray(b'bytearray')",
    "bytearray()",
    "[bytearray(b'x'), (bytearray(), 1), {2: bytearray(b'y')}]",
    "b''",
    "[0, -1, 255, 256, 65535, 2**31 - 1, -(2**31), 2**63 - 1, -(2**63), 2**64, -(2**100)]",
    "[0.0, -0.0, 1.0, 0.1, 1e16, 1e-5, 1.5e300, float('inf'), float('-inf'), float('nan')]",
    "[True, False, None]",
    "{'nested': [1, (2, {3: frozenset({4})}), {'a': None}], 'x': b'x'}",
    "[[], [[]], {}, ()]",
    "[['abc']] * 2",
    "shared",
    "recursive",
    "[recursive]",
    "eval('[' * 100 + ']' * 100)",
    "eval('[' * 101 + ']' * 101)",
    "eval('(' * 101 + ')' * 101)",
    "[[1] * 1000] * 100",
    "[[1] * 1000] * 101",
    "10 ** 4299",
    "2 ** 14280",
    "datetime.datetime(2024, 1, 1)",
    "decimal.Decimal('1.5')",
    "1 + 2j",
    "collections.OrderedDict(a=1)",
    "range(3)",
    "[1, datetime.date(2024, 1, 1)]",
];

const DEEP: usize = 50_000;

/// Hostile pickles, written by hand.
fn hostile() -> Vec<Vec<u8>> {
    let memo_copies = |levels: usize| {
        let level = [&b"("[..], &b"h\x00".repeat(10), b"lq\x00"].concat();
        [&b"K\x01q\x00"[..], &level.repeat(levels), b"."].concat()
    };
    let int_bytes = |length: usize| {
        let count = (length as u32).to_le_bytes();
        [&b"\x8b"[..], &count, &vec![0x7f; length], b"."].concat()
    };
    let string = [&b"X\x00\x00\x30\x00"[..], &[b'a'; 3 << 20], b"q\x00"];
    let digits = "9".repeat(MAX_INT_DIGITS + 1);
    let fewer = "9".repeat(MAX_INT_DIGITS);
    let depth = MAX_DEPTH as usize;
    vec![
        // Deep nesting of each container.
        [&b"]".repeat(DEEP), &b"a".repeat(DEEP - 1), &b"."[..]].concat(),
        [&b"N"[..], &b"\x85".repeat(DEEP), b"."].concat(),
        [&b"\x80\x02K\x01"[..], &b"\x85".repeat(100_000), b"."].concat(),
        [&b"}K\x01".repeat(DEEP), &b"N"[..], &b"s".repeat(DEEP), b"."].concat(),
        [&b"(".repeat(200), &b"\x91".repeat(200), &b"."[..]].concat(),
        [&b"(".repeat(DEEP), &b"l".repeat(DEEP), &b"."[..]].concat(),
        [&b"(".repeat(300), &b"l".repeat(300), &b"."[..]].concat(),
        [&b"]".repeat(depth), &b"a".repeat(depth - 1), &b"."[..]].concat(),
        [&b"]".repeat(depth + 1), &b"a".repeat(depth), &b"."[..]].concat(),
        // Memo and DUP bombs, and a string used twice.
        memo_copies(4),
        memo_copies(6),
        memo_copies(30),
        [&b"N"[..], &b"22\x87".repeat(40), b"."].concat(),
        [&string.concat(), &b"h\x00\x86."[..]].concat(),
        [&b"N"[..], &b"2".repeat(300_000), b"."].concat(),
        [&b"Nq\x00"[..], &b"h\x00".repeat(300_000), b"."].concat(),
        b"N".iter()
            .chain(&b"p1\n".repeat(10))
            .chain(b"g1\n.")
            .copied()
            .collect(),
        (0..100_001u32)
            .flat_map(|i| {
                [&b"N\x94"[..], if i == 0 { b"" } else { b"0" }].concat()
            })
            .chain(*b"N.")
            .collect(),
        // Mark floods.
        [&b"(".repeat(1_000_000), &b"N."[..]].concat(),
        [&b"(".repeat(256), &b"N"[..], &b"t".repeat(256), b"."].concat(),
        // Huge integers.
        int_bytes(MAX_INT_BYTES),
        int_bytes(MAX_INT_BYTES + 1),
        int_bytes(1_000_000),
        format!("I{digits}\n.").into_bytes(),
        format!("L{digits}L\n.").into_bytes(),
        format!("L{fewer}L\n.").into_bytes(),
        b"I99999999999999999999\n.".to_vec(),
        b"I01\n.".to_vec(),
        b"I-5\n.".to_vec(),
        b"L1_000L\n.".to_vec(),
        b"Fnan\n.".to_vec(),
        b"F1e\n.".to_vec(),
        b"I\x1b[31mRED\n.".to_vec(),
        [&b"F"[..], &[b'x'; 1_000_000], b"\n."].concat(),
        b"Sabc\\q\n.".to_vec(),
        b"S'abc'\n.".to_vec(),
        b"U\x03abc.".to_vec(),
        b"X\x02\x00\x00\x00\xff\xfe.".to_vec(),
        b"V\\u12\n.".to_vec(),
        b"V\\ud800\n.".to_vec(),
        // Objects of classes, and the globals a value never needs.
        b"cbuiltins\nset\n)\x81.".to_vec(),
        b"cbuiltins\nset\n)}\x92.".to_vec(),
        b"(cbuiltins\nset\no.".to_vec(),
        b"}}b.".to_vec(),
        b"(i__main__\nPoint\n.".to_vec(),
        b"cos\nsystem\n(Vtouch /nonexistent/pwned\ntR.".to_vec(),
        b"\x80\x04\x8c\x02os\x8c\x06system\x93.".to_vec(),
        b"cbuiltins\nset\n.".to_vec(),
        b"cbuiltins\nset\nNR.".to_vec(),
        b"cbuiltins\nset\n](K\x01K\x01e\x85R.".to_vec(),
        b"cbuiltins\nset\n]]a\x85R.".to_vec(),
        b"cbuiltins\nbytearray\nK\x01\x85R.".to_vec(),
        b"c_codecs\nencode\nV\xe9\nVutf8\n\x86R.".to_vec(),
        b"\x80\x05\x8f(\x96\x01\x00\x00\x00\x00\x00\x00\x00a\x90.".to_vec(),
        b"}(cbuiltins\nbytearray\n)RK\x01u.".to_vec(),
        b"cbuiltins\nbytearray\nC\x01a\x85R\x85.".to_vec(),
        b"P1\n.".to_vec(),
        b"\x82\x01.".to_vec(),
        b"\x97.".to_vec(),
        // Dicts and sets serde-pickle reads its way.
        b"}(K\x02K\x01K\x01K\x02\x88K\x03u.".to_vec(),
        b"\x8f(K\x01\x88G?\xf0\x00\x00\x00\x00\x00\x00\x90.".to_vec(),
        b"}(]K\x01u.".to_vec(),
        b"(K\x01]\x86\x91.".to_vec(),
        b"}K\x01s.".to_vec(),
        // Shared and recursive values.
        b"\x80\x04]\x94(K\x01h\x00e.".to_vec(),
        b"}q\x00K\x01h\x00s.".to_vec(),
        b"]q\x00h\x00\x85.".to_vec(),
        // Unknown opcodes, truncated pickles, and other malformed ones.
        b"\x80\x04\xff.".to_vec(),
        b"\x80\x04NNNN\x95\x00\x00\x00\xff.".to_vec(),
        b"".to_vec(),
        b"N".to_vec(),
        b"\x80".to_vec(),
        b"X\xff\x00\x00\x00ab".to_vec(),
        b"T\xff\xff\xff\xffab.".to_vec(),
        b"\x8b\x10\x00\x00\x00ab.".to_vec(),
        b"I12".to_vec(),
        b"cos\nsys".to_vec(),
        b"N.N".to_vec(),
        b".".to_vec(),
        b"(.".to_vec(),
        b"e.".to_vec(),
        b"Ne.".to_vec(),
        b"NNa.".to_vec(),
        b"]Na1.".to_vec(),
        b"0.".to_vec(),
        b"NR.".to_vec(),
        b"h\x05.".to_vec(),
        b"gx\n.".to_vec(),
        b"p 7 \nN.".to_vec(),
        b"N\x93.".to_vec(),
        b"\x85.".to_vec(),
        b"(K\x01d.".to_vec(),
        b"}(K\x01u.".to_vec(),
        b"\x80\x03garbage".to_vec(),
        vec![b'N'; 16 << 20],
        [&b"\x80\x04".repeat((8 << 20) - 1)[..], b"N."].concat(),
    ]
}

/// What Rust's reader makes of `pickle`: `ok REPR` or `refused MESSAGE`,
/// as lesson 5's client would print it.
fn rust_reads(pickle: &[u8]) -> String {
    match unpickle(pickle) {
        Ok(value) => format!("ok {}", repr(&value)),
        Err(error) => format!("refused {error}"),
    }
}

/// What Python's reader (lessons/python/plain_pickle.py) makes of each
/// pickle, the same way, all in one Python process.
fn python_reads(pickles: &[Vec<u8>]) -> Option<Vec<String>> {
    // Only to learn that python3 is there (or to fail under CI if not).
    python3("lessons/python/plain_pickle.py")?;
    let program = "import sys, plain_pickle\n\
        for line in sys.stdin:\n    \
        try:\n        \
        value = plain_pickle.loads(bytes.fromhex(line.strip()))\n        \
        print('ok', plain_pickle.plain_repr(value))\n    \
        except plain_pickle.Refused as refusal:\n        \
        print('refused', refusal)\n";
    let mut child = std::process::Command::new("python3")
        .env("PYTHONPATH", support::root().join("lessons/python"))
        .args(["-c", program])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let pickles = pickles.to_vec();
    // Written from a thread: the pipe would fill while Python's output is
    // not yet read.
    let writer = thread::spawn(move || {
        for pickle in pickles {
            let hex: String =
                pickle.iter().map(|byte| format!("{byte:02x}")).collect();
            writeln!(stdin, "{hex}").unwrap();
        }
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(output.status.success(), "{output:?}");
    Some(
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(String::from)
            .collect(),
    )
}

/// Both readers given each pickle: the same line for every one.
fn assert_readers_agree(labels: &[String], pickles: &[Vec<u8>]) {
    let Some(python) = python_reads(pickles) else { return };
    assert_eq!(python.len(), pickles.len());
    let mut differ = 0;
    for ((label, pickle), python) in labels.iter().zip(pickles).zip(&python) {
        let rust = rust_reads(pickle);
        if rust != *python {
            eprintln!(
                "{label}: the readers differ\n  rust:   {rust}\n  python: {python}"
            );
            differ += 1;
        }
    }
    assert_eq!(differ, 0, "{differ} pickles read differently (see above)");
}

/// The two clients, end to end, given `pickle`: the same output, the same
/// status.
fn assert_clients_agree(pickle: &[u8]) {
    let Some(python) = python_client(pickle) else { return };
    let rust = rust_client(pickle);
    let show = |output: &Output| {
        (
            mask_ports(&unfold(&output.stdout)),
            mask_ports(&unfold(&output.stderr)),
            output.status.code(),
        )
    };
    assert_eq!(show(&rust), show(&python), "{}", short(pickle));
}

fn short(pickle: &[u8]) -> String {
    let shown: String = pickle
        .iter()
        .take(40)
        .flat_map(|byte| std::ascii::escape_default(*byte).map(char::from))
        .collect();
    format!(
        "{shown}{} ({} bytes)",
        if pickle.len() > 40 { "..." } else { "" },
        pickle.len()
    )
}

#[test]
fn both_readers_read_python_pickles_alike_at_every_protocol() {
    let (mut labels, mut pickles) = (Vec::new(), Vec::new());
    for protocol in 0..=5 {
        let Some(made) = python_pickles(EXPRESSIONS, protocol) else {
            return;
        };
        assert_eq!(made.len(), EXPRESSIONS.len());
        for (expression, pickle) in EXPRESSIONS.iter().zip(made) {
            labels.push(format!("protocol {protocol}, {expression}"));
            pickles.push(pickle);
        }
    }
    assert_readers_agree(&labels, &pickles);
}

#[test]
fn both_readers_refuse_hostile_pickles_alike() {
    let pickles = hostile();
    let labels: Vec<String> =
        pickles.iter().map(|pickle| short(pickle)).collect();
    assert_readers_agree(&labels, &pickles);
}

#[test]
fn both_clients_print_the_same_lines_end_to_end() {
    // A plain value, a refused global, a malformed pickle, and a value that
    // contains itself: the clients print what their readers say.
    let recursive = b"]q\x00h\x00a.".to_vec();
    for pickle in [
        b"\x80\x04]\x94(K\x01K\x02\x8c\x03abc\x94e.".to_vec(),
        b"cos\nsystem\n(Vecho hi\ntR.".to_vec(),
        b"\x80\x04\xff.".to_vec(),
        recursive,
    ] {
        assert_clients_agree(&pickle);
    }
}
