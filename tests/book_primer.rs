//! The examples of the book's chapter "The Rust the lessons use"
//! (book/src/rust-primer.md), each a test, so that every snippet the
//! chapter shows compiles and runs under `cargo test --test book_primer`.
//! The chapter includes the parts between `ANCHOR:` and `ANCHOR_END:`.

// ANCHOR: use
// Python: `import socket` or `from io import BytesIO`.
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

pub fn tests() -> Vec<libtest_mimic::Trial> {
    tests![
        let_and_let_mut,
        references,
        result_is_a_value,
        question_mark_passes_errors_up,
        match_with_guards,
        loops,
        arrays_slices_and_byte_strings,
        closures,
        move_and_threads,
        drop_closes_a_socket,
        macros,
        derive_writes_the_usual_methods,
        traits_read_and_write,
        constants,
        modules_and_use,
        exercise_what_is_left_in_the_buffer,
        exercise_fix_the_let,
        exercise_which_arm_matches,
        exercise_the_peer_reads_0_after_a_drop,
        exercise_bytes_that_are_not_utf8,
        the_chapter_shows_the_exercises_program,
    ]
}
// ANCHOR_END: use

fn let_and_let_mut() {
    // ANCHOR: let
    let size = 7; // size = 7, but it can never change
    let mut total = 0; // mut: this one may change
    total += size;
    total += size;
    assert_eq!(total, 14);
    // ANCHOR_END: let
}

fn references() {
    // ANCHOR: references
    fn count(bytes: &[u8]) -> usize {
        bytes.len() // may look at `bytes`, not change them
    }
    fn clear(bytes: &mut [u8]) {
        bytes.fill(0); // may change them
    }
    let mut buffer = [1, 2, 3];
    assert_eq!(count(&buffer), 3); // lend it to read
    clear(&mut buffer); // lend it to change
    assert_eq!(buffer, [0, 0, 0]);
    // ANCHOR_END: references
}

// ANCHOR: result
fn parse_port(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(port) => Ok(port),
        Err(_) => Err(format!("not a port: {text}")),
    }
}
// ANCHOR_END: result

fn result_is_a_value() {
    // ANCHOR: result-use
    assert_eq!(parse_port("4101"), Ok(4101));
    assert_eq!(parse_port("http"), Err("not a port: http".to_string()));
    // ANCHOR_END: result-use
}

// ANCHOR: question-mark
fn first_byte(mut reader: impl Read) -> io::Result<u8> {
    let mut buffer = [0; 1];
    // `?`: on Err, return it from this function at once (as an exception
    // would leave it); on Ok, take the value inside.
    reader.read_exact(&mut buffer)?;
    Ok(buffer[0])
}
// ANCHOR_END: question-mark

fn question_mark_passes_errors_up() {
    // ANCHOR: question-mark-use
    assert_eq!(first_byte(&b"Socket"[..]).unwrap(), b'S');
    let error = first_byte(&b""[..]).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    // ANCHOR_END: question-mark-use
}

fn match_with_guards() {
    // ANCHOR: match
    fn describe(received: usize, size: usize) -> &'static str {
        match received {
            0 => "the other side will send no more",
            n if n == size => "the buffer is full: there may be more",
            _ => "some bytes",
        }
    }
    assert_eq!(describe(0, 7), "the other side will send no more");
    assert_eq!(describe(7, 7), "the buffer is full: there may be more");
    assert_eq!(describe(3, 7), "some bytes");
    // ANCHOR_END: match
}

fn loops() {
    // ANCHOR: loop
    let mut stream = &b"Socket Programming"[..]; // a reader of 18 bytes
    let mut buffer = [0; 7];
    let mut pieces = Vec::new();
    loop {
        let received = stream.read(&mut buffer).unwrap();
        if received == 0 {
            break; // Python: break
        }
        pieces.push(received);
    }
    assert_eq!(pieces, [7, 7, 4]);
    // ANCHOR_END: loop

    // ANCHOR: while-let
    let mut waiting = vec!["header", "message"];
    let mut taken = Vec::new();
    // Python: while waiting: piece = waiting.pop(); ...
    while let Some(piece) = waiting.pop() {
        taken.push(piece);
    }
    assert_eq!(taken, ["message", "header"]);
    // ANCHOR_END: while-let
}

fn arrays_slices_and_byte_strings() {
    // ANCHOR: bytes
    let message: &[u8] = b"Socket Programming"; // Python: b"Socket ..."
    let mut buffer = [0; 7]; // Python: bytearray(7)
    buffer.copy_from_slice(&message[..7]);
    let received = 7;
    assert_eq!(&buffer[..received], b"Socket "); // Python: buffer[:n]
    assert_eq!(&message[7..], b"Programming"); // Python: message[7:]
    assert_eq!(message.len(), 18); // Python: len(message)
    // ANCHOR_END: bytes
}

