"""Lesson 1: basic send. The tutorial's first server and client, with their
ports agreeing.

The server accepts a connection, says so, and sends one line of text. The
client connects, asks for up to 1024 bytes with a single recv, and prints what
came. Same command line and same lines as lessons/lesson_01.rs.
"""

import socket

from common import Lesson, address_text, listener, peer_text

MESSAGE = "Socket Programming in Python".encode("utf-8")


def server(config, out):
    # socket(2), bind(2), listen(2): see common.listener. The Wire adds what
    # --trace, --hex and --chunk ask for.
    s = listener(config, out)

    def serve_one():
        # accept(2): the next connection, with a new socket for that one
        # client.
        clt, adr = s.accept()
        out.say(f"Connection to {address_text(adr)} established")
        out.say(f"sending {len(MESSAGE)} bytes")
        try:
            clt.sendall(MESSAGE)
        finally:
            clt.close()

    config.serve_clients(out, serve_one)
    s.close()


def client(config, out):
    s = config.wire(socket.socket(socket.AF_INET, socket.SOCK_STREAM), out)
    try:
        out.say(f"connecting to {address_text(config.server)}")
        # connect(2), given up after --wait seconds; every recv waits at most
        # as long.
        s.connect(config.server, config.wait)
        s.set_read_timeout(config.wait)
        size = (
            config.buffer
        )  # 1024, the tutorial's recv(1024); --buffer BYTES sets another
        msg = s.recv(size)
        out.say(f"recv({size}) returned {len(msg)} bytes")
        # Control characters are shown escaped: printed raw, a peer's bytes
        # could clear the screen or fake a line of this program's.
        out.say(peer_text(msg))
    finally:
        s.close()


LESSON = Lesson("lesson_01", "basic send", 4101, server, client, buffer=1024)

if __name__ == "__main__":
    LESSON.main()
