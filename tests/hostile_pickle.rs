//! Lesson 5's client against hostile pickles: each ends fast in a clear
//! refusal and exit status 1, never a crash, a hang or gigabytes of memory.
//! And the plain values Python writes, shared objects included, still read.

mod support;

use std::io::Write;
use std::net::TcpListener;
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use socket_lessons::old::framing::frame;
use socket_lessons::old::unpickle::{
    MAX_DEPTH, MAX_INT_BYTES, MAX_INT_DIGITS, disassemble,
};
use support::{
    Output, assert_exit, assert_transcript, lesson, python3, run, unfold,
};

/// A hostile message must be refused in well under this.
const FAST: Duration = Duration::from_secs(10);

/// Lesson 5's client against a server that sends `pickle`, framed, and
/// closes. Also checks that the client took less than [`FAST`].
fn client_given(pickle: &[u8]) -> Output {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let framed = frame(pickle).unwrap();
    thread::spawn(move || {
        let (mut client, _) = listener.accept().unwrap();
        let _ = client.write_all(&framed);
    });
    let started = Instant::now();
    let output = run(lesson("lesson_05", &["client", "--port", &port]));
    assert!(started.elapsed() < FAST, "took {:?}", started.elapsed());
    output
}

/// Sends `pickle` and checks that the client refuses it with `message`.
fn assert_refused(pickle: &[u8], message: &str) -> Output {
    let output = client_given(pickle);
    assert_exit(&output, 1);
    assert!(
        unfold(&output.stderr).contains(message),
        "expected {message:?} on stderr, got:\n{}",
        output.stderr
    );
    assert!(!unfold(&output.stderr).contains("panicked"), "{}", output.stderr);
    output
}

/// `pickle.dumps(eval(expression), protocol)`, by Python itself.
fn python_pickle(expression: &str, protocol: u8) -> Option<Vec<u8>> {
    support::python_pickles(&[expression], protocol)?.pop()
}

/// The line the client prints for the one value it received.
fn printed_value(output: &Output) -> String {
    assert_exit(output, 0);
    let story = ["connecting to", "connected from", "header b'"];
    unfold(&output.stdout)
        .lines()
        .map(|line| line.trim_start_matches("[client] "))
        .find(|line| !story.iter().any(|words| line.starts_with(words)))
        .unwrap()
        .to_string()
}

const DEEP: usize = 50_000;

#[test]
fn deep_nesting_of_every_container_is_refused() {
    let refusal = "nests deeper than 100 levels";
    // Lists: EMPTY_LIST again and again, then APPEND each into the last.
    let lists = [&b"]".repeat(DEEP), &b"a".repeat(DEEP - 1), &b"."[..]];
    let output = assert_refused(&lists.concat(), refusal);
    assert_transcript("pickle", "deep-nesting", &output.stderr);
    // Tuples: None in a TUPLE1 in a TUPLE1...
    let tuples = [&b"N"[..], &b"\x85".repeat(DEEP), b"."];
    assert_refused(&tuples.concat(), refusal);
    // Dicts: {1: {1: ... None}}, with SETITEM.
    let dicts = [&b"}K\x01".repeat(DEEP), &b"N"[..], &b"s".repeat(DEEP), b"."];
    assert_refused(&dicts.concat(), refusal);
    // frozensets of frozensets, as Python writes them at protocol 4.
    let frozensets = [&b"(".repeat(200), &b"\x91".repeat(200), &b"."[..]];
    assert_refused(&frozensets.concat(), refusal);
    // Protocol 0's MARK and LIST: the marks run out first.
    let marked = [&b"(".repeat(DEEP), &b"l".repeat(DEEP), &b"."[..]];
    assert_refused(&marked.concat(), "opens more than 256 marks");
}

#[test]
fn a_value_at_the_depth_bound_reads_and_one_level_more_does_not() {
    let expression =
        |depth: u64| format!("eval('[' * {depth} + ']' * {depth})");
    for protocol in [0, 4] {
        let Some(pickle) = python_pickle(&expression(MAX_DEPTH), protocol)
        else {
            return;
        };
        let depth = MAX_DEPTH as usize;
        let expected = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(printed_value(&client_given(&pickle)), expected);
        let pickle = python_pickle(&expression(MAX_DEPTH + 1), protocol);
        assert_refused(&pickle.unwrap(), "nests deeper than 100 levels");
    }
}

/// Each level is a list of ten copies of the one below: 10 ** levels ones.
fn memo_copies(levels: usize) -> Vec<u8> {
    let level = [&b"("[..], &b"h\x00".repeat(10), b"lq\x00"].concat();
    [&b"K\x01q\x00"[..], &level.repeat(levels), b"."].concat()
}