fn closures() {
    // ANCHOR: closure
    let header_len = 10;
    // Python: frame = lambda length: f"{length:<{header_len}}"
    let frame = |length: usize| format!("{length:<header_len$}");
    assert_eq!(frame(26), "26        ");
    // ANCHOR_END: closure
}

fn move_and_threads() {
    // ANCHOR: thread
    let message = String::from("from the thread");
    // Python: threading.Thread(target=...).start(), then .join().
    // `move`: the thread takes `message` with it; this function can no
    // longer use it, so the two can never change it at once.
    let handle = thread::spawn(move || message.len());
    assert_eq!(handle.join().unwrap(), 15);
    // ANCHOR_END: thread
}

fn drop_closes_a_socket() -> io::Result<()> {
    // ANCHOR: drop
    let listener = TcpListener::bind("127.0.0.1:0")?; // port 0: any free
    let mut client = TcpStream::connect(listener.local_addr()?)?;
    {
        let (mut conn, _address) = listener.accept()?;
        conn.write_all(b"bye")?;
    } // `conn` ends here, and is closed, as at the end of a `with` block
    let mut reply = Vec::new();
    client.read_to_end(&mut reply)?; // reads until recv returns 0
    assert_eq!(reply, b"bye");
    drop(client); // Python: client.close(), written out
    Ok(())
    // `listener` is closed here, at the end of the function.
    // ANCHOR_END: drop
}

fn macros() -> io::Result<()> {
    // ANCHOR: macros
    let (size, received) = (1024, 26);
    // format! builds a String, like an f-string:
    let line = format!("recv({size}) returned {received} bytes");
    assert_eq!(line, "recv(1024) returned 26 bytes");
    // format_args! builds the same text without a String, for a function
    // that writes it out at once (the lessons' out.say takes one).
    let mut printed = Vec::new();
    printed.write_fmt(format_args!("{size}/{received}"))?;
    assert_eq!(printed, b"1024/26");
    // vec! and assert_eq! are macros too: the ! marks them.
    assert_eq!(vec![1, 2], [1, 2]);
    // ANCHOR_END: macros
    Ok(())
}

// ANCHOR: derive
// Python: @dataclass(frozen=True) writes __init__, __repr__ and __eq__.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Pace {
    chunk: usize,
    pause_ms: u64,
}
// ANCHOR_END: derive

fn derive_writes_the_usual_methods() {
    // ANCHOR: derive-use
    let slow = Pace { chunk: 5, pause_ms: 200 };
    let copy = slow; // Copy: a copy, `slow` is still usable
    assert_eq!(copy, slow); // PartialEq: ==
    assert_eq!(
        format!("{slow:?}"), // Debug: like repr()
        "Pace { chunk: 5, pause_ms: 200 }"
    );
    // ANCHOR_END: derive-use
}

// ANCHOR: traits
// One function for anything that implements Read: a socket, a file, or
// bytes in memory (Python calls this duck typing; Rust checks it when it
// compiles).
fn read_all(mut source: impl Read) -> io::Result<Vec<u8>> {
    let mut all = Vec::new();
    source.read_to_end(&mut all)?;
    Ok(all)
}
// ANCHOR_END: traits

fn traits_read_and_write() -> io::Result<()> {
    // ANCHOR: traits-use
    assert_eq!(read_all(&b"in memory"[..])?, b"in memory");
    let mut sink = Vec::new(); // a Vec<u8> implements Write
    sink.write_all(b"Socket ")?; // what a socket's write_all does: sendall
    sink.write_all(b"Programming")?;
    assert_eq!(read_all(&sink[..])?, b"Socket Programming");
    // ANCHOR_END: traits-use
    Ok(())
}

// ANCHOR: const
// Python: HEADER_LEN = 10 (a constant by custom only).
const HEADER_LEN: usize = 10;
const MESSAGE: &[u8] = b"Socket Programming in Rust";
// ANCHOR_END: const

fn constants() {
    assert_eq!(MESSAGE.len() + HEADER_LEN, 36);
}

// ANCHOR: modules
mod framing {
    // Python: a module framing.py. `pub` makes a name visible outside it.
    pub fn header(length: usize) -> String {
        format!("{length:<10}")
    }
}

