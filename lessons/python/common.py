"""What the Python lessons share: the command line, labelled lines, the serving loop, the demo.

Each lesson_0N.py holds its own socket calls; this module only keeps them from repeating the
rest. Same command line as the Rust lessons:

    python3 lesson_01.py                                   # demo: server and client together
    python3 lesson_01.py server [--host H] [--port P] [--once]
    python3 lesson_01.py client [--host H] [--port P] [--wait SECONDS]
"""

import argparse
import queue
import socket
import sys
import threading


class Out:
    """Prints the lines of one side, labelled [server] or [client], as the Rust lessons do."""

    def __init__(self, role, on_listening=None):
        self.role = role
        self.on_listening = on_listening

    def say(self, text):
        print(f"[{self.role}] {text}", flush=True)

    def error(self, text):
        print(f"[{self.role}] error: {text}", file=sys.stderr, flush=True)

    def listening(self, sock):
        host, port = sock.getsockname()
        self.say(f"listening on {host}:{port}")
        if self.on_listening:
            self.on_listening(port)


def serve_clients(args, out, serve_one):
    """The tutorial's `while True:` around accept(): one client after another, or one with --once.

    A client that fails (resets, goes away) is reported, and the server waits for the next."""
    while True:
        try:
            serve_one()
        except OSError as error:
            if args.once:
                raise
            out.error(f"{explain(error, 'the client')} Waiting for the next client.")
        if args.once:
            return


def explain(error, peer):
    if isinstance(error, ConnectionRefusedError):
        return "nothing is listening there (connection refused). Start the server first."
    if isinstance(error, (socket.timeout, TimeoutError)):
        return f"no answer from {peer} in time; --wait SECONDS gives it longer."
    if isinstance(error, ConnectionResetError):
        return f"{peer} reset the connection."
    if isinstance(error, BrokenPipeError):
        return f"{peer} went away while this side was still sending."
    if isinstance(error, OSError) and error.errno == 98:
        return "the port is already in use: stop the other server, or pick another port with --port."
    return str(error)


def positive_seconds(text):
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= 3600:
        raise argparse.ArgumentTypeError(f"takes a number of seconds above 0 and at most 3600, not {text!r}")
    return seconds


def port_number(text):
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"takes a whole number from 0 to 65535, not {text!r}")
    return int(text)


def main(title, default_port, server, client, default_wait=10.0):
    parser = argparse.ArgumentParser(description=title)
    parser.add_argument("mode", nargs="?", choices=["server", "client"], help="without it: a demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=port_number, default=default_port)
    parser.add_argument("--once", action="store_true", help="server: serve one client, then exit")
    parser.add_argument("--wait", type=positive_seconds, default=default_wait,
                        help="client: how long connect and recv wait")
    args = parser.parse_args()
    if args.mode != "server" and args.once:
        parser.error("--once is for the server")
    if args.mode == "client" and args.port == 0:
        parser.error("a client needs the server's real port, not 0")
    try:
        if args.mode == "server":
            run(server, args, Out("server"))
        elif args.mode == "client":
            args.host = socket.gethostbyname(args.host)
            run(client, args, Out("client"))
        else:
            demo(server, client, args)
    except KeyboardInterrupt:
        pass


def run(side, args, out):
    try:
        side(args, out)
    except (OSError, ValueError) as error:
        out.error(explain(error, "the server" if out.role == "client" else "the client"))
        sys.exit(1)


def demo(server, client, args):
    """The server in a thread on a port the system picks; the client once it is listening."""
    ports = queue.Queue()
    server_args = argparse.Namespace(host="127.0.0.1", port=0, once=True)
    thread = threading.Thread(target=run, args=(server, server_args, Out("server", ports.put)), daemon=True)
    thread.start()
    client_args = argparse.Namespace(host="127.0.0.1", port=ports.get(timeout=10), wait=args.wait)
    run(client, client_args, Out("client"))
    thread.join()