#[test]
fn memo_copies_and_dup_cannot_blow_a_value_up() {
    let output = assert_refused(
        &memo_copies(6),
        "holds more than 100000 values, counting each copy",
    );
    assert_transcript("pickle", "memo-copies", &output.stderr);
    // 30 levels would be 10 ** 30 values.
    assert_refused(&memo_copies(30), "holds more than 100000 values");
    // DUP, DUP, TUPLE3: three copies a level, 3 ** 40 in all.
    let dups = [&b"N"[..], &b"22\x87".repeat(40), b"."].concat();
    assert_refused(&dups, "holds more than 100000 values");
    // A 3 MB string used twice is over the size bound.
    let string = [&b"X\x00\x00\x30\x00"[..], &[b'a'; 3 << 20], b"q\x00"];
    let twice = [&string.concat(), &b"h\x00\x86."[..]].concat();
    assert_refused(&twice, "more than 4194304 bytes written out in full");
}

#[test]
fn a_flood_of_marks_is_refused() {
    let marks = [&b"(".repeat(1_000_000), &b"N."[..]].concat();
    let output = assert_refused(&marks, "opens more than 256 marks (MARK)");
    assert_transcript("pickle", "mark-flood", &output.stderr);
}

#[test]
fn integers_too_long_to_print_are_refused() {
    let refusal = format!("this program reads up to {MAX_INT_BYTES}");
    // LONG4: a length, then that many bytes of two's complement.
    let length = (MAX_INT_BYTES as u32 + 1).to_le_bytes();
    let long4 = [&b"\x8b"[..], &length, &vec![0x7f; MAX_INT_BYTES + 1], b"."];
    let output = assert_refused(&long4.concat(), &refusal);
    assert_transcript("pickle", "long-integer", &output.stderr);
    let a_million_bytes = (1_000_000u32).to_le_bytes();
    let huge = [&b"\x8b"[..], &a_million_bytes, &vec![0x7f; 1_000_000], b"."];
    assert_refused(&huge.concat(), &refusal);
    // Protocol 0's text integers, INT and LONG.
    let digits = "9".repeat(MAX_INT_DIGITS + 1);
    let refusal = format!("more than the {MAX_INT_DIGITS} Python prints");
    assert_refused(format!("I{digits}\n.").as_bytes(), &refusal);
    assert_refused(format!("L{digits}L\n.").as_bytes(), &refusal);
    // The longest binary integer read still prints.
    let longest =
        [&b"\x8b"[..], &(MAX_INT_BYTES as u32).to_le_bytes(), &[0x7f; 1785]];
    let output = client_given(&[&longest.concat()[..], b"."].concat());
    assert!(printed_value(&output).len() >= 4298, "{}", output.stdout);
}

#[test]
fn objects_of_classes_are_refused() {
    for (pickle, opcode) in [
        (&b"cbuiltins\nset\n)\x81."[..], "NEWOBJ"),
        (b"cbuiltins\nset\n)}\x92.", "NEWOBJ_EX"),
        (b"(cbuiltins\nset\no.", "OBJ"),
        (b"}}b.", "BUILD"),
    ] {
        assert_refused(pickle, &format!("uses the opcode {opcode}"));
    }
    assert_refused(b"(i__main__\nPoint\n.", "names the global __main__.Point");
    // set(None): a call with an argument that is not a tuple, which Python
    // itself refuses. It must not pass as set().
    assert_refused(
        b"cbuiltins\nset\nNR.",
        "with arguments plain data never has",
    );
}

#[test]
fn types_other_than_plain_data_are_refused_by_name() {
    for (expression, global) in [
        ("datetime.datetime(2024, 1, 1)", "datetime.datetime"),
        ("decimal.Decimal('1.5')", "decimal.Decimal"),
        ("1 + 2j", "complex"),
        ("collections.OrderedDict(a=1)", "collections.OrderedDict"),
    ] {
        for protocol in 0..=5 {
            let Some(pickle) = python_pickle(expression, protocol) else {
                return;
            };
            let output = assert_refused(
                &pickle,
                &format!("{global}; this program reads"),
            );
            if protocol == 4 && global == "datetime.datetime" {
                assert_transcript("pickle", "datetime", &output.stderr);
            }
        }
    }
}

