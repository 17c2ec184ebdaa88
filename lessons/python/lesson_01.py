"""Lesson 1: basic send, the tutorial's first server and client.

The server accepts a connection, says so, and sends one line of text. The
client connects, asks for up to 1024 bytes with a single recv, and prints
what came. Same command line as lessons/lesson_01.rs.
"""

import os
import socket

import common

MESSAGE = "Socket Programming in Python".encode("utf-8")


def server(args, out):
    # The tutorial's socket(AF_INET, SOCK_STREAM): TCP over IPv4.
    with socket.socket(args.family, socket.SOCK_STREAM) as s:
        # Correction: so that a restarted server may bind at once. Windows
        # gives SO_REUSEADDR another meaning (sharing the port): not there.
        if os.name == "posix":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Correction: the tutorial binds port 1234 and connects to 2346;
        # here both sides take --host and --port.
        s.bind(args.address)
        s.listen(5)
        out.listening(s)
        while True:
            clt, adr = out.traced(s.accept, waits_for="a client")
            out.say(f"Connection to {common.address_text(adr)} established")
            out.say(f"sending {common.plural(len(MESSAGE), 'byte')}")
            try:
                common.send_all(clt, MESSAGE, args, out)
            except OSError as error:
                # A client that left early must not stop the server.
                why = common.explain(error, args)
                out.error(f"sending to {common.address_text(adr)}: {why}")
            clt.close()  # Correction: the tutorial never closes it.
            if args.once:
                break


def client(args, out):
    with socket.socket(args.family, socket.SOCK_STREAM) as s:
        out.say(f"connecting to {common.address_text(args.address)}")
        # Correction: connect and recv give up after --wait seconds; the
        # tutorial's would wait for ever on a silent server.
        s.settimeout(args.wait)
        out.traced(s.connect, args.address, waits_for="the handshake")
        out.say(f"connected from {common.address_text(s.getsockname())}")
        msg = out.traced(s.recv, args.buffer, waits_for="bytes")
        out.hex("received", msg)
        out.say(f"recv({args.buffer}) returned "
                f"{common.plural(len(msg), 'byte')}")
        # Escaped: printed raw, a peer's bytes could drive the terminal.
        out.say(common.escape(msg.decode("utf-8", errors="replace")))


if __name__ == "__main__":
    top, server_options, client_options = common.parser(
        "lesson_01", "basic send", port=4101, wait=10.0)
    common.slow_motion(server_options)
    client_options.add_argument(
        "--buffer", type=common.whole(1, 65535), default=1024,
        metavar="BYTES", help="the most one recv may return")
    common.main(top, server, client)
