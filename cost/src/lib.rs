//! What a connection costs: the chat room of lesson 9 served three ways
//! (threads, an event loop, async), each in Rust and in Python, measured on
//! this machine. For each server: its resident memory with no clients and
//! with idle connections (connected, no name sent), how many of those it
//! holds before it refuses or fails, and how long a line takes from its
//! send to its last delivery in rooms where every member says a line a
//! second. The book's chapter "What a
//! connection costs" is built on the table and the charts this writes.
//!
//! `cargo run --release -p socket-lessons-cost` (`-- --quick` for CI).
//!
//! - [`designs`]: the six servers, and how to start each;
//! - [`server`]: one running server, its address and its memory;
//! - [`crowd`]: the load generator, every client on one thread;
//! - [`measure`]: what is measured, and how long it may take;
//! - [`report`]: the markdown table and the machine it ran on;
//! - `chart` (feature `chart`): the SVG charts.

#[cfg(feature = "chart")]
pub mod chart;
pub mod crowd;
pub mod designs;
pub mod measure;
pub mod report;
pub mod server;
