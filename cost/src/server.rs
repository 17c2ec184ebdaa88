//! One running server: started, its `listening on` line waited for, its
//! output read (a server whose pipe fills would stop), its memory read from
//! /proc, and killed when dropped, on every way out, panics included. Should
//! this process itself be killed, the system kills the server too
//! (PR_SET_PDEATHSIG).

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long a server has to say where it listens.
const START_WAIT: Duration = Duration::from_secs(15);
/// How long a server that closed its output has to end.
const END_WAIT: Duration = Duration::from_secs(2);

/// What a server's process holds: its resident memory (VmRSS, KiB), its
/// threads, its open file descriptors.
#[derive(Clone, Copy, Debug)]
pub struct Usage {
    pub rss_kib: u64,
    pub threads: u64,
    pub fds: u64,
}

pub struct Server {
    child: Child,
    pub address: SocketAddr,
    first_error: Arc<Mutex<Option<String>>>,
    /// Its `connection N from ADDRESS` lines so far: connections it accepted
    /// and holds a place for (a refused one's line goes on).
    accepted: Arc<AtomicUsize>,
}

impl Server {
    pub fn start(mut command: Command) -> Result<Server, String> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: prctl is async-signal-safe; nothing else runs in the child.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|error| format!("cannot start: {error}"))?;
        let (found, address) = mpsc::channel();
        let first_error = Arc::new(Mutex::new(None));
        let accepted = Arc::new(AtomicUsize::new(0));
        if let Some(stdout) = child.stdout.take() {
            let (found, accepted) = (found.clone(), Arc::clone(&accepted));
            thread::spawn(move || {
                read_lines(stdout, |line| {
                    if let Some(at) = line.find("listening on ") {
                        let _ = found
                            .send(line[at + 13..].trim().parse::<SocketAddr>());
                    } else if is_accepted(line.trim()) {
                        accepted.fetch_add(1, Ordering::SeqCst);
                    }
                })
            });
        }
        if let Some(stderr) = child.stderr.take() {
            let slot = Arc::clone(&first_error);
            thread::spawn(move || {
                // A Rust panic says where on its first line, what on its
                // second: a first line that ends with ':' takes the next.
                let mut open = true;
                read_lines(stderr, |line| {
                    let (line, mut first) = (
                        line.trim(),
                        slot.lock().unwrap_or_else(|e| e.into_inner()),
                    );
                    match first.as_mut() {
                        None if !line.is_empty() => {
                            *first = Some(line.to_string());
                            open = line.ends_with(':');
                        }
                        Some(first) if open => {
                            *first = format!("{first} {line}");
                            open = false;
                        }
                        _ => {}
                    }
                })
            });
        }
        drop(found);
        let address_now = ([127, 0, 0, 1], 0).into();
        let mut server =
            Server { child, address: address_now, first_error, accepted };
        match address.recv_timeout(START_WAIT) {
            Ok(Ok(address)) => {
                server.address = address;
                Ok(server)
            }
            Ok(Err(_)) => Err("its 'listening on' line has no address".into()),
            Err(RecvTimeoutError::Timeout) => Err(format!(
                "said no 'listening on' within {} s",
                START_WAIT.as_secs()
            )),
            // Its output closed: it is ending, if it has not yet.
            Err(RecvTimeoutError::Disconnected) => {
                let until = Instant::now() + END_WAIT;
                loop {
                    if let Some(why) = server.ended() {
                        return Err(why);
                    }
                    if Instant::now() >= until {
                        return Err("it closed its output, unheard".into());
                    }
                    thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }

    /// How many connections it has said it accepted (and not refused).
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Its first line on stderr, if it has written one.
    pub fn first_error(&self) -> Option<String> {
        self.first_error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// What the server's process holds now; `None` once it has ended.
    pub fn usage(&self) -> Option<Usage> {
        let fds = std::fs::read_dir(format!("/proc/{}/fd", self.child.id()));
        Some(Usage {
            rss_kib: self.status("VmRSS:")?,
            threads: self.status("Threads:")?,
            fds: fds.ok()?.count() as u64,
        })
    }

    /// CPU time the server's process has used, user and system.
    pub fn cpu(&self) -> Option<std::time::Duration> {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
                .ok()?;
        // After the name in parentheses: utime and stime are fields 14, 15.
        let fields: Vec<&str> =
            stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: u64 = fields.get(11)?.parse::<u64>().ok()?
            + fields.get(12)?.parse::<u64>().ok()?;
        // SAFETY: sysconf only reads a constant.
        let per_second =
            unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Some(std::time::Duration::from_millis(ticks * 1000 / per_second))
    }

    fn status(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!(
            "/proc/{}/status",
            self.child.id()
        ))
        .ok()?;
        let line = status.lines().find(|line| line.starts_with(field))?;
        line[field.len()..].split_whitespace().next()?.parse().ok()
    }

    /// Why the server is no longer running, if it is not.
    pub fn ended(&mut self) -> Option<String> {
        let status = self.child.try_wait().ok()??;
        // Its first line on stderr (clap's "error: ...", say), once read.
        thread::sleep(Duration::from_millis(50));
        Some(match self.first_error() {
            Some(line) => format!("the server ended ({status}): {line}"),
            None => format!("the server ended ({status})"),
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `[server] connection 12 from 127.0.0.1:50000`, all of the line: every
/// lesson's word for a connection it accepted and gave a place (a refusal's
/// line has more after the address).
fn is_accepted(line: &str) -> bool {
    let line = line.strip_prefix("[server] ").unwrap_or(line);
    let Some(rest) = line.strip_prefix("connection ") else { return false };
    let Some((number, from)) = rest.split_once(" from ") else { return false };
    number.parse::<u64>().is_ok() && from.parse::<SocketAddr>().is_ok()
}

/// Reads a pipe to its end, a line at a time, whatever its bytes.
fn read_lines(pipe: impl Read, mut each: impl FnMut(&str)) {
    let mut reader = BufReader::new(pipe);
    let mut line = Vec::new();
    while matches!(reader.read_until(b'\n', &mut line), Ok(1..)) {
        each(&String::from_utf8_lossy(&line));
        line.clear();
    }
}

/// Raises this process's open-files limit (RLIMIT_NOFILE) to the most the
/// system allows it; the servers it starts inherit it. The limits after.
pub fn raise_open_files() -> std::io::Result<(u64, u64)> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read or write `limit`.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        limit.rlim_cur = limit.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok((limit.rlim_cur, limit.rlim_max))
}

/// CPU time the calling thread has used, user and system.
pub fn thread_cpu() -> std::time::Duration {
    // SAFETY: getrusage only writes `usage`.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_THREAD, &mut usage);
        usage
    };
    let time = |t: libc::timeval| {
        std::time::Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}
