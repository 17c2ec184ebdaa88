"""What the Python lessons share: the command line, labelled lines, the wire,
the serving loop, the demo.

Each lesson_0N.py holds its own socket calls; this module keeps them from
repeating the rest, and makes them behave exactly as the Rust lessons do
(src/cli.rs, src/wire.rs, src/output.rs, src/lesson.rs, src/errors.rs): same
options, same lines, same exit codes.

    python3 lessons/python/lesson_01.py                  # the demo
    python3 lessons/python/lesson_01.py server [OPTIONS]
    python3 lessons/python/lesson_01.py client [OPTIONS]
    python3 lessons/python/lesson_01.py --help
"""

import errno
import os
import queue
import re
import signal
import socket
import sys
import threading
import time
from decimal import Decimal

RUNTIME_ERROR = 1
USAGE_ERROR = 2

DEFAULT_HOST = "127.0.0.1"
MAX_SECONDS = 3600.0
DEFAULT_PAUSE = 0.2
DEFAULT_DEADLINE = 60.0
MAX_BYTES = 65536  # the largest --chunk or --buffer
ACCEPT_RETRY_PAUSE = 0.5
WIDTH = 80
HEX_WIDTH = 16


def seconds_text(seconds):
    """A number of seconds as Rust's `Duration::as_secs_f64()` prints: 2, 0.3,
    0.0000001."""
    text = format(Decimal(repr(float(seconds))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


# -----------------------------------------------------------------------------
# Peer text, safe to print


def escape_unprintable(text):
    """What is not printable (str.isprintable) is shown as repr shows it: \\n,
    \\x1b, \\u2028."""
    if text.isprintable():
        return text
    shown = []
    for character in text:
        if character.isprintable():
            shown.append(character)
        elif character == "\t":
            shown.append("\\t")
        elif character == "\n":
            shown.append("\\n")
        elif character == "\r":
            shown.append("\\r")
        else:
            code = ord(character)
            if code < 0x100:
                shown.append(f"\\x{code:02x}")
            elif code < 0x10000:
                shown.append(f"\\u{code:04x}")
            else:
                shown.append(f"\\U{code:08x}")
    return "".join(shown)


def peer_text(data):
    """Bytes from a peer as text: decoded as UTF-8 (bad bytes become U+FFFD),
    escaped."""
    return escape_unprintable(bytes(data).decode("utf-8", errors="replace"))


# -----------------------------------------------------------------------------
# Output: labels, colour, folding, hex dumps


def fold(line, label):
    """src/output.rs `fold`: lines of at most 80 characters, broken only at a
    single space between two non-spaces; later lines start with the label
    and three spaces. Linear time.
    """
    indent = f"{label}   "
    lines = []
    start = 0
    prefix_len = 0
    n = len(line)
    # The first line keeps its label, its kind (`error:`) and one word: no
    # break before that.
    first_word = 0
    if line.startswith(label):
        kind = line[len(label) :].lstrip().split(" ")[0]
        first_word = len(label) + (len(kind) + 1 if kind.endswith(":") else 0)

    def is_break(at):
        i = start + at
        return (
            line[i] == " "
            and at > 0
            and i > first_word
            and line[i - 1] != " "
            and i + 1 < n
            and line[i + 1] != " "
        )

    while n - start + prefix_len > WIDTH:
        limit = WIDTH - prefix_len
        found = None
        for at in range(min(limit, n - start) - 1, 0, -1):
            if is_break(at):
                found = at
                break
        if found is None:
            for at in range(limit, n - start):
                if is_break(at):
                    found = at
                    break
        if found is None:
            break
        head = line[start : start + found]
        lines.append(head if prefix_len == 0 else indent + head)
        start += found + 1
        prefix_len = len(indent)
        first_word = 0
    tail = line[start:]
    lines.append(tail if prefix_len == 0 else indent + tail)
    return lines


def bytes_repr_lines(data, width):
    """src/python.rs `bytes_repr_lines`: repr(data) in pieces of at most
    `width` characters each; Python reads pieces written one after another
    as one value (b'ab' b'cd').
    """
    lines = []
    start = 0
    while start < len(data) or not lines:
        end = start + 1
        while (
            end < len(data)
            and len(repr(bytes(data[start : end + 1]))) <= width
        ):
            end += 1
        lines.append(repr(bytes(data[start:end])))
        start = end
    return lines


def hex_dump(data):
    """Lines in the style of `hexdump -C`, as src/output.rs `hex_dump`."""
    lines = []
    for offset in range(0, len(data), HEX_WIDTH):
        row = bytes(data[offset : offset + HEX_WIDTH])
        hex_text = " ".join(f"{byte:02x}" for byte in row)
        text = "".join(
            chr(byte) if 0x20 <= byte < 0x7F else "." for byte in row
        )
        lines.append(f"{offset:04x} {hex_text:<47} |{text}|")
    return lines


def wants_colour(stream):
    """CLICOLOR_FORCE (not "0") wins, then NO_COLOR (not empty) and TERM=dumb,
    then a tty."""
    if os.environ.get("CLICOLOR_FORCE", "") not in ("", "0"):
        return True
    try:
        is_terminal = stream.isatty()
    except (OSError, ValueError):
        is_terminal = False
    return (
        os.environ.get("NO_COLOR", "") == ""
        and os.environ.get("TERM", "") != "dumb"
        and is_terminal
    )


LABELS = {"server": ("[server]", "1;36"), "client": ("[client]", "1;32")}
KINDS = {
    "trace": ("trace:", "2"),
    "error": ("error:", "1;31"),
    "warning": ("warning:", "1;33"),
}
_COLOUR = {}
_WRITE_LOCK = threading.Lock()


def paint(stream_name, text, code):
    if stream_name not in _COLOUR:
        _COLOUR[stream_name] = wants_colour(
            sys.stdout if stream_name == "stdout" else sys.stderr
        )
    return f"\x1b[{code}m{text}\x1b[0m" if _COLOUR[stream_name] else text


def silence_stdout():
    """After stdout failed (closed pipe), point it at /dev/null so Python's
    exit does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


_BROKEN = (
    set()
)  # the streams that could not be written: every later line fails too


def write_text(stream_name, text):
    """Writes and flushes; returns False if it could not."""
    if stream_name in _BROKEN:
        return False
    stream = sys.stdout if stream_name == "stdout" else sys.stderr
    try:
        stream.write(text)
        stream.flush()
        return True
    except (OSError, ValueError):
        _BROKEN.add(stream_name)
        if stream_name == "stdout":
            silence_stdout()
        return False


class Out:
    """Prints the lines of one side, labelled [server] or [client], as
    src/output.rs does."""

    def __init__(
        self, role, hex=False, trace=False, on_listening=None, failed=None
    ):
        self.role = role
        self.hex_on = hex
        self.trace_on = trace
        self.on_listening = on_listening
        self.failed = failed if failed is not None else [False]

    def say(self, line):
        self._write("stdout", None, line)

    def trace(self, line):
        if self.trace_on:
            self._write("stdout", "trace", line)

    def hex(self, what, data):
        if self.hex_on:
            self.say(f"{what} {len(data)} bytes:")
            for line in hex_dump(data):
                self.say(line)

    def warn(self, line):
        self._write("stderr", "warning", line)

    def error(self, line):
        self._write("stderr", "error", line)

    def _write(self, stream, kind, line):
        label, label_code = LABELS[self.role]
        painted_label = paint(stream, label, label_code)
        if kind is None:
            start, painted = label, painted_label
        else:
            kind_text, kind_code = KINDS[kind]
            start = f"{label} {kind_text}"
            painted = f"{painted_label} {paint(stream, kind_text, kind_code)}"
        indent = f"{painted_label}   "
        text = []
        for index, folded in enumerate(fold(f"{start} {line}", label)):
            if index == 0:
                text.append(painted + folded[len(start) :])
            else:
                text.append(indent + folded[len(label) + 3 :])
            text.append("\n")
        with _WRITE_LOCK:
            if not write_text(stream, "".join(text)):
                self.failed[0] = True

    def write_failed(self):
        return self.failed[0]

    def listening(self, sock):
        """Prints `listening on HOST:PORT` with the port the system gave,
        and returns it."""
        host, port = sock.getsockname()[:2]
        self.say(f"listening on {host}:{port}")
        if host == "0.0.0.0":
            self.warn(
                f"{host} means every network interface: other machines that "
                "can reach this "
                "one can connect"
            )
        if self.on_listening:
            self.on_listening((host, port))
        return host, port


# -----------------------------------------------------------------------------
# Errors, in the words of src/errors.rs


class LessonError(Exception):
    """An error whose message already says what happened (src/errors.rs keeps
    those as they are).

    `timeout` marks the silence of a recv (Rust's ErrorKind::TimedOut);
    `past_deadline` a wire whose deadline has passed (src/wire.rs
    `is_past_deadline`)."""

    def __init__(self, message, timeout=False, past_deadline=False):
        super().__init__(message)
        self.timeout = timeout
        self.past_deadline = past_deadline


def os_error_text(error):
    """An OSError as Rust's io::Error prints it: `Broken pipe (os error 32)`."""
    if isinstance(error, socket.timeout) or (
        isinstance(error, TimeoutError) and error.errno is None
    ):
        return "timed out"
    if error.errno is not None:
        return f"{os.strerror(error.errno)} (os error {error.errno})"
    return str(error)


def is_past_deadline(error):
    """src/wire.rs `is_past_deadline`: a wire's deadline has passed, rather
    than one call's wait."""
    return isinstance(error, LessonError) and error.past_deadline


def is_timeout(error):
    if isinstance(error, LessonError):
        return error.timeout
    return isinstance(error, (socket.timeout, TimeoutError)) or (
        isinstance(error, OSError)
        and error.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.ETIMEDOUT)
    )


def address_text(address):
    return f"{address[0]}:{address[1]}"


def explain(error, serving=None, connecting=None):
    """src/errors.rs `explain`. `serving` is the server's (host, port);
    `connecting` is (lesson, (host, port), wait)."""
    if isinstance(error, LessonError):
        return str(error)
    if not isinstance(error, OSError):
        return str(error)
    peer = "the client" if serving is not None else "the server"
    code = error.errno
    if serving is not None:
        host, port = serving
        if code == errno.EADDRINUSE:
            return (
                f"port {port} is already in use on {host}. Another lesson's "
                "server, or an earlier "
                "run of this one, may still be running: stop it (Ctrl-C in "
                "its terminal), or pick "
                "another port with --port."
            )
        if code == errno.EADDRNOTAVAIL:
            return (
                f"{host} is not an address of this machine, so no server can "
                "listen there. Use "
                "127.0.0.1 (this machine only) or 0.0.0.0 (every interface)."
            )
        if code in (errno.EACCES, errno.EPERM):
            return (
                f"this user may not listen on port {port}: on this system, "
                "ports below 1024 are "
                "kept for the administrator. Pick one from 1024 up with --port."
            )
    if connecting is not None:
        lesson, server, wait = connecting
        if code == errno.ECONNREFUSED:
            return (
                f"nothing is listening on {address_text(server)} (connection "
                "refused). Start the "
                "server first, in another terminal: python3 "
                f"lessons/python/{lesson}.py server "
                f"--port {server[1]}"
            )
        if is_timeout(error):
            return (
                f"no answer from {address_text(server)} within "
                f"{seconds_text(wait)} s. Is this "
                "lesson's server running there? --wait SECONDS gives it longer."
            )
        if code in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return (
                f"{address_text(server)} cannot be reached from here: check "
                "the address and the network."
            )
    if code == errno.ECONNRESET:
        return (
            f"{peer}'s system reset the connection (RST). That happens when "
            f"{peer} closes with "
            "data it never read, closes with SO_LINGER set to 0, or no "
            "longer knows the "
            "connection (its machine restarted). A program that crashes or is "
            "killed does not "
            "cause it: its system closes its sockets normally."
        )
    if code == errno.EPIPE:
        return f"{peer} went away while this side was still sending."
    if code == errno.ECONNABORTED:
        return f"the connection to {peer} was aborted before it was set up."
    return os_error_text(error)


def resolve(host, port):
    """src/errors.rs `resolve`: the first IPv4 address of `host`."""
    try:
        found = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise LessonError(
            f"cannot find the host '{host}': failed to lookup address "
            "information: "
            f"{error.strerror}"
        ) from None
    except (OSError, ValueError, UnicodeError) as error:
        raise LessonError(f"cannot find the host '{host}': {error}") from None
    for family, _, _, _, address in found:
        if family == socket.AF_INET:
            return address[0], address[1]
    raise LessonError(
        f"'{host}' has no IPv4 address; these lessons use IPv4 (AF_INET), "
        "like the tutorial"
    )


# -----------------------------------------------------------------------------
# The wire: src/wire.rs


class Wire:
    """A socket with the lesson's eyes on it: --trace, --hex, --chunk/--pause,
    the deadline."""

    def __init__(
        self, sock, out, chunk=None, pause=DEFAULT_PAUSE, deadline=None
    ):
        self.sock = sock
        self.out = out
        self.chunk = chunk
        self.pause = pause
        self.deadline = (
            (time.monotonic() + deadline, deadline)
            if deadline is not None
            else None
        )
        self.read_timeout = (
            None  # like Rust's SO_RCVTIMEO: None waits without end
        )
        self.pieces = 0
        self.received = 0

    def peer(self):
        return "the client" if self.out.role == "server" else "the server"

    def set_read_timeout(self, seconds):
        self.read_timeout = seconds

    def accept(self):
        self.out.trace("accept() waits for a client to connect")
        try:
            sock, address = self.sock.accept()
        except OSError as error:
            self.out.trace(f"accept() -> error: {os_error_text(error)}")
            time.sleep(ACCEPT_RETRY_PAUSE)
            raise
        self.out.trace(
            f"accept() -> a new socket, connected to {address_text(address)}"
        )
        wire = Wire(sock, self.out, self.chunk, self.pause)
        wire.deadline = self.deadline
        if self.chunk is not None:
            # Without it, the system may hold back a small piece until the last
            # one is acknowledged (Nagle's algorithm), and glue pieces.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return wire, address

    def connect(self, address, wait):
        call = f"connect({address_text(address)})"
        self.out.trace(
            f"{call} waits for the handshake with the server to complete"
        )
        wait = min(wait, self.time_left())
        self.sock.settimeout(wait)
        try:
            self.sock.connect(address)
        except OSError as error:
            self.out.trace(f"{call} -> error: {os_error_text(error)}")
            raise
        local = self.sock.getsockname()
        self.out.trace(f"{call} -> connected")
        self.out.say(
            f"connected from {address_text(local)}: the port the system gave "
            "this side"
        )

    def time_left(self):
        if self.deadline is None:
            return float("inf")
        left = self.deadline[0] - time.monotonic()
        # Under a millisecond left is past it, as in src/wire.rs.
        if left < 0.001:
            raise self.past_deadline()
        return left

    def set_deadline(self, limit):
        """From now, this socket may be used for at most `limit` seconds
        in all: a server's bound on one connection, however slowly its
        client sends."""
        self.deadline = (time.monotonic() + limit, limit)

    def clear_deadline(self):
        """No deadline from now on."""
        self.deadline = None

    def past_deadline(self):
        limit = self.deadline[1] if self.deadline else 0
        # Only a client has the option; a server's limit is its lesson's.
        hint = (
            " --deadline SECONDS allows longer."
            if self.out.role == "client"
            else ""
        )
        if self.received == 0:
            message = (
                f"gave up after {seconds_text(limit)} s in all: nothing "
                "arrived from "
                f"{self.peer()} in that time.{hint}"
            )
        else:
            message = (
                f"gave up after {seconds_text(limit)} s in all, with "
                f"{self.received} bytes "
                f"received: {self.peer()} was still sending.{hint}"
            )
        return LessonError(message, past_deadline=True)

    def silence(self, wait):
        # A client's wait is its --wait; a server's is the lesson's own.
        waited = f"{seconds_text(wait)} s" + (
            " (--wait)" if self.out.role == "client" else ""
        )
        try:
            peer = address_text(self.sock.getpeername())
        except OSError:
            peer = self.peer()
        if self.received == 0 and self.out.role == "client":
            message = (
                f"connected to {peer}, but nothing arrived within {waited}. "
                "Is this lesson's "
                "server the one listening there? A server busy with another "
                "client leaves this "
                "connection waiting in its backlog."
            )
        elif self.received == 0:
            message = (
                f"the client at {peer} connected, but sent nothing within "
                f"{waited}"
            )
        else:
            message = (
                f"{self.peer()} sent {self.received} bytes, then nothing more "
                f"within {waited}, "
                "and did not close the connection"
            )
        return LessonError(message, timeout=True)

    def recv(self, size):
        """recv(2), into a buffer of `size` bytes."""
        call = f"recv({size})"
        peer = self.peer()
        left = self.time_left()
        if self.read_timeout is None or self.read_timeout > left:
            # The deadline comes first: this recv waits only until then.
            self.read_timeout = left
        self.out.trace(f"{call} waits for bytes from {peer}")
        self.sock.settimeout(
            None if self.read_timeout == float("inf") else self.read_timeout
        )
        try:
            data = self.sock.recv(size)
        except OSError as error:
            if not is_timeout(error):
                self.out.trace(f"{call} -> error: {os_error_text(error)}")
                raise
            waited = self.read_timeout
            try:
                self.time_left()
            except LessonError:
                # The deadline cut this wait short: say so, not the fraction of
                # a second left.
                self.out.trace(
                    f"{call} -> nothing within what was left of its "
                    f"{seconds_text(self.deadline[1])} s in all"
                )
                raise
            self.out.trace(
                f"{call} -> nothing within {seconds_text(waited)} s"
            )
            raise self.silence(waited) from None
        if not data:
            self.out.trace(f"{call} -> 0 bytes ({peer} will send no more)")
            return data
        self.received += len(data)
        self.out.trace(f"{call} -> {len(data)} bytes")
        self.out.hex("received", data)
        return data

    def send(self, data):
        """send(2) of at most one --chunk piece; returns how many bytes
        went."""
        piece = memoryview(data)
        if self.chunk is not None:
            piece = piece[: self.chunk]
            if self.pieces > 0:
                time.sleep(self.pause)
        call = f"send({len(piece)} bytes)"
        self.out.trace(f"{call} waits for room in this side's send buffer")
        try:
            sent = self.sock.send(piece)
        except OSError as error:
            self.out.trace(f"{call} -> error: {os_error_text(error)}")
            raise
        self.pieces += 1
        self.out.trace(f"{call} -> {sent} bytes")
        self.out.hex("sent", piece[:sent])
        return sent

    def sendall(self, data):
        """Python's sendall, as send(2) after send(2): with --chunk, each
        piece its own send."""
        view = memoryview(data)
        while view:
            view = view[self.send(view) :]

    def close(self):
        self.sock.close()


def listener(config, out):
    """socket(2), SO_REUSEADDR, bind(2), listen(2): the server socket every
    lesson makes, as a Wire."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(config.address)
    sock.listen(5)
    wire = config.wire(sock, out)
    out.listening(sock)
    return wire


# -----------------------------------------------------------------------------
# The command line: src/cli.rs


class UsageError(Exception):
    pass


class Option:
    """A lesson's own option (src/cli.rs LessonOption). value: "switch",
    "text" or ("count", max)."""

    def __init__(self, flag, value, placeholder, default, side, help):
        self.flag, self.value, self.placeholder = flag, value, placeholder
        self.default, self.side, self.help = default, side, help


SHARED = {
    "--host": "both",
    "--port": "both",
    "--once": "server",
    "--wait": "client",
    "--deadline": "client",
    "--buffer": "client",
    "--chunk": "server",
    "--pause": "server",
    "--hex": "both",
    "--trace": "both",
}

# What Rust's str::parse accepts: f64 (no spaces, no underscores), and u16/u64
# (an optional +).
FLOAT_TEXT = re.compile(
    r"[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|inf|infinity|nan)",
    re.I,
)
WHOLE_TEXT = re.compile(r"\+?[0-9]+")


def allows(side, mode):
    return mode == "demo" or side == "both" or side == mode


def whole(text):
    return int(text) if WHOLE_TEXT.fullmatch(text) else None


def byte_count(flag, text):
    """--chunk and --buffer: a whole number of bytes from 1 to MAX_BYTES."""
    number = whole(text)
    if number is None or not 1 <= number <= MAX_BYTES:
        raise UsageError(
            f"{flag} takes a number of bytes from 1 to {MAX_BYTES}, not "
            f"'{text}'"
        )
    return number


class Options:
    pass


def parse(
    words, default_port, default_wait, lesson_options, default_buffer=None
):
    """src/cli.rs `parse`: returns "help" or an Options; raises UsageError."""
    words = list(words)
    mode = "demo"
    if words and words[0] in ("server", "client"):
        mode = words.pop(0)
    mode_name = {"demo": "the demo", "server": "server", "client": "client"}[
        mode
    ]
    own = {option.flag: option for option in lesson_options}
    given = {}
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if word in ("-h", "--help"):
            return "help"
        flag, inline = word, None
        if "=" in word:
            head, value = word.split("=", 1)
            if head.startswith("--"):
                flag, inline = head, value
        if flag in SHARED:
            name, side, takes_value = (
                flag,
                SHARED[flag],
                flag not in ("--once", "--hex", "--trace"),
            )
        elif flag in own:
            option = own[flag]
            name, side, takes_value = (
                flag,
                option.side,
                option.value != "switch",
            )
        elif word in ("server", "client"):
            raise UsageError(f"'{word}' must come first, before any option")
        elif word.startswith("-"):
            raise UsageError(f"unknown option '{word}'")
        else:
            raise UsageError(f"unexpected argument '{word}'")
        if not allows(side, mode) or (
            mode == "demo" and name in ("--host", "--port", "--once")
        ):
            raise UsageError(f"{name} is not an option of {mode_name}")
        if takes_value:
            if inline is not None:
                value = inline
            elif index < len(words):
                value = words[index]
                index += 1
            else:
                raise UsageError(f"{name} needs a value")
        elif inline is not None:
            raise UsageError(f"{name} takes no value")
        else:
            value = ""
        if name in given:
            raise UsageError(f"{name} is given twice")
        given[name] = value

    def seconds(flag, default):
        if flag not in given:
            return default
        text = given[flag]
        # --pause may be 0; a wait must be at least a millisecond, as in Rust.
        least = 0.0 if flag == "--pause" else 0.001
        number = float(text) if FLOAT_TEXT.fullmatch(text) else float("nan")
        if not least <= number <= MAX_SECONDS:
            raise UsageError(
                f"{flag} takes a number of seconds from {seconds_text(least)} "
                f"and at most {seconds_text(MAX_SECONDS)}, not '{text}'"
            )
        return number

    options = Options()
    options.mode = mode
    if "--port" in given:
        port = whole(given["--port"])
        if port is None or port > 65535:
            raise UsageError(
                "--port takes a whole number from 0 to 65535, not "
                f"'{given['--port']}'"
            )
    else:
        port = default_port
    if mode == "client" and port == 0:
        raise UsageError("a client needs the server's real port, not 0")
    host = given.get("--host", DEFAULT_HOST)
    if not host.strip():
        raise UsageError(
            "--host needs a host name or an IPv4 address, such as 127.0.0.1 "
            "(0.0.0.0 means "
            "every interface)"
        )
    chunk = (
        byte_count("--chunk", given["--chunk"]) if "--chunk" in given else None
    )
    if "--pause" in given and chunk is None:
        raise UsageError(
            "--pause goes with --chunk: it is the pause between pieces"
        )
    extra = {}
    for option in lesson_options:
        if option.value == "switch":
            if option.flag in given:
                extra[option.flag] = True
            continue
        text = given.get(option.flag, option.default)
        if option.value == "text" and text == "":
            raise UsageError(f"{option.flag} needs some text, not ''")
        if isinstance(option.value, tuple):
            number = whole(text)
            if number is None or not 1 <= number <= option.value[1]:
                raise UsageError(
                    f"{option.flag} takes a whole number from 1 to "
                    f"{option.value[1]}, not '{text}'"
                )
            extra[option.flag] = number
        else:
            extra[option.flag] = text
    options.host, options.port, options.once = host, port, "--once" in given
    options.wait = seconds("--wait", default_wait)
    options.deadline = seconds("--deadline", DEFAULT_DEADLINE)
    options.buffer = default_buffer or 0
    if "--buffer" in given:
        if default_buffer is None:
            raise UsageError(
                "--buffer does not apply: this lesson's client does not read "
                "into a "
                "buffer of its own"
            )
        options.buffer = byte_count("--buffer", given["--buffer"])
    options.chunk, options.pause = chunk, seconds("--pause", DEFAULT_PAUSE)
    options.hex, options.trace = "--hex" in given, "--trace" in given
    options.extra = extra
    return options


def usage(
    lesson,
    title,
    default_port,
    default_wait,
    lesson_options,
    default_buffer=None,
):
    """src/cli.rs `usage`, with the Python command in place of `cargo run
    --example`."""
    command = f"python3 lessons/python/{lesson}.py"
    buffer_help = ""
    if default_buffer is not None:
        buffer_help = (
            f"  --buffer BYTES     client: the most one recv may return\n"
            f"{'':21}[default: {default_buffer}]\n"
        )
    text = f"""{lesson}: {title}

Usage:
  {command:<41} a demo: server and client
  {command} server [OPTIONS]
  {command} client [OPTIONS]

Options:
  --host HOST        server: the address to listen on; client: the
                     server to connect to [default: {DEFAULT_HOST}]
  --port PORT        the port; a server given 0 lets the system pick
                     one [default: {default_port}]
  --once             server: serve one client, then exit
                     (without it: until Ctrl-C)
  --wait SECONDS     client: how long connect and each recv wait
                     [default: {seconds_text(default_wait)}]
  --deadline SECONDS client: how long it may run in all
                     [default: {seconds_text(DEFAULT_DEADLINE)}]
{buffer_help}  --chunk BYTES      server: send in pieces of at most BYTES bytes,
                     each its own send (slow motion)
  --pause SECONDS    server: the pause between pieces
                     [default: {seconds_text(DEFAULT_PAUSE)}]
  --hex              show every byte sent and received, in hex
  --trace            say what each call waits for, and what it
                     returned
"""
    for option in lesson_options:
        side = {"server": "server: ", "client": "client: ", "both": ""}[
            option.side
        ]
        flag = (
            option.flag
            if option.value == "switch"
            else f"{option.flag} {option.placeholder}"
        )
        text += f"  {flag:<18} {side}{option.help}\n"
        if option.value != "switch":
            text += f"{'':21}[default: {option.default}]\n"
    text += (
        "  -h, --help         print this help\n\n"
        "The demo takes every option but --host, --port and --once.\n"
    )
    return text


# -----------------------------------------------------------------------------
# Running a lesson: src/lesson.rs


class ServerConfig:
    def __init__(self, address, options):
        self.address = address
        self.once = options.once
        self.chunk, self.pause = options.chunk, options.pause
        self.extra = options.extra

    def wire(self, sock, out):
        return Wire(sock, out, self.chunk, self.pause)

    def serve_clients(self, out, serve_one):
        """The tutorial's `while True:` around accept(): one client after
        another, or one with --once. A client's failure is reported,
        and the server goes on."""
        if not self.once:
            out.say("waiting for clients; Ctrl-C stops the server")
        while True:
            try:
                serve_one()
            except (OSError, LessonError) as error:
                if self.once:
                    raise
                out.error(explain(error, serving=self.address))
            if self.once:
                return
            out.say("waiting for the next client; Ctrl-C stops the server")


class ClientConfig:
    def __init__(self, server, options):
        self.server = server
        self.wait = options.wait
        self.deadline = options.deadline
        self.buffer = options.buffer
        self.demo = options.mode == "demo"
        self.extra = options.extra

    def wire(self, sock, out):
        return Wire(sock, out, deadline=self.deadline)


def words_as_text(argv):
    """Rust's args_os().into_string(): a word that is not valid UTF-8 is a
    usage error."""
    for word in argv:
        try:
            word.encode("utf-8")
        except UnicodeEncodeError:
            shown = "".join(
                (
                    f"\\x{ord(c) - 0xDC00:02X}"
                    if 0xDC80 <= ord(c) <= 0xDCFF
                    else c
                )
                for c in word
            )
            raise UsageError(f'"{shown}" is not valid text') from None
    return argv


class Lesson:
    def __init__(
        self,
        name,
        title,
        port,
        server,
        client,
        wait=10.0,
        options=(),
        buffer=None,
    ):
        """`buffer`: the client's receive buffer by default; None for a
        lesson whose client has none of its own (it refuses --buffer)."""
        self.name, self.title, self.port, self.wait = name, title, port, wait
        self.server, self.client, self.options = server, client, list(options)
        self.buffer = buffer

    def usage(self):
        return usage(
            self.name,
            self.title,
            self.port,
            self.wait,
            self.options,
            self.buffer,
        )

    def main(self):
        # Ctrl-C stops a lesson as it stops the Rust one: the process ends,
        # without a traceback.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        try:
            command = parse(
                words_as_text(sys.argv[1:]),
                self.port,
                self.wait,
                self.options,
                self.buffer,
            )
        except UsageError as error:
            write_text("stderr", f"error: {error}\n\n{self.usage()}")
            sys.exit(USAGE_ERROR)
        if command == "help":
            sys.exit(
                0 if write_text("stdout", self.usage()) else RUNTIME_ERROR
            )
        sys.exit(self.run(command))

    def run(self, options):
        if options.mode == "demo":
            return self.demo(options)
        out = Out(options.mode, options.hex, options.trace)
        try:
            address = resolve(options.host, options.port)
        except LessonError as error:
            return self.finish(out, error)
        if options.mode == "server":
            return self.finish(
                out, self.serve(ServerConfig(address, options), out)
            )
        return self.finish(
            out, self.connect(ClientConfig(address, options), out)
        )

    def serve(self, config, out):
        """Runs the server; returns None, or the error, explained."""
        try:
            self.server(config, out)
        except (OSError, LessonError) as error:
            return LessonError(explain(error, serving=config.address))
        return None

    def connect(self, config, out):
        try:
            self.client(config, out)
        except (OSError, LessonError) as error:
            return LessonError(
                explain(
                    error, connecting=(self.name, config.server, config.wait)
                )
            )
        return None

    def demo(self, options):
        """The server in a thread on a port the system picks; the client
        once it is listening."""
        addresses = queue.Queue()
        statuses = queue.Queue()
        server_options = Options()
        server_options.__dict__.update(options.__dict__)
        server_options.once = True
        config = ServerConfig(("127.0.0.1", 0), server_options)
        server_out = Out(
            "server", options.hex, options.trace, on_listening=addresses.put
        )

        def serve():
            status = RUNTIME_ERROR
            try:
                status = self.finish(
                    server_out, self.serve(config, server_out)
                )
            finally:
                statuses.put(status)
                addresses.put(None)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        address = addresses.get()
        if address is None:
            # The server never got to listen: it has said why.
            return statuses.get()
        out = Out("client", options.hex, options.trace)
        error = self.connect(ClientConfig(address, options), out)
        client = self.finish(out, error)
        if error is not None:
            # Not waiting for the server: it may be blocked on a client that is
            # gone.
            sys.stdout.flush()
            os._exit(client)
        server = statuses.get()
        return server if client == 0 else RUNTIME_ERROR

    def finish(self, out, error):
        if error is not None:
            out.error(error)
            return RUNTIME_ERROR
        if out.write_failed():
            out.error("some of this lesson's output could not be written")
            return RUNTIME_ERROR
        return 0
