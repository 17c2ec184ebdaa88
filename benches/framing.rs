//! How fast, and in how much memory, lesson 5's reader rebuilds messages
//! from a real loopback connection, next to the fastest way to read the same
//! bytes. `cargo bench --bench framing` runs it in release mode.
//!
//! For each message size, a thread sends a stream of framed messages, and the
//! main thread reads it twice over, in turn, several times:
//!
//! - the reader: `read` into a 64 KiB buffer, `Reassembler::feed`, then
//!   `next_piece` until it has nothing more;
//! - the floor: the lengths known in advance, one `read_exact` of each framed
//!   message into one buffer the size of a framed message, reused for every
//!   message, and allocated before the clock starts.
//!
//! Both do the same with each message, and only that: check its length and
//! its first and last bytes. The reader copies each `read` once into its own
//! buffer and hands messages back from there, where they lie.
//!
//! A counting allocator records the most heap the reader's side held at once,
//! from the moment the connection is accepted to the end of the stream: the
//! reader's buffer, which holds what is left of one message and one `read`.
//! The 64 KiB receive buffer is the caller's, allocated before counting
//! starts, and not included.
//! Peak/message is that peak divided by the size of one message.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use socket_lessons::framing::{HEADER_LEN, Piece, Reassembler, frame};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
const MESSAGE_SIZES: [usize; 4] = [KIB, 64 * KIB, MIB, 16 * MIB];
const RECV_SIZE: usize = 64 * KIB;
/// Each run sends about this much, whatever the message size.
const STREAM_SIZE: usize = 256 * MIB;
/// Each way of reading runs this many times; the fastest run counts, as the
/// one least disturbed by the rest of the machine.
const RUNS: usize = 5;

/// The system allocator, counting the bytes held by allocations made on a
/// thread that asked to be counted.
struct CountingAllocator;

static HELD: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn counted() -> bool {
    COUNTED.try_with(Cell::get).unwrap_or(false)
}

fn grow(bytes: usize) {
    let held = HELD.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(held, Ordering::Relaxed);
}

fn shrink(bytes: usize) {
    // Saturating: memory allocated before counting began may be freed during.
    let _ = HELD.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
        Some(held.saturating_sub(bytes))
    });
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counted() {
            grow(layout.size());
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        if counted() {
            shrink(layout.size());
        }
        unsafe { System.dealloc(pointer, layout) }
    }

    unsafe fn realloc(
        &self,
        pointer: *mut u8,
        layout: Layout,
        new_size: usize,
    ) -> *mut u8 {
        if counted() {
            shrink(layout.size());
            grow(new_size);
        }
        unsafe { System.realloc(pointer, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Counts this thread's allocations from now on, from zero.
fn start_counting() {
    HELD.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    COUNTED.set(true);
}

/// Stops counting, and returns the most bytes held at once.
fn stop_counting() -> usize {
    COUNTED.set(false);
    PEAK.load(Ordering::Relaxed)
}

/// Connects to `listener` from a new thread that sends `count` copies of
/// `framed` and closes, and returns the server's end.
fn stream_of(
    listener: &TcpListener,
    framed: &[u8],
    count: usize,
) -> (TcpStream, thread::JoinHandle<()>) {
    let address = listener.local_addr().unwrap();
    let framed = framed.to_vec();
    let sender = thread::spawn(move || {
        let mut stream = TcpStream::connect(address).unwrap();
        for _ in 0..count {
            stream.write_all(&framed).unwrap();
        }
    });
    (listener.accept().unwrap().0, sender)
}

/// What both ways of reading do with each message: look at it, cheaply.
fn check(message: &[u8], expected: &[u8]) {
    assert_eq!(message.len(), expected.len());
    assert_eq!(message.first(), expected.first());
    assert_eq!(message.last(), expected.last());
}

/// The reader on one stream: returns how long it took and the peak memory.
fn read_with_reassembler(
    listener: &TcpListener,
    framed: &[u8],
    count: usize,
) -> (Duration, usize) {
    let expected = &framed[HEADER_LEN..];
    let mut buffer = vec![0; RECV_SIZE];
    let started = Instant::now();
    let (mut stream, sender) = stream_of(listener, framed, count);
    start_counting();
    let mut reader = Reassembler::new();
    let mut messages = 0;
    loop {
        let received = stream.read(&mut buffer).unwrap();
        if received == 0 {
            break;
        }
        reader.feed(&buffer[..received]);
        while let Some(piece) = reader.next_piece().unwrap() {
            if let Piece::Message(message) = piece {
                check(message, expected);
                messages += 1;
            }
        }
    }
    assert_eq!(reader.finish(), Ok(count));
    drop(reader);
    let peak = stop_counting();
    let elapsed = started.elapsed();
    sender.join().unwrap();
    assert_eq!(messages, count);
    (elapsed, peak)
}

/// The floor on one stream: returns how long it took.
fn read_exactly(
    listener: &TcpListener,
    framed: &[u8],
    count: usize,
) -> Duration {
    let expected = &framed[HEADER_LEN..];
    let mut buffer = vec![0; framed.len()];
    let started = Instant::now();
    let (mut stream, sender) = stream_of(listener, framed, count);
    for _ in 0..count {
        stream.read_exact(&mut buffer).unwrap();
        check(&buffer[HEADER_LEN..], expected);
    }
    assert_eq!(stream.read(&mut [0]).unwrap(), 0, "the stream goes on");
    let elapsed = started.elapsed();
    sender.join().unwrap();
    elapsed
}

fn size_name(bytes: usize) -> String {
    if bytes >= MIB {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{} KiB", bytes / KIB)
    }
}

fn mib_per_second(bytes: usize, time: Duration) -> f64 {
    bytes as f64 / MIB as f64 / time.as_secs_f64()
}

fn main() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    println!(
        "lesson 5's reader over loopback, {} recvs, next to read_exact of the \
         same bytes;",
        size_name(RECV_SIZE)
    );
    println!(
        "about {} per run, fastest of {RUNS} runs each; peak memory is the \
         reader's own, not the recv buffer's",
        size_name(STREAM_SIZE)
    );
    println!();
    println!(
        "{:>8}  {:>12}  {:>12}  {:>12}  {:>14}",
        "message",
        "reader MiB/s",
        "floor MiB/s",
        "reader/floor",
        "peak/message"
    );
    for message_size in MESSAGE_SIZES {
        // Varied bytes, so that nothing can pass for a message by accident.
        let message: Vec<u8> =
            (0..message_size).map(|index| (index % 251) as u8).collect();
        let framed = frame(&message).unwrap();
        let count = (STREAM_SIZE / message_size).max(1);
        let stream_size = framed.len() * count;
        let mut reader_best = Duration::MAX;
        let mut floor_best = Duration::MAX;
        let mut peak = 0;
        for _ in 0..RUNS {
            let (time, run_peak) =
                read_with_reassembler(&listener, &framed, count);
            reader_best = reader_best.min(time);
            peak = peak.max(run_peak);
            floor_best =
                floor_best.min(read_exactly(&listener, &framed, count));
        }
        let reader_speed = mib_per_second(stream_size, reader_best);
        let floor_speed = mib_per_second(stream_size, floor_best);
        println!(
            "{:>8}  {reader_speed:>12.0}  {floor_speed:>12.0}  {:>12.2}  \
             {:>14.3}",
            size_name(message_size),
            reader_speed / floor_speed,
            peak as f64 / message_size as f64
        );
    }
}
