"""Lesson 8: many clients at once, a thread for each (threading).

Each accepted connection gets a thread of its own, so an idle client delays
no one; at most --max-clients are served at once, and a client beyond that is
told so and closed. The client's --count N starts N clients at once."""

import argparse
import queue
import socket
import sys
import threading

import common
from common import explain, port_number, positive_seconds

MAX_GREETING = 200


class Out(common.Out):
    """common.Out, safe for threads: print() writes a line's text and its end separately, so
    lines printed by two threads at once could run together. Each line is one write here."""

    lock = threading.Lock()

    def say(self, text):
        self.write(sys.stdout, f"[{self.role}] {text}\n")

    def error(self, text):
        self.write(sys.stderr, f"[{self.role}] error: {text}\n")

    def write(self, stream, line):
        with self.lock:
            stream.write(line)
            stream.flush()


def count(maximum):
    def parse(text):
        if not text.isdigit() or not 1 <= int(text) <= maximum:
            raise argparse.ArgumentTypeError(f"takes a whole number from 1 to {maximum}, not {text!r}")
        return int(text)
    return parse


def server(args, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.host, args.port))
    s.listen(5)
    out.listening(s)
    connected = threading.Semaphore(args.max_clients)  # a free place per client
    threads = []
    number = 0
    to_serve = args.count if args.once else None
    while to_serve is None or number < to_serve:
        clt, adr = s.accept()
        number += 1
        address = f"{adr[0]}:{adr[1]}"
        if not connected.acquire(blocking=False):
            out.say(f"connection {number} from {address}: refused, {args.max_clients} clients are "
                    f"connected already (--max-clients)")
            try:
                clt.sendall(f"the server is full ({args.max_clients} clients); try again later\n".encode())
            except OSError:
                pass
            clt.close()
            continue
        out.say(f"connection {number} from {address}: a thread of its own")
        thread = threading.Thread(target=serve_one, args=(clt, number, address, args.hold, out, connected))
        thread.start()
        if args.once:
            threads.append(thread)
    for thread in threads:
        thread.join()
    s.close()


def serve_one(clt, number, address, hold, out, connected):
    try:
        clt.sendall(f"you are connection {number}, from {address}\n".encode())
        clt.settimeout(hold)
        try:
            while clt.recv(1024):
                pass
            out.say(f"connection {number}: the client hung up; its thread ends")
        except socket.timeout:
            out.say(f"connection {number}: no hang-up after {hold} s: closing it")
    except OSError as error:
        out.error(f"connection {number}: {explain(error, 'the client')}")
    finally:
        clt.close()
        connected.release()


def client(args, out):
    failures = []
    threads = []
    for number in range(1, args.count + 1):
        label = "" if args.count == 1 else f"client {number}: "
        connected = threading.Event()
        thread = threading.Thread(target=one_client, args=(args, out, label, connected, failures, number))
        thread.start()
        threads.append(thread)
        connected.wait()  # connect in order, so the server numbers them so
    for thread in threads:
        thread.join()
    if failures:
        if args.count == 1:
            sys.exit(1)
        out.error(f"{len(failures)} of the {args.count} clients failed")
        sys.exit(1)


def one_client(args, out, label, connected, failures, number):
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        out.say(f"{label}connecting to {args.host}:{args.port}")
        s.settimeout(args.wait)
        try:
            s.connect((args.host, args.port))
        finally:
            connected.set()
        host, port = s.getsockname()
        out.say(f"connected from {host}:{port}: the port the system gave this side")
        greeting = b""
        while not greeting.endswith(b"\n") and len(greeting) < MAX_GREETING:
            chunk = s.recv(MAX_GREETING - len(greeting))
            if not chunk:
                break
            greeting += chunk
        text = greeting.decode("utf-8", errors="replace").rstrip("\n")
        out.say(f"{label}the server says: {escape(text)}")
        s.settimeout(args.stay)
        try:
            more = s.recv(MAX_GREETING)
            if more:
                out.say(f"{label}the server sent more than a greeting: hanging up")
            else:
                out.say(f"{label}the server closed the connection")
        except socket.timeout:
            out.say(f"{label}hanging up after staying {args.stay} s")
        s.close()
    except OSError as error:
        prefix = f"client {number}: " if args.count > 1 else ""
        out.error(prefix + explain(error, "the server"))
        failures.append(number)


def escape(text):
    """Peer text with its unprintable characters escaped, as repr() does."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def main():
    parser = argparse.ArgumentParser(description="lesson_08: many clients at once")
    parser.add_argument("mode", nargs="?", choices=["server", "client"], help="without it: a demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=port_number, default=4108)
    parser.add_argument("--once", action="store_true")
    parser.add_argument("--wait", type=positive_seconds, default=10.0)
    parser.add_argument("--max-clients", type=count(1000), default=4)
    parser.add_argument("--hold", type=count(3600), default=30)
    parser.add_argument("--count", type=count(100), default=1)
    parser.add_argument("--stay", type=count(3600), default=1)
    args = parser.parse_args()
    if args.mode == "client" and args.port == 0:
        parser.error("a client needs the server's real port, not 0")
    try:
        if args.mode == "server":
            run(server, args, Out("server"))
        elif args.mode == "client":
            args.host = socket.gethostbyname(args.host)
            run(client, args, Out("client"))
        else:
            ports = queue.Queue()
            server_args = argparse.Namespace(**{**vars(args), "host": "127.0.0.1", "port": 0, "once": True})
            thread = threading.Thread(target=run, args=(server, server_args, Out("server", ports.put)),
                                      daemon=True)
            thread.start()
            args.port = ports.get(timeout=10)
            run(client, args, Out("client"))
            thread.join()
    except KeyboardInterrupt:
        pass


def run(side, args, out):
    try:
        side(args, out)
    except OSError as error:
        out.error(explain(error, "the server" if out.role == "client" else "the client"))
        sys.exit(1)


if __name__ == "__main__":
    main()