#[test]
fn shared_objects_read_and_a_value_that_contains_itself_is_refused() {
    for protocol in 0..=5 {
        let Some(shared) = python_pickle("shared", protocol) else {
            return;
        };
        let output = client_given(&shared);
        assert_eq!(printed_value(&output), "[[[1], [1]], [[1], [1]]]");
        let strings = python_pickle("[['abc']] * 2", protocol).unwrap();
        let output = client_given(&strings);
        assert_eq!(printed_value(&output), "[['abc'], ['abc']]");
        let recursive = python_pickle("recursive", protocol).unwrap();
        let output = assert_refused(&recursive, "contains itself");
        if protocol == 4 {
            assert_transcript("pickle", "recursive", &output.stderr);
        }
    }
}

/// Python writes a bytearray as a call of `bytearray` (protocols 0 to 4)
/// or with its own opcode (5); the client prints it as Python does, not as
/// bytes, wherever it sits.
#[test]
fn a_bytearray_prints_as_python_prints_it_at_every_protocol() {
    for (expression, printed) in [
        ("bytearray(b'ab')", "bytearray(b'ab')"),
        ("bytearray()", "bytearray(b'')"),
        (
            "[bytearray(b'x\\xff')] * 2",
            "[bytearray(b'x\\xff'), bytearray(b'x\\xff')]",
        ),
        ("(bytearray(b'a'), b'a')", "(bytearray(b'a'), b'a')"),
        ("{1: bytearray(b'z')}", "{1: bytearray(b'z')}"),
    ] {
        for protocol in 0..=5 {
            let Some(pickle) = python_pickle(expression, protocol) else {
                return;
            };
            let output = client_given(&pickle);
            assert_eq!(printed_value(&output), printed, "protocol {protocol}");
        }
    }
}

/// Python cannot hash a bytearray, so no pickle of its can hold one as a
/// set item or a dict key; a forged one is refused, as Python refuses it.
#[test]
fn a_bytearray_as_a_key_is_refused() {
    let unhashable = "a dict key or set item is a list, dict, set or bytearray";
    let bytearray = b"\x96\x01\x00\x00\x00\x00\x00\x00\x00a";
    let in_a_set = [&b"\x80\x05\x8f("[..], bytearray, b"\x90."].concat();
    assert_refused(&in_a_set, unhashable);
    assert_refused(b"}(cbuiltins\nbytearray\n)RK\x01u.", unhashable);
}

/// A literal serde-pickle cannot read is the peer's text: the message shows
/// a little of it, escaped, never a control character or a megabyte.
#[test]
fn a_bad_literal_is_shown_short_and_escaped() {
    let output = assert_refused(
        b"I\x1b[31mRED\n.",
        "INT at offset 0: literal is invalid: \\u{1b}[31mRED",
    );
    assert!(!output.stderr.contains('\x1b'), "{:?}", output.stderr);
    let long = [&b"F"[..], &[b'x'; 1_000_000], b"\n."].concat();
    let output = assert_refused(&long, "FLOAT at offset 0: literal is invalid");
    assert!(output.stderr.len() < 1000, "{} bytes", output.stderr.len());
}

#[test]
fn an_unknown_opcode_is_named() {
    assert_refused(
        b"\x80\x04\xff.",
        "byte 0xff at offset 2 is no pickle opcode",
    );
}

/// The listing names each opcode at the offset where Python's pickletools
/// finds it.
#[test]
fn the_listing_agrees_with_pickletools() {
    let Some(pickle) = python_pickle("{1: 'Client', 2: 'Server'}", 4) else {
        return;
    };
    let listing = disassemble(&pickle).unwrap();
    assert_transcript("pickle", "dis-tutorial-dict", &listing);
    let mut python = python3("tests/python/opcodes.py").unwrap();
    let mut child =
        python.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let hex: String = pickle.iter().map(|byte| format!("{byte:02x}")).collect();
    child.stdin.take().unwrap().write_all(hex.as_bytes()).unwrap();
    let python = child.wait_with_output().unwrap();
    let ours: Vec<String> = listing
        .lines()
        .map(|line| {
            let (offset, rest) = line.split_once(':').unwrap();
            let name = rest.split_whitespace().next().unwrap();
            format!("{} {name}", offset.trim())
        })
        .collect();
    let theirs: Vec<&str> =
        std::str::from_utf8(&python.stdout).unwrap().lines().collect();
    assert_eq!(ours, theirs);
    // What lesson 5's Rust server sends for its set, a call of builtins.set.
    let set = serde_pickle::value_to_vec(
        &serde_pickle::Value::Set(
            [1, 2, 3].map(serde_pickle::HashableValue::I64).into(),
        ),
        serde_pickle::SerOptions::new(),
    )
    .unwrap();
    assert_transcript(
        "pickle",
        "dis-rust-server-set",
        &disassemble(&set).unwrap(),
    );
}
