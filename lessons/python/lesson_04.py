"""Lesson 4: the server closes; the client reads until recv returns 0 bytes.

Same command line as lessons/lesson_04.rs.
"""

import os
import socket
import time

import common

MESSAGE = "Socket Programming in Python".encode("utf-8")

# The most the client keeps: a server could send without end.
MAX_MESSAGE = 1024 * 1024


def server(args, out):
    with socket.socket(args.family, socket.SOCK_STREAM) as s:
        if os.name == "posix":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(args.address)
        s.listen(5)
        out.listening(s)
        while True:
            clt, adr = out.traced(s.accept, waits_for="a client")
            out.say(f"Connection to {common.address_text(adr)} established")
            count = common.plural(len(MESSAGE), "byte")
            out.say(f"sending {count}, then closing the connection")
            try:
                common.send_all(clt, MESSAGE, args, out)
            except OSError as error:
                # A client that left early must not stop the server.
                why = common.explain(error, args)
                out.error(f"sending to {common.address_text(adr)}: {why}")
            # The tutorial's clt.close(): the system sends the client an end
            # of stream (FIN) after the last byte, and the client's recv
            # returns 0 once it has read the rest.
            clt.close()
            if args.once:
                break


def client(args, out):
    with socket.socket(args.family, socket.SOCK_STREAM) as s:
        out.say(f"connecting to {common.address_text(args.address)}")
        s.settimeout(args.wait)
        out.traced(s.connect, args.address, waits_for="the handshake")
        out.say(f"connected from {common.address_text(s.getsockname())}")
        # Correction: --deadline bounds the whole loop, or a server sending
        # a byte now and then would keep it for ever.
        end = time.monotonic() + args.deadline
        # Correction: bytes, decoded once at the end; the tutorial decodes
        # each piece, which breaks when one ends inside a character. A
        # bytearray grows in place (+= on bytes copies it all every time).
        complete_info = bytearray()
        size = args.buffer
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise common.LessonError(
                    f"gave up after {args.deadline:g} s in all (--deadline)")
            s.settimeout(min(args.wait, left))
            try:
                msg = out.traced(s.recv, size, waits_for="bytes")
            except TimeoutError:
                if args.wait > left:
                    continue  # the deadline cut it: the loop says so
                if not complete_info:
                    raise  # nothing came at all: said as in every lesson
                got = common.plural(len(complete_info), "byte")
                raise common.LessonError(
                    f"{got} came, then nothing for {args.wait:g} s (--wait), "
                    "and no close")
            if len(msg) <= 0:
                out.say(f"recv({size}) returned 0 bytes: the server closed; "
                        "the message ends here")
                break
            out.hex("received", msg)
            returned = common.plural(len(msg), "byte")
            out.say(f"recv({size}) returned {returned}: {msg!r}")
            if len(complete_info) + len(msg) > MAX_MESSAGE:
                raise common.LessonError(
                    f"the server sent more than the {MAX_MESSAGE} bytes this "
                    "client keeps; stopping")
            complete_info += msg
        text = complete_info.decode("utf-8", errors="replace")
        out.say(f"complete message: {common.escape(text)}")


if __name__ == "__main__":
    top, server_options, client_options = common.parser(
        "lesson_04", "close detection", port=4104, wait=10.0)
    common.slow_motion(server_options)
    client_options.add_argument(
        "--buffer", type=common.whole(1, 65535), default=7,
        metavar="BYTES", help="the most one recv may return")
    common.patience(client_options)
    common.main(top, server, client)
