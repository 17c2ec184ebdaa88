// ANCHOR: all
//! Lesson 4 from scratch: a server that sends a message and closes, and a
//! client that reads until the end of the stream. Its only dependency is
//! socket2, so it builds in a project of its own:
//!
//! ```text
//! cargo new lesson4 && cd lesson4
//! cargo add socket2@0.6
//! (this file as src/main.rs)
//! cargo run -- server          # terminal 1
//! cargo run -- client          # terminal 2
//! ```

use std::env;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::ExitCode;
use std::time::Duration;

use socket2::{Domain, Socket, Type};

const DEFAULT_PORT: u16 = 4104;
const MESSAGE: &[u8] = b"Socket Programming in Rust";
/// How long the client waits for `connect` and for each `recv`.
const WAIT: Duration = Duration::from_secs(10);
/// The most the client keeps: a server could send without end.
const MAX_MESSAGE: usize = 1024 * 1024;

// ANCHOR: main
fn main() -> ExitCode {
    let words: Vec<String> = env::args().skip(1).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let (side, port) = match words[..] {
        [side] => (side, Some(DEFAULT_PORT)),
        [side, port] => (side, port.parse().ok()),
        _ => ("", None),
    };
    let result = match (side, port) {
        ("server", Some(port)) => server(port),
        ("client", Some(port)) if port != 0 => client(port),
        _ => {
            say("usage: server [PORT] | client [PORT]  \
                 (PORT up to 65535; 0 for a server)");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Printing to stderr can fail too (a closed terminal): then the
            // exit status alone says it.
            let _ = writeln!(io::stderr(), "error: {error}");
            ExitCode::from(1)
        }
    }
}

/// Prints a line; a closed stdout (`| head`) is no reason to panic, which
/// `println!` would do.
fn say(line: impl fmt::Display) {
    let _ = writeln!(io::stdout(), "{line}");
}
// ANCHOR_END: main

// ANCHOR: server
fn server(port: u16) -> io::Result<()> {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    // So that a restarted server may bind at once (on Unix; Windows gives
    // this option another meaning, so it is left off there).
    #[cfg(unix)]
    listener.set_reuse_address(true)?;
    let address = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
    listener.bind(&address.into())?;
    listener.listen(5)?;
    // With port 0 the system picked one: ask the socket which.
    let local = listener.local_addr()?;
    let shown =
        local.as_socket().map_or(address.to_string(), |a| a.to_string());
    say(format_args!("[server] listening on {shown}"));
    loop {
        let (mut client, address) = listener.accept()?;
        let from = address.as_socket().map_or("?".into(), |a| a.to_string());
        say(format_args!("[server] Connection to {from} established"));
        // A client that left early must not stop the server.
        if let Err(error) = client.write_all(MESSAGE) {
            say(format_args!("[server] could not send to {from}: {error}"));
        }
        // close(2): the client's recv returns 0 once it has read the rest.
        drop(client);
    }
}
// ANCHOR_END: server

// ANCHOR: client
fn client(port: u16) -> io::Result<()> {
    let mut server = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    let address = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
    server.connect_timeout(&address.into(), WAIT)?;
    server.set_read_timeout(Some(WAIT))?;

    let mut message = Vec::new();
    let mut buffer = [0; 7];
    loop {
        let received = server.read(&mut buffer)?;
        if received == 0 {
            break; // the server will send no more
        }
        say(format_args!(
            "[client] recv({}) returned {received} bytes",
            buffer.len()
        ));
        if message.len() + received > MAX_MESSAGE {
            return Err(io::Error::other(format!(
                "the server sent more than the {MAX_MESSAGE} bytes kept"
            )));
        }
        message.extend_from_slice(&buffer[..received]);
    }
    // Control characters escaped: a peer's bytes must not drive the
    // terminal.
    let text: String = String::from_utf8_lossy(&message)
        .chars()
        .flat_map(|c| match c.is_control() {
            true => c.escape_default().collect::<Vec<_>>(),
            false => vec![c],
        })
        .collect();
    say(format_args!("[client] complete message: {text}"));
    Ok(())
}
// ANCHOR_END: client
// ANCHOR_END: all
