//! What is measured, for one server, and for the loopback floor; every wait
//! bounded.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use crate::crowd::{Crowd, framed};
use crate::designs::Design;
use crate::report::count;
use crate::server::{Server, Usage, thread_cpu};

/// How long after a server says where it listens its floor is read.
pub const FLOOR_WAIT: Duration = Duration::from_millis(300);

/// How much is measured, and how long each part may take.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Idle connections at which memory is read.
    pub steps: Vec<usize>,
    /// How far the search for the most idle connections held goes, and why
    /// there.
    pub probe_to: usize,
    pub probe_end: &'static str,
    /// How long seating a room's members may take.
    pub step_time: Duration,
    /// Rooms in which latency is measured.
    pub rooms: Vec<usize>,
    /// How long the members of a room say a line a second.
    pub window: Duration,
    /// How long lines still on their way are waited for after that.
    pub drain: Duration,
    /// How many clients may be connecting, or waiting for a welcome, at once:
    /// fewer than the server's listen backlog (lesson 9's is 128).
    pub in_flight: usize,
    /// The floor's client says this many lines a second.
    pub floor_rate: u32,
    /// The clients acknowledge at once (TCP_QUICKACK): `--quick-ack`.
    pub quick_ack: bool,
    /// Says on stderr what is done, and when.
    pub progress: bool,
}

impl Settings {
    /// The whole run: a few minutes on a 2-core machine.
    pub fn full(open_files: usize) -> Settings {
        Settings {
            steps: vec![100, 1000, 10_000],
            probe_to: open_files.saturating_sub(100),
            probe_end: "the load generator's open files",
            step_time: Duration::from_secs(25),
            rooms: vec![10, 100, 1000],
            window: Duration::from_secs(5),
            drain: Duration::from_secs(3),
            in_flight: 100,
            floor_rate: 20,
            quick_ack: false,
            progress: true,
        }
    }

    /// For CI: every figure, at small sizes, in seconds.
    pub fn quick() -> Settings {
        Settings {
            steps: vec![10, 100],
            probe_to: 200,
            probe_end: "--quick goes no further",
            step_time: Duration::from_secs(10),
            rooms: vec![10, 100],
            window: Duration::from_secs(1),
            drain: Duration::from_secs(2),
            in_flight: 100,
            floor_rate: 20,
            quick_ack: false,
            progress: true,
        }
    }
}

/// Memory with `clients` idle connections: the server's VmRSS, threads and
/// fds, or why it was not reached.
pub struct Step {
    pub clients: usize,
    pub memory: Result<Usage, String>,
}

/// The most idle connections the server held, and what stopped the count.
pub struct Held {
    pub count: usize,
    /// The search stopped before the server did: at least `count`.
    pub at_least: bool,
    pub why: String,
}

/// From a line's send to its last delivery, in a room of `room`.
pub struct Latency {
    pub room: usize,
    pub result: Result<Quantiles, String>,
}

pub struct Quantiles {
    /// `None`: not delivered to all within the drain.
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
    pub said: usize,
    pub delivered: usize,
    /// Members the room dropped, or whose connection ended.
    pub dropped: usize,
    /// Share of one core the server and the load generator used while the
    /// members talked (`None` for the floor's server).
    pub server_cpu: Option<f64>,
    pub load_cpu: f64,
    /// Lines received a second, by all members together, while they
    /// talked; and how many the room was asked to pass on a second.
    pub passed_on: f64,
    pub asked: usize,
}

/// One server's figures.
pub struct Measured {
    /// With no clients.
    pub floor: Usage,
    pub steps: Vec<Step>,
    pub held: Held,
    pub latency: Vec<Latency>,
}

/// One row of the table.
pub struct Row {
    pub design: &'static Design,
    pub lines: Option<usize>,
    pub result: Result<Measured, String>,
}

/// Measures one server: started fresh for the memory ramp and for each
/// room, killed after each.
pub fn measure(
    design: &'static Design,
    root: &Path,
    examples: &Path,
    settings: &Settings,
) -> Row {
    let lines = design.lines(root);
    let start = || Server::start(design.command(root, examples)?);
    let began = Instant::now();
    let progress = |what: &str| {
        if settings.progress {
            eprintln!("  {what} ({:.1} s)", began.elapsed().as_secs_f64())
        }
    };
    let result = start().and_then(|server| {
        let (floor, steps, held) = ramp(server, settings)?;
        progress("memory, and the most idle connections held");
        let latency = settings
            .rooms
            .iter()
            .map(|&room| {
                let result =
                    start().and_then(|s| room_latency(s, room, settings));
                progress(&format!("a room of {room}"));
                Latency { room, result }
            })
            .collect();
        Ok(Measured { floor, steps, held, latency })
    });
    Row { design, lines, result }
}

