"""Lesson 3: recv(7) in a loop; the server never closes, so the client never
learns where the message ends.

The tutorial's client loops for ever; this one gives up when recv has
waited --wait seconds (2 by default) and says why. The server holds each
connection until the client hangs up, for at most --hold seconds, so that
one client cannot keep the others waiting for ever. Same command line as
lessons/lesson_03.rs.
"""

import os
import socket
import time

import common

MESSAGE = "Socket Programming in Python".encode("utf-8")


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
            out.say(f"sending {count}, then holding the connection")
            try:
                common.send_all(clt, MESSAGE, args, out)
                if hold_open(clt, args.hold):
                    out.say("the client hung up, so this side closes too")
                else:
                    out.say(f"the client is still there after {args.hold} s "
                            "(--hold): closing")
            except OSError as error:
                # A client that reset or left early must not stop the server.
                why = common.explain(error, args)
                out.error(f"serving {common.address_text(adr)}: {why}")
            clt.close()
            if args.once:
                break


def hold_open(clt, hold):
    """Keeps clt open until it hangs up (True) or hold seconds have passed
    in all (False), however slowly it sends. The tutorial's server keeps
    clt open without trying, until the loop reuses the name."""
    end = time.monotonic() + hold
    while (left := end - time.monotonic()) > 0:
        clt.settimeout(left)
        try:
            if not clt.recv(512):  # whatever comes is dropped
                return True
        except TimeoutError:
            return False
    return False


def client(args, out):
    with socket.socket(args.family, socket.SOCK_STREAM) as s:
        out.say(f"connecting to {common.address_text(args.address)}")
        s.settimeout(args.wait)
        out.traced(s.connect, args.address, waits_for="the handshake")
        out.say(f"connected from {common.address_text(s.getsockname())}")
        # Correction: --deadline bounds the whole loop, or a server sending
        # a byte now and then would keep it for ever.
        end = time.monotonic() + args.deadline
        size, total = args.buffer, 0
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise common.LessonError(
                    f"gave up after {args.deadline:g} s in all (--deadline)")
            # Here the timeout is the lesson: how long recv may wait.
            s.settimeout(min(args.wait, left))
            try:
                msg = out.traced(s.recv, size, waits_for="bytes")
            except TimeoutError:
                if args.wait > left:
                    continue  # the deadline cut it: the loop says so
                # No byte and no close: "the message is over" and "the rest
                # is on its way" look the same from here.
                if total:
                    out.say(f"recv({size}) is still waiting after "
                            f"{args.wait:g} s: nothing says the message is "
                            "over")
                else:
                    out.say(f"nothing arrived in {args.wait:g} s: is the "
                            "server busy with another client?")
                out.say("giving up, and closing the connection")
                return
            if not msg:
                # Correction: the tutorial's loop would print b'' for ever.
                out.say(f"recv({size}) returned 0 bytes: the server closed")
                return
            total += len(msg)
            out.hex("received", msg)
            returned = common.plural(len(msg), "byte")
            out.say(f"recv({size}) returned {returned}: {msg!r}")


if __name__ == "__main__":
    top, server_options, client_options = common.parser(
        "lesson_03", "loop receive", port=4103, wait=2.0)
    server_options.add_argument(
        "--hold", type=common.whole(1, 3600), default=30, metavar="SECONDS",
        help="how long a client may stay connected")
    common.slow_motion(server_options)
    client_options.add_argument(
        "--buffer", type=common.whole(1, 65535), default=7,
        metavar="BYTES", help="the most one recv may return")
    common.patience(client_options)
    common.main(top, server, client)
