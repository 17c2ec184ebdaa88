"""Lesson 3: recv(7) in a loop. The server never closes, so the client never
learns the end.

The tutorial's client loops forever; this one stops when recv has waited --wait
seconds (2 by default) and says why it had to. The server holds each connection
until the client hangs up, for at most --hold seconds, so that one client
cannot keep the others waiting for ever.
"""

import socket

from common import (
    Lesson,
    Option,
    address_text,
    is_past_deadline,
    is_timeout,
    listener,
    seconds_text,
)

MESSAGE = "Socket Programming in Python".encode("utf-8")

HOLD = Option(
    "--hold",
    ("count", 3600),
    "SECONDS",
    "30",
    "server",
    "how long to wait for a client to hang up",
)


def server(config, out):
    s = listener(config, out)
    hold = config.extra[HOLD.flag]

    def serve_one():
        clt, adr = s.accept()
        try:
            out.say(f"Connection to {address_text(adr)} established")
            out.say(
                f"sending {len(MESSAGE)} bytes, then keeping the connection "
                "open until the client "
                "hangs up"
            )
            clt.sendall(MESSAGE)
            # Held open by reading until the client hangs up (recv returns 0
            # bytes); whatever comes is dropped. Other clients wait in the
            # backlog meanwhile, so the hold is bounded: in all, however slowly
            # the client sends.
            clt.set_deadline(hold)
            try:
                while clt.recv(8192):
                    pass
                out.say("the client hung up, so this side closes too")
            except Exception as error:
                if not is_past_deadline(error):
                    raise
                out.say(
                    f"the client has not hung up after {hold} s: closing its "
                    "connection, to serve "
                    "the next client"
                )
        finally:
            clt.close()

    config.serve_clients(out, serve_one)
    s.close()


def client(config, out):
    s = config.wire(socket.socket(socket.AF_INET, socket.SOCK_STREAM), out)
    try:
        out.say(f"connecting to {address_text(config.server)}")
        s.connect(config.server, config.wait)
        # Here the read timeout is the lesson: how long recv may wait for more.
        s.set_read_timeout(config.wait)
        total = 0
        size = (
            config.buffer
        )  # 7, the tutorial's recv(7); --buffer BYTES sets another
        while True:
            try:
                msg = s.recv(size)
            except Exception as error:
                if not is_timeout(error):
                    raise
                # The wait ran out with no byte and no close: the client cannot
                # tell "the message is over" from "the rest is on its way".
                waited = seconds_text(config.wait)
                if total > 0:
                    out.say(
                        f"recv({size}) is still waiting after {waited} s: "
                        "nothing in the stream says the "
                        "message is over"
                    )
                else:
                    out.say(
                        f"nothing arrived within {waited} s. The server "
                        "serves one client at a time: "
                        "while another is connected, this connection waits in "
                        "its backlog"
                    )
                out.say("giving up, and closing the connection")
                return
            if not msg:
                out.say(
                    f"recv({size}) returned 0 bytes: the server will send no "
                    "more"
                )
                return
            total += len(msg)
            out.say(f"recv({size}) returned {len(msg)} bytes: {msg!r}")
    finally:
        s.close()


LESSON = Lesson(
    "lesson_03",
    "loop receive",
    4103,
    server,
    client,
    wait=2.0,
    options=[HOLD],
    buffer=7,
)

if __name__ == "__main__":
    LESSON.main()
