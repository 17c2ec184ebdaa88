"""Lesson 4: the server closes; the client reads until recv returns 0 bytes."""

import socket

from common import Lesson, LessonError, address_text, listener, peer_text

MESSAGE = "Socket Programming in Python".encode("utf-8")

# The most the client keeps: a server could send without end.
MAX_MESSAGE = 1024 * 1024


def server(config, out):
    s = listener(config, out)

    def serve_one():
        clt, adr = s.accept()
        try:
            out.say(f"Connection to {address_text(adr)} established")
            out.say(
                f"sending {len(MESSAGE)} bytes, then closing the connection"
            )
            clt.sendall(MESSAGE)
        finally:
            # close(2): the client's recv returns 0 once it has read the rest.
            clt.close()

    config.serve_clients(out, serve_one)
    s.close()


def client(config, out):
    s = config.wire(socket.socket(socket.AF_INET, socket.SOCK_STREAM), out)
    try:
        out.say(f"connecting to {address_text(config.server)}")
        s.connect(config.server, config.wait)
        s.set_read_timeout(config.wait)
        # A bytearray grows in place: `complete_info += msg` on bytes copies
        # everything received so far at every recv, which takes quadratic time
        # (1 MiB in 7-byte pieces took 19 s).
        complete_info = bytearray()
        size = (
            config.buffer
        )  # 7, the tutorial's recv(7); --buffer BYTES sets another
        while True:
            msg = s.recv(size)
            if len(msg) <= 0:
                out.say(
                    f"recv({size}) returned 0 bytes: the server will send no "
                    "more, so the message ends here"
                )
                break
            out.say(f"recv({size}) returned {len(msg)} bytes: {msg!r}")
            if len(complete_info) + len(msg) > MAX_MESSAGE:
                raise LessonError(
                    f"the server sent more than the {MAX_MESSAGE} bytes this "
                    "client keeps; "
                    "stopping"
                )
            complete_info += msg
        # Decoded once, at the end: a piece may end in the middle of a
        # multi-byte character.
        out.say(f"complete message: {peer_text(complete_info)}")
    finally:
        s.close()


LESSON = Lesson("lesson_04", "close detection", 4104, server, client, buffer=7)

if __name__ == "__main__":
    LESSON.main()