type Ramp = (Usage, Vec<Step>, Held);

/// How long a step of idle connections may take, from its first connect to
/// its memory read: less than the 10 s every lesson gives a connection to
/// send its name (NAME_WAIT) before it drops it.
pub const IDLE_WINDOW: Duration = Duration::from_secs(9);
/// A server that has accepted none of the connections waiting for it for
/// this long has stopped accepting (out of file descriptors, say).
const STUCK: Duration = Duration::from_secs(1);
/// How long the connections of a step, closed, have to leave the server.
const CLOSE_WAIT: Duration = Duration::from_secs(30);

/// Memory with no clients, then with each step's idle connections, each
/// step opened from none and closed after, then the search for the most
/// idle connections held.
fn ramp(mut server: Server, settings: &Settings) -> Result<Ramp, String> {
    // A moment after its `listening on` line, so that what it starts then
    // (lesson 9's accepting thread) is running.
    thread::sleep(FLOOR_WAIT);
    let floor = server.usage().ok_or("the server ended")?;
    let mut steps = Vec::new();
    let mut stop = None;
    for &clients in &settings.steps {
        if let Some(held) = &stop {
            steps.push(Step { clients, memory: Err(not_reached(held)) });
            continue;
        }
        let (crowd, accepted, holding) = hold(&mut server, clients, settings)?;
        let memory = match holding {
            Holding::All => Ok(settled(&server)?),
            Holding::Stopped(why) => {
                let held = Held { count: accepted, at_least: false, why };
                let note = not_reached(&held);
                stop = Some(held);
                Err(note)
            }
            Holding::Late => Err(format!(
                "{} of {} accepted in {} s",
                count(accepted),
                count(clients),
                IDLE_WINDOW.as_secs()
            )),
        };
        steps.push(Step { clients, memory });
        drop(crowd);
        if stop.is_none() {
            if let Err(why) = closed(&server, floor.fds) {
                let why = format!("searched no further: {why}");
                stop = Some(Held { count: accepted, at_least: true, why });
            }
        }
    }
    let held = match stop {
        Some(held) => held,
        None => {
            let (_crowd, accepted, holding) =
                hold(&mut server, settings.probe_to, settings)?;
            let (count, at_least, why) = match holding {
                Holding::All => (accepted, true, settings.probe_end.into()),
                Holding::Stopped(why) => (accepted, false, why),
                Holding::Late => (
                    accepted,
                    true,
                    format!("no refusal within {} s", IDLE_WINDOW.as_secs()),
                ),
            };
            Held { count, at_least, why }
        }
    };
    Ok((floor, steps, held))
}

enum Holding {
    /// The server accepted them all.
    All,
    /// It refused, failed, ended, or accepted no more: why.
    Stopped(String),
    /// The window ended first.
    Late,
}

/// Opens idle connections, `settings.in_flight` at most not yet accepted
/// (fewer than the listen backlog), until the server has accepted `target`
/// (its `connection N from` lines, counted), within the window. The crowd
/// holding them, the number accepted, and how it ended.
fn hold(
    server: &mut Server,
    target: usize,
    settings: &Settings,
) -> Result<(Crowd, usize, Holding), String> {
    let mut crowd =
        Crowd::new(server.address, false).map_err(|e| e.to_string())?;
    let base = server.accepted();
    let began = Instant::now();
    let until = began + IDLE_WINDOW;
    let (mut last, mut rose) = (0, began);
    let mut turns = 0u32;
    let holding = loop {
        let accepted = server.accepted() - base;
        let now = Instant::now();
        if accepted > last {
            (last, rose) = (accepted, now);
        }
        let tally = &crowd.tally;
        if tally.refused > 0 {
            let refusal = tally.first_refusal.clone().unwrap_or_default();
            break Holding::Stopped(format!("refused: {refusal}"));
        }
        if tally.failed > 0 {
            let failure = tally.first_failure.clone().unwrap_or_default();
            let mut why = format!("failed: {failure}");
            if let Some(error) = server.first_error() {
                why += &format!("; it said: {error}");
            }
            break Holding::Stopped(why);
        }
        if accepted >= target {
            break Holding::All;
        }
        turns += 1;
        if turns.is_multiple_of(100) {
            if let Some(why) = server.ended() {
                break Holding::Stopped(why);
            }
        }
        if crowd.opened() > accepted && now - rose >= STUCK {
            break Holding::Stopped(stuck(server, &crowd, accepted));
        }
        if now >= until {
            break Holding::Late;
        }
        while crowd.opened() < target
            && crowd.opened() - accepted < settings.in_flight
        {
            crowd.open_idle();
        }
        if let Err(error) = crowd.turn(Duration::from_millis(5)) {
            let why = format!("the load generator: {error}");
            break Holding::Stopped(why);
        }
    };
    let accepted = server.accepted() - base;
    Ok((crowd, accepted, holding))
}

