"""Lesson 2: a tiny buffer truncates the message.

The server is lesson 1's. The client makes the same single recv, but with
room for 7 bytes: it gets b'Socket ' and nothing more. The other bytes did
arrive, and wait unread until the client closes. Same command line as
lessons/lesson_02.rs.
"""

import os
import socket

import common

MESSAGE = "Socket Programming in Python".encode("utf-8")


def server(args, out):
    # Lesson 1's server, line for line: this lesson is about the client.
    with socket.socket(args.family, socket.SOCK_STREAM) as s:
        if os.name == "posix":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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
            clt.close()
            if args.once:
                break


def client(args, out):
    with socket.socket(args.family, socket.SOCK_STREAM) as s:
        out.say(f"connecting to {common.address_text(args.address)}")
        s.settimeout(args.wait)
        out.traced(s.connect, args.address, waits_for="the handshake")
        out.say(f"connected from {common.address_text(s.getsockname())}")
        # The tutorial's recv(7): never more than 7 bytes, however many
        # have arrived.
        msg = out.traced(s.recv, args.buffer, waits_for="bytes")
        out.hex("received", msg)
        returned = common.plural(len(msg), "byte")
        out.say(f"recv({args.buffer}) returned {returned}: {msg!r}")
        out.say(common.escape(msg.decode("utf-8", errors="replace")))
        if not msg:
            out.say("the server closed without sending anything")
        elif len(msg) == args.buffer:
            out.say("the buffer is full: anything more waits unread; closing")
        else:
            out.say("the buffer is not full: that was all that had arrived; "
                    "closing")
    # Closed with bytes unread: the system discards them, and answers the
    # server with a reset (RST).


if __name__ == "__main__":
    top, server_options, client_options = common.parser(
        "lesson_02", "tiny buffer truncation", port=4102, wait=10.0)
    common.slow_motion(server_options)
    client_options.add_argument(
        "--buffer", type=common.whole(1, 65535), default=7,
        metavar="BYTES", help="the most one recv may return")
    common.main(top, server, client)
