"""Lesson 2: the buffer is 7 bytes, so one recv gets 7 bytes. The server is
lesson 1's."""

import socket

from common import Lesson, address_text, peer_text
from lesson_01 import server


def client(config, out):
    s = config.wire(socket.socket(socket.AF_INET, socket.SOCK_STREAM), out)
    try:
        out.say(f"connecting to {address_text(config.server)}")
        s.connect(config.server, config.wait)
        s.set_read_timeout(config.wait)
        # recv(2) never returns more than the buffer holds, however many bytes
        # have arrived.
        size = (
            config.buffer
        )  # 7, the tutorial's recv(7); --buffer BYTES sets another
        msg = s.recv(size)
        out.say(f"recv({size}) returned {len(msg)} bytes: {msg!r}")
        out.say(peer_text(msg))
        if len(msg) == 0:
            out.say("the server will send no more, and sent nothing")
        elif len(msg) == 7:
            out.say(
                "the buffer is full, so anything else the server sent is "
                "still unread; closing anyway"
            )
        else:
            out.say(
                "the buffer is not full: that was all that had arrived when "
                "recv returned; closing "
                "anyway"
            )
    finally:
        # Closing with bytes unread: the system discards them, and answers with
        # a reset (RST).
        s.close()


LESSON = Lesson(
    "lesson_02", "tiny buffer truncation", 4102, server, client, buffer=7
)

if __name__ == "__main__":
    LESSON.main()