fn modules_and_use() {
    use framing::header; // Python: from framing import header
    assert_eq!(header(26).len(), 10);
}
// ANCHOR_END: modules

// The chapter's exercises: each answer is a test.

fn exercise_what_is_left_in_the_buffer() {
    // ANCHOR: exercise-buffer
    let mut stream = &b"Socket Programming"[..];
    let mut buffer = [0; 7];
    let mut received = 0;
    for _ in 0..3 {
        received = stream.read(&mut buffer).unwrap();
    }
    // What do these two print?
    println!("{}", String::from_utf8_lossy(&buffer));
    println!("{}", String::from_utf8_lossy(&buffer[..received]));
    // ANCHOR_END: exercise-buffer
    // ANCHOR: exercise-buffer-answer
    assert_eq!(received, 4); // the third read: "ming", the last 4 bytes
    assert_eq!(&buffer, b"mingram"); // "ram" is left from "Program"
    assert_eq!(&buffer[..received], b"ming");
    // ANCHOR_END: exercise-buffer-answer
}

/// The exercise's program as it is printed in the chapter, which does not
/// compile.
const EXERCISE_LET: &str = "\
fn main() {
    let total = 0;
    total += 7;
    println!(\"{total}\");
}
";

fn exercise_fix_the_let() {
    // The program the chapter shows is refused, with error E0384.
    let directory = std::env::temp_dir()
        .join(format!("book-primer-exercise-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let source = directory.join("total.rs");
    std::fs::write(&source, EXERCISE_LET).unwrap();
    let rustc = std::env::var_os("RUSTC").unwrap_or("rustc".into());
    let output = std::process::Command::new(rustc)
        .args(["--edition", "2024", "--emit", "metadata", "--out-dir"])
        .arg(&directory)
        .arg(&source)
        .output()
        .expect("rustc runs");
    let _ = std::fs::remove_dir_all(&directory);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("error[E0384]"), "{stderr}");
    assert!(stderr.contains("cannot assign twice"), "{stderr}");
    // ANCHOR: exercise-let-answer
    let mut total = 0; // `mut`: total may change
    total += 7;
    assert_eq!(total, 7);
    // ANCHOR_END: exercise-let-answer
}

fn exercise_which_arm_matches() {
    // ANCHOR: exercise-match
    fn describe(received: usize, size: usize) -> &'static str {
        match received {
            n if n == size => "the buffer is full: there may be more",
            0 => "the other side will send no more",
            _ => "some bytes",
        }
    }
    // What does describe(0, 0) return? (A buffer of 0 bytes.)
    // ANCHOR_END: exercise-match
    // ANCHOR: exercise-match-answer
    // The first arm that fits: 0 == 0, so the guard is true.
    assert_eq!(describe(0, 0), "the buffer is full: there may be more");
    assert_eq!(describe(0, 7), "the other side will send no more");
    // ANCHOR_END: exercise-match-answer
}

// The exercises of the chapter "Rust for Python programmers"
// (book/src/rust-for-python.md).

fn exercise_the_peer_reads_0_after_a_drop() -> io::Result<()> {
    // ANCHOR: exercise-drop
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let mut client = TcpStream::connect(listener.local_addr()?)?;
    let (conn, _address) = listener.accept()?;
    drop(conn); // no close(), no shutdown(): just the drop
    let mut buffer = [0; 1024];
    let received = client.read(&mut buffer)?; // what does it return?
    // ANCHOR_END: exercise-drop
    // ANCHOR: exercise-drop-answer
    assert_eq!(received, 0); // the server's side closed: no more bytes
    // ANCHOR_END: exercise-drop-answer
    Ok(())
}

fn exercise_bytes_that_are_not_utf8() {
    // ANCHOR: exercise-lossy
    // The first 4 bytes of "café" in UTF-8: the "é" (c3 a9) is cut in two.
    let received: &[u8] = b"caf\xc3";
    let text = String::from_utf8_lossy(received);
    // Python: b"caf\xc3".decode("utf-8", errors="replace")
    // What is `text`? And what does String::from_utf8 return?
    // ANCHOR_END: exercise-lossy
    // ANCHOR: exercise-lossy-answer
    assert_eq!(text, "caf\u{fffd}"); // "caf�": U+FFFD replaces the bad byte
    assert!(String::from_utf8(received.to_vec()).is_err()); // an Err
    // ANCHOR_END: exercise-lossy-answer
}

fn the_chapter_shows_the_exercises_program() {
    let chapter = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../book/src/rust-primer.md"
    ))
    .unwrap();
    assert!(chapter.contains(&format!("```rust,ignore\n{EXERCISE_LET}```")));
}
