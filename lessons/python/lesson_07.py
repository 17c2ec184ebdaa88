"""Lesson 7: a request and its answer, and the half-close.

The client sends --message, then shuts down its writing half (SHUT_WR): the
server's recv returns 0 while the connection stays open for the answer. The
server reads until that 0, answers with exactly the bytes it received, and
closes; the client reads until its own recv returns 0. --no-shutdown skips the
half-close, to show the deadlock it prevents: the server's read timeout ends
the wait.

The Rust lesson uses std::net's TcpListener and TcpStream here instead of
socket2; in Python the socket module is both. Each connected socket is handed
to the lesson's Wire, so that --trace, --hex and --chunk still show every recv
and send.
"""

import socket

from common import (
    Lesson,
    LessonError,
    Option,
    address_text,
    is_timeout,
    peer_text,
    seconds_text,
)

# The longest request the server takes, and the longest answer the client
# reads: 1 MiB.
MAX_LEN = 1024 * 1024

# How long the server waits for each recv and each send: a client that never
# finishes its request, or never reads the answer, cannot hold it.
SERVER_WAIT = 3.0
REQUEST_LIMIT = (
    30.0  # the most the server gives one client to send its whole request
)

PROBE = 32  # Rust's read_to_end starts with a recv of 32 bytes
READ_SIZE = 8192


def recv_until_closed(wire, data):
    """recv until it returns 0, into `data`, but never more than MAX_LEN + 1
    bytes: one more says it is too long. The recv sizes are those of Rust's
    `take(MAX_LEN + 1).read_to_end`, so that --trace prints the same calls:
    a probe of 32 bytes, then a buffer that doubles.
    """
    limit = MAX_LEN + 1
    capacity = 0
    max_read = READ_SIZE

    def recv(size):
        size = min(size, limit - len(data))
        if size == 0:
            return 0  # at the limit: Rust's Take returns 0 without a recv
        piece = wire.recv(size)
        data.extend(piece)
        return len(piece)

    if recv(PROBE) == 0:
        return
    capacity = max(8, len(data))
    while True:
        if len(data) == capacity:
            capacity = max(capacity * 2, len(data) + PROBE, 8)
        size = min(capacity - len(data), max_read)
        received = recv(size)
        if received == 0:
            return
        capacity = max(capacity, len(data))
        if received == size and size >= max_read:
            max_read *= 2


def server(config, out):
    # socket(2), SO_REUSEADDR, bind(2) and listen(2) with a backlog of 128, as
    # Rust's TcpListener::bind does.
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(config.address)
        s.listen(128)
        out.listening(s)

        def serve_one():
            clt, adr = s.accept()
            out.say(f"Connection to {address_text(adr)} established")
            clt.settimeout(SERVER_WAIT)  # bounds each recv and each send
            if config.chunk is not None:
                # Pieces of --chunk leave in segments of their own.
                clt.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client = config.wire(clt, out)
            client.set_read_timeout(SERVER_WAIT)
            # Each recv waits SERVER_WAIT at most, and the whole request
            # REQUEST_LIMIT: a client sending a byte now and then cannot keep
            # the server for itself.
            client.set_deadline(REQUEST_LIMIT)
            try:
                request = bytearray()
                try:
                    recv_until_closed(client, request)
                except (OSError, LessonError) as error:
                    if not is_timeout(error):
                        raise
                    out.say(
                        f"{len(request)} bytes came, then no end of the "
                        "request within "
                        f"{seconds_text(SERVER_WAIT)} s "
                        "(this server's read timeout): the client has not "
                        "shut down its "
                        "writing half. Closing without an answer."
                    )
                    return
                if len(request) > MAX_LEN:
                    out.say(
                        f"the request is longer than {MAX_LEN} bytes: "
                        "refused, closing without "
                        "an answer"
                    )
                    return
                out.say(
                    f"recv returned 0: the request is over, {len(request)} "
                    "bytes: "
                    f"{peer_text(request)}"
                )
                # send(2) the same bytes back, each send bounded by
                # SERVER_WAIT.
                client.sendall(request)
                out.say(f"answered {len(request)} bytes, closing")
            finally:
                # close(2): the client's recv returns 0.
                client.close()

        config.serve_clients(out, serve_one)
    finally:
        s.close()


def client(config, out):
    out.say(f"connecting to {address_text(config.server)}")
    # socket(2) and connect(2), given up after --wait.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.settimeout(config.wait)
        sock.connect(config.server)
        local = sock.getsockname()
        out.say(
            f"connected from {address_text(local)}: the port the system gave "
            "this side"
        )
        server = config.wire(sock, out)
        server.set_read_timeout(config.wait)

        message = config.extra["--message"].encode("utf-8")
        out.say(f"sending {len(message)} bytes: {peer_text(message)}")
        server.sendall(message)
        if config.extra.get("--no-shutdown"):
            out.say(
                "not shutting down the writing half (--no-shutdown): the "
                "server cannot tell "
                "that the request is over"
            )
        else:
            # shutdown(2) with SHUT_WR: this side sends no more, and the
            # server's recv returns 0. Reading stays open, for the answer.
            sock.shutdown(socket.SHUT_WR)
            out.say("shutdown(SHUT_WR): this side will send no more")

        # recv(2) until it returns 0: the server's close ends the answer.
        answer = bytearray()
        recv_until_closed(server, answer)
        if len(answer) > MAX_LEN:
            raise LessonError(
                f"the answer is longer than {MAX_LEN} bytes: not reading more"
            )
        if not answer:
            verdict = "the server closed without answering"
        elif answer == message:
            verdict = "the same bytes as sent"
        else:
            verdict = "not the bytes sent"
        shown = f": {peer_text(answer)}" if answer else ""
        out.say(
            f"recv returned 0: the answer is over, {len(answer)} bytes, "
            f"{verdict}{shown}"
        )
    finally:
        sock.close()


LESSON = Lesson(
    "lesson_07",
    "a request, its answer, and the half-close (std::net)",
    4107,
    server,
    client,
    options=[
        Option(
            "--message",
            "text",
            "TEXT",
            "Hello, server!",
            "client",
            "what to send",
        ),
        Option(
            "--no-shutdown",
            "switch",
            "",
            "",
            "client",
            "do not shut down the writing half after sending",
        ),
    ],
)

if __name__ == "__main__":
    LESSON.main()
