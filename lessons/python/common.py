"""What the Python lessons share, and a reader may skip: the command line,
the [server] and [client] lines, the demo, and errors in words. Each
lesson_NN.py makes its own socket calls, with the Rust lesson's command line
(subcommands, options, defaults, exit codes), so that any pairing works."""

import argparse
import errno
import os
import queue
import socket
import sys
import threading
import time
import types

RUNTIME_ERROR = 1  # a usage error is argparse's 2


def escape(text):
    """A peer's text, safe to print: the unprintable shown as repr shows it."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def plural(count, noun):  # 1 byte, 2 bytes
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def wants_colour(stream):
    """CLICOLOR_FORCE wins, then NO_COLOR and TERM=dumb, then a terminal."""
    env = os.environ.get
    if env("CLICOLOR_FORCE", "") not in ("", "0"):
        return True
    plain = env("NO_COLOR", "") or env("TERM") == "dumb" or stream is None
    return not plain and stream.isatty()


class Out:
    """Where a side prints, after its label: stdout for the story, stderr
    for trouble. A line it cannot write makes the lesson exit 1."""

    LABELS = {"server": "1;36", "client": "1;32"}
    KINDS = {"error:": "1;31", "warning:": "1;33", "trace:": "2"}
    lock = threading.Lock()  # one line at a time, from any thread

    def __init__(self, role, args):
        self.role, self.failed, self.listening_queue = role, False, None
        self.show_trace = getattr(args, "trace", False)
        self.show_hex = getattr(args, "hex", False)

    def say(self, line):
        self.write(sys.stdout, None, line)

    def error(self, line):
        self.write(sys.stderr, "error:", line)

    def warn(self, line):
        self.write(sys.stderr, "warning:", line)

    def trace(self, line):
        if self.show_trace:
            self.write(sys.stdout, "trace:", line)

    def traced(self, call, *args, waits_for, label=""):
        """call(*args), with --trace lines before and after: nothing else."""
        shown = (f"{len(a)} bytes" if type(a) is bytes else str(a)
                 for a in args)
        name = f"{label}{call.__name__}({', '.join(shown)})"
        self.trace(f"{name} waits for {waits_for}")
        try:
            result = call(*args)
        except OSError as error:
            self.trace(f"{name} -> error: {error.strerror or error}")
            raise
        said = plural(len(result), "byte") if type(result) is bytes else (
            f"a new socket, connected to {address_text(result[1])}"
            if type(result) is tuple else "done")  # accept, or the rest
        self.trace(f"{name} -> {said}")
        return result

    def hex(self, what, data):  # with --hex, as `hexdump -C` shows them
        if self.show_hex:
            self.say(f"{what} {plural(len(data), 'byte')}:")
            for at in range(0, len(data), 16):
                row = data[at : at + 16]
                text = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
                self.say(f"{at:04x} {row.hex(' '):<47} |{text}|")

    def write(self, stream, kind, line):
        colour = wants_colour(stream)
        words = [(f"[{self.role}]", self.LABELS[self.role])]
        words += [(kind, self.KINDS[kind])] if kind else []
        text = " ".join(f"\x1b[{c}m{w}\x1b[0m" if colour else w
                        for w, c in words)
        try:
            with self.lock:
                stream.write(f"{text} {line}\n")
                stream.flush()
        except (OSError, ValueError, AttributeError):  # closed, or None
            self.failed = True

    def listening(self, sock):
        """`listening on HOST:PORT`, the port the system gave: what tests and
        the demo wait for."""
        host, port = sock.getsockname()[:2]
        self.say(f"listening on {address_text((host, port))}")
        if host in ("0.0.0.0", "::"):
            self.warn(f"{host} is every interface: other machines may connect")
        if self.listening_queue:
            self.listening_queue.put((host, port))


def address_text(address):
    host, port = address[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def send_all(sock, data, args, out):
    """sendall; with --chunk, in pieces of at most that many bytes, each its
    own sendall, --pause apart, and TCP_NODELAY on so that the system sends
    each at once (Nagle's algorithm would glue them)."""
    size = args.chunk or max(len(data), 1)
    if args.chunk:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for at in range(0, len(data), size):
        if at:
            time.sleep(args.pause)
        piece = data[at : at + size]
        out.traced(sock.sendall, piece, waits_for="room in the send buffer")
        out.hex("sent", piece)


def utf8(text):
    """An argument that is UTF-8, as clap requires of the Rust lessons':
    Python decodes other bytes of argv to lone surrogates, which encode
    would refuse only when the text is sent."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError("not UTF-8") from None
    return text


def seconds(text):
    digits = text.replace(".", "", 1)
    plain = digits.isascii() and digits.isdigit()  # not '٣', which is 3
    value = float(text) if plain else -1.0
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(
            "expected seconds from 0 to 3600, written like 2 or 0.5")
    return value


def host(text):
    if not text:
        raise argparse.ArgumentTypeError("a host needs a name or an address")
    return text


def whole(low, high):
    """An argparse type: a whole number from low to high."""
    def parse(text):
        if text.isdigit() and low <= int(text) <= high:
            return int(text)
        raise argparse.ArgumentTypeError(f"{text!r} is not in {low}..={high}")
    return parse


def parser(name, about, port, wait, show=True):
    """The lesson's parser, and its server and client subparsers, to which
    the lesson adds its own options."""
    shown = argparse.ArgumentParser(add_help=False)
    if show:
        see = shown.add_argument_group("seeing the calls")
        see.add_argument("--trace", action="store_true",
                         help="say what each blocking call waits for")
        see.add_argument("--hex", action="store_true",
                         help="show every byte sent and received")
    top = argparse.ArgumentParser(
        prog=f"python3 lessons/python/{name}.py", parents=[shown],
        description=f"{name}: {about}",
        epilog="No command: a demo of both sides; its client takes the "
        "options above.")
    sides = top.add_subparsers(dest="side")
    defaults = argparse.ArgumentDefaultsHelpFormatter
    server = sides.add_parser("server", parents=[shown],
                              formatter_class=defaults, help="serve clients")
    server.add_argument("--host", default="127.0.0.1", type=host,
                        help="the address to listen on")
    server.add_argument("--port", type=whole(0, 65535), default=port,
                        help="the port; 0 lets the system pick one")
    server.add_argument("--once", action="store_true",
                        help="serve one client, then exit")
    client = sides.add_parser("client", parents=[shown],
                              formatter_class=defaults, help="connect")
    client.add_argument("--host", default="127.0.0.1", type=host,
                        help="the server's address")
    client.add_argument("--port", type=whole(1, 65535), default=port,
                        help="the server's port")
    client.add_argument("--wait", type=seconds, default=wait, metavar="SECONDS",
                        help="how long each wait for the server may last")
    top.set_defaults(lesson_name=name)
    # The client's own options go to the demo (no command) too: its client
    # takes them.
    both = types.SimpleNamespace(add_argument=lambda *a, **k: [
        parser.add_argument(*a, **k) for parser in (client, top)])
    return top, server, both


def slow_motion(server):
    server.add_argument("--chunk", type=whole(1, 65535), metavar="BYTES",
                        help="send in pieces of at most BYTES bytes")
    server.add_argument("--pause", type=seconds, default=0.2,
                        metavar="SECONDS", help="the pause between pieces")


def patience(client):
    client.add_argument("--deadline", type=seconds, default=60.0,
                        metavar="SECONDS", help="how long it may run in all")


def resolve(args):
    """args.family and args.address for --host and --port, IPv4 first,
    within 10 s: a daemon thread waits for getaddrinfo, which cannot be
    interrupted, and ends with the program."""
    host, answer, shown = args.host.strip("[]"), queue.Queue(), repr(args.host)

    def ask():
        try:
            answer.put(socket.getaddrinfo(host, args.port,
                                          type=socket.SOCK_STREAM))
        except (socket.gaierror, UnicodeError):
            answer.put([])

    try:  # digits: nothing to look up, so no thread
        found = socket.getaddrinfo(host, args.port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError):
        threading.Thread(target=ask, daemon=True).start()
        try:
            found = answer.get(timeout=10)
        except queue.Empty:
            raise LessonError(
                f"no answer for the host {escape(shown)} in 10 s") from None
    if not found:
        raise LessonError(f"cannot find the host {escape(shown)}")
    found.sort(key=lambda info: info[0] != socket.AF_INET)
    args.family, args.address = found[0][0], found[0][4][:2]


class LessonError(Exception):  # a failure the lesson words itself
    pass


def explain(error, args):
    """An OSError as one line in the lesson's words, as src/errors.rs."""
    if isinstance(error, LessonError):
        return str(error)
    serving = args.side == "server"
    peer = "the client" if serving else "the server"
    where = address_text(args.address) if hasattr(args, "address") else ""
    code = getattr(error, "errno", None)
    if isinstance(error, TimeoutError) or code == errno.EAGAIN:
        if serving:
            return "the client sent nothing in time"
        return f"nothing from {where} within {args.wait:g} s (--wait)"
    start = f"python3 lessons/python/{args.lesson_name}.py server"
    messages = {
        errno.EADDRINUSE: f"port {args.port} is in use: is another server "
        "running? Stop it, or pick another port with --port",
        errno.EADDRNOTAVAIL: f"{args.host} is not an address of this "
        "machine; try 127.0.0.1",
        errno.EACCES: f"ports below 1024 need the administrator; {args.port} "
        "is one: pick another with --port",
        errno.ECONNREFUSED: f"nothing listens on {where} (connection "
        f"refused); start the server first: {start}",
        errno.ECONNRESET: f"{peer} reset the connection (RST): it closed with "
        "data unread",
        errno.EPIPE: f"{peer} closed before all was sent",
        errno.EHOSTUNREACH: f"{where} cannot be reached from here",
        errno.ENETUNREACH: f"{where} cannot be reached from here",
    }
    return messages.get(code, error.strerror or str(error))


def run(side, args, serve, connect, out):
    """Runs one side; returns its exit status."""
    try:
        resolve(args)
        (serve if side == "server" else connect)(args, out)
    except (OSError, LessonError) as error:
        out.error(explain(error, args))
        return RUNTIME_ERROR
    return RUNTIME_ERROR if out.failed else 0


def main(top, serve, connect):
    """Runs the server, the client, or (no command) the demo: the server in
    a thread on a port the system picks, then a client once it listens."""
    args = top.parse_args()
    args.demo = args.side is None
    try:
        if args.side:
            sys.exit(run(args.side, args, serve, connect, Out(args.side, args)))
        shown = [f"--{f}" for f in ("trace", "hex") if getattr(args, f, 0)]
        server_args = top.parse_args(["server", "--port", "0", "--once",
                                      *shown])
        # The demo's own options are all the client's.
        client_args = top.parse_args(["client", *sys.argv[1:]])
        server_args.demo = client_args.demo = True
        server_out = Out("server", server_args)
        server_out.listening_queue = queue.Queue()
        status = []

        def serve_once():
            status.append(
                run("server", server_args, serve, connect, server_out))
            server_out.listening_queue.put(None)  # if it never listened

        # A daemon: not waited for if the client fails.
        thread = threading.Thread(target=serve_once, daemon=True)
        thread.start()
        listening = server_out.listening_queue.get()
        if listening is None:
            sys.exit(status[0])
        client_args.host, client_args.port = listening
        code = run("client", client_args, serve, connect, Out("client", args))
        if code == 0:
            thread.join()
            code = status[0] if status else RUNTIME_ERROR
        sys.exit(code)
    except KeyboardInterrupt:
        sys.exit(130)  # as a shell reports Ctrl-C, without a traceback