/// Why a server that accepts no more stopped: what /proc and its stderr say.
fn stuck(server: &Server, crowd: &Crowd, accepted: usize) -> String {
    let waiting = crowd.opened() - accepted;
    let fds = server.usage().map_or("?".into(), |u| count(u.fds as usize));
    let mut why = format!(
        "accepted no more for {} s, {} waiting; {fds} fds open",
        STUCK.as_secs(),
        count(waiting)
    );
    if let Some(error) = server.first_error() {
        why += &format!("; it said: {error}");
    }
    why
}

/// The server's usage once what it starts for each accepted connection (a
/// thread) is there: two reads 20 ms apart with the same threads and fds,
/// 1 s at most.
fn settled(server: &Server) -> Result<Usage, String> {
    let until = Instant::now() + Duration::from_secs(1);
    let mut before = server.usage().ok_or("the server ended")?;
    loop {
        thread::sleep(Duration::from_millis(20));
        let now = server.usage().ok_or("the server ended")?;
        let same = (now.threads, now.fds) == (before.threads, before.fds);
        if same || Instant::now() >= until {
            return Ok(now);
        }
        before = now;
    }
}

/// Waits until the server's open fds are back to `floor`: the closed
/// connections have left it.
fn closed(server: &Server, floor: u64) -> Result<(), String> {
    let until = Instant::now() + CLOSE_WAIT;
    loop {
        let usage = server.usage().ok_or("the server ended")?;
        if usage.fds <= floor {
            return Ok(());
        }
        if Instant::now() >= until {
            return Err(format!(
                "{} fds still open {} s after the close",
                count(usage.fds as usize),
                CLOSE_WAIT.as_secs()
            ));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Where seating `target` members stood when its time ran out.
fn late(crowd: &Crowd, target: usize, time: Duration) -> String {
    let (members, secs) = (crowd.members(), time.as_secs());
    match members >= target {
        true => format!(
            "{} seated, their joins not all announced after {secs} s",
            count(members)
        ),
        false => {
            format!(
                "{} of {} seated in {secs} s",
                count(members),
                count(target)
            )
        }
    }
}

fn not_reached(held: &Held) -> String {
    format!("held {}: {}", count(held.count), held.why)
}

enum Seated {
    /// All seated, and every announcement of their joining heard.
    All,
    /// A refusal or a failure: why.
    Stopped(String),
    /// Time ran out.
    Late,
}

/// Opens clients until `target` are members and settled, a few at a time.
fn seat(
    crowd: &mut Crowd,
    server: &mut Server,
    target: usize,
    until: Instant,
    settings: &Settings,
) -> Seated {
    let mut turns = 0u32;
    loop {
        let tally = &crowd.tally;
        let stopped = tally.refused + tally.failed + tally.members_lost > 0;
        if stopped && crowd.waiting() == 0 {
            let why = match (&tally.first_refusal, &tally.first_failure) {
                (Some(refusal), _) => format!("refused: {refusal}"),
                (None, Some(failure)) => format!("failed: {failure}"),
                (None, None) => "failed".into(),
            };
            return Seated::Stopped(why);
        }
        if !stopped && crowd.members() >= target && crowd.settled() {
            return Seated::All;
        }
        if Instant::now() >= until {
            return Seated::Late;
        }
        turns += 1;
        if turns.is_multiple_of(100) {
            if let Some(why) = server.ended() {
                return Seated::Stopped(why);
            }
        }
        while !stopped
            && crowd.members() + crowd.waiting() < target
            && crowd.waiting() < settings.in_flight
        {
            crowd.open();
        }
        if let Err(error) = crowd.turn(Duration::from_millis(10)) {
            return Seated::Stopped(format!("the load generator: {error}"));
        }
    }
}

/// A room of `room` members, each saying a line a second.
fn room_latency(
    mut server: Server,
    room: usize,
    settings: &Settings,
) -> Result<Quantiles, String> {
    let mut crowd =
        Crowd::new(server.address, false).map_err(|e| e.to_string())?;
    crowd.quick_ack = settings.quick_ack;
    let until = Instant::now() + settings.step_time;
    match seat(&mut crowd, &mut server, room, until, settings) {
        Seated::All => {}
        Seated::Stopped(why) => {
            return Err(format!("could not seat {room}: {why}"));
        }
        Seated::Late => {
            let why = late(&crowd, room, settings.step_time);
            return Err(format!("could not seat {room}: {why}"));
        }
    }
    let lost_before = crowd.tally.members_lost;
    let (began, server_before) = (Instant::now(), server.cpu());
    let quantiles = talk(&mut crowd, room, 1, settings)?;
    let dropped = crowd.tally.members_lost - lost_before;
    let server_cpu = match (server_before, server.cpu()) {
        (Some(before), Some(after)) => {
            Some((after - before).as_secs_f64() / began.elapsed().as_secs_f64())
        }
        _ => None,
    };
    drop(server);
    Ok(Quantiles { dropped, server_cpu, ..quantiles })
}

/// Members 0 to `members` say `rate` lines a second each, in turn, evenly
/// spread, for the window; then lines on their way are waited for, the
/// drain at most.
fn talk(
    crowd: &mut Crowd,
    members: usize,
    rate: u32,
    settings: &Settings,
) -> Result<Quantiles, String> {
    let per_second = members * rate as usize;
    let total = (per_second as f64 * settings.window.as_secs_f64()) as usize;
    let spacing = Duration::from_secs(1) / per_second as u32;
    let start = Instant::now();
    let (load_before, deliveries_before) = (thread_cpu(), crowd.deliveries);
    let end = start + settings.window + settings.drain;
    let mut next = 0;
    loop {
        let now = Instant::now();
        while next < total && start + spacing * next as u32 <= now {
            crowd.say(next % members);
            next += 1;
        }
        let (said, delivered) = crowd.said();
        if (next == total && delivered == said) || now >= end {
            break;
        }
        let wait = match next < total {
            true => {
                (start + spacing * next as u32).saturating_duration_since(now)
            }
            false => Duration::from_millis(10),
        };
        crowd
            .turn(wait.min(Duration::from_millis(10)))
            .map_err(|e| e.to_string())?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let load_cpu = (thread_cpu() - load_before).as_secs_f64() / elapsed;
    let (said, delivered) = crowd.said();
    let mut latencies = crowd.latencies.clone();
    latencies.sort();
    // Lines not delivered to all count as slower than any that were.
    let quantile = |q: f64| {
        let rank = ((q * said as f64).ceil() as usize).max(1);
        latencies.get(rank - 1).copied()
    };
    Ok(Quantiles {
        p50: quantile(0.5),
        p99: quantile(0.99),
        said,
        delivered,
        dropped: 0,
        server_cpu: None,
        load_cpu,
        passed_on: (crowd.deliveries - deliveries_before) as f64 / elapsed,
        asked: per_second * members.saturating_sub(1).max(1),
    })
}

/// The floor: one client, and a server in this process that sends each line
/// straight back, through the loopback alone.
pub fn floor(settings: &Settings) -> Result<Quantiles, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let echo = thread::spawn(move || -> io::Result<()> {
        let (mut stream, _) = listener.accept()?;
        stream.set_nodelay(true)?;
        let name = read_message(&mut stream)?.unwrap_or_default();
        stream.write_all(
            &[framed(b"room"), framed(b"welcome, you; nobody else is here")]
                .concat(),
        )?;
        while let Some(text) = read_message(&mut stream)? {
            stream.write_all(&[framed(&name), framed(&text)].concat())?;
        }
        Ok(())
    });
    let mut crowd = Crowd::new(address, true).map_err(|e| e.to_string())?;
    crowd.quick_ack = settings.quick_ack;
    crowd.open();
    let until = Instant::now() + settings.step_time;
    while crowd.members() < 1
        && crowd.tally.failed == 0
        && Instant::now() < until
    {
        crowd.turn(Duration::from_millis(10)).map_err(|e| e.to_string())?;
    }
    let result = talk(&mut crowd, 1, settings.floor_rate, settings);
    // The client's close ends the echo.
    drop(crowd);
    let _ = echo.join();
    result
}

/// One framed message, blocking; `None` at the end of the stream.
fn read_message(stream: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut header = [0; 10];
    match stream.read_exact(&mut header) {
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
            return Ok(None);
        }
        other => other?,
    }
    let length: usize = std::str::from_utf8(&header)
        .ok()
        .and_then(|h| h.trim().parse().ok())
        .filter(|&length| length <= 4096)
        .ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "a bad header")
        })?;
    let mut message = vec![0; length];
    stream.read_exact(&mut message)?;
    Ok(Some(message))
}
