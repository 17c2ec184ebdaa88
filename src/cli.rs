//! The options the lessons share, as clap `Args` structs that a lesson's
//! own options flatten: every server has [`Listen`], every client
//! [`Connect`]; a client that reads in a loop adds [`Patience`], a server
//! that can send in slow motion [`SlowMotion`]. The runner adds [`Show`].

use std::io::{self, Write};
use std::thread;
use std::time::Duration;

use clap::Args;
use socket2::Socket;

use crate::output::Out;

#[derive(Args, Debug, Clone)]
pub struct Listen {
    /// The address to listen on
    #[arg(long, default_value = "127.0.0.1", value_parser = host)]
    pub host: String,
    /// The port; 0 lets the system pick one
    #[arg(long)]
    pub port: u16,
    /// Serve one client, then exit (without it: until Ctrl-C)
    #[arg(long)]
    pub once: bool,
}

#[derive(Args, Debug, Clone)]
pub struct Connect {
    /// The server's address
    #[arg(long, default_value = "127.0.0.1", value_parser = host)]
    pub host: String,
    /// The server's port
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
    /// How long each wait for the server may last
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    pub wait: Duration,
}

/// `--deadline`: each recv's own wait starts again, so a server that sends
/// a byte now and then would otherwise keep a client for ever.
#[derive(Args, Debug, Clone, Copy)]
pub struct Patience {
    /// How long the client may run in all
    #[arg(long, value_name = "SECONDS", default_value = "60",
          value_parser = seconds)]
    pub deadline: Duration,
}

#[derive(Args, Debug, Clone, Copy)]
pub struct SlowMotion {
    /// Send in pieces of at most BYTES bytes, each its own send
    #[arg(long, value_name = "BYTES",
          value_parser = clap::value_parser!(u16).range(1..))]
    pub chunk: Option<u16>,
    /// The pause between pieces
    #[arg(long, value_name = "SECONDS", default_value = "0.2",
          value_parser = seconds, requires = "chunk")]
    pub pause: Duration,
}

impl SlowMotion {
    /// Python's `sendall`; with `--chunk`, in pieces, each its own `send`,
    /// `--pause` apart, with `TCP_NODELAY` on: Nagle's algorithm would hold
    /// a small piece back and glue pieces.
    pub fn send_all(
        &self,
        socket: &Socket,
        bytes: &[u8],
        out: &Out,
    ) -> io::Result<()> {
        if self.chunk.is_some() {
            socket.set_tcp_nodelay(true)?;
        }
        let size = self.chunk.map_or(bytes.len(), usize::from).max(1);
        for (index, piece) in bytes.chunks(size).enumerate() {
            if index > 0 {
                thread::sleep(self.pause);
            }
            let name = format!("send({} bytes)", piece.len());
            out.traced(name, "room in this side's send buffer", || {
                (&*socket).write_all(piece).map(|()| piece.len())
            })?;
            out.hex("sent", piece);
        }
        Ok(())
    }
}

#[derive(Args, Debug, Clone, Copy, Default)]
pub struct Show {
    /// Say what each blocking call waits for, and what it returned
    #[arg(long, global = true, help_heading = "Seeing the calls")]
    pub trace: bool,
    /// Show every byte sent and received, as a hex dump
    #[arg(long, global = true, help_heading = "Seeing the calls")]
    pub hex: bool,
}

fn host(text: &str) -> Result<String, &'static str> {
    let empty = "a host needs a name or an address";
    (!text.is_empty()).then(|| text.into()).ok_or(empty)
}

/// A number of seconds from 0 to an hour (longer than any lesson needs),
/// written with digits and at most one point: `2`, `0.5`.
pub fn seconds(text: &str) -> Result<Duration, &'static str> {
    let digits = text.replacen('.', "", 1);
    let plain =
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    let number = text.parse::<f64>().ok().filter(|&n| plain && n <= 3600.0);
    let words = "expected seconds from 0 to 3600, written like 2 or 0.5";
    number.map(Duration::from_secs_f64).ok_or(words)
}
