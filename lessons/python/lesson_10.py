"""Lesson 10: UDP, where a message keeps its edges and a small buffer loses the
rest.

Lessons 2 to 6 show that a stream has no message boundaries. A datagram socket
is the opposite: each sendto is one datagram, and each receive takes one
datagram, whole or cut to the buffer, never two glued together and never the
rest of one later. There is no connection: no listen, no accept, no close that
the other side sees.

The server answers every datagram with one datagram. The client receives the
answer into a 7-byte buffer (--buffer BYTES sets another): the system flags it
as truncated (MSG_TRUNC), and the rest is gone. Then it sends three datagrams
in a row to a socket of its own and receives them one by one, the last one
empty.

recvmsg returns the flags that say a datagram was cut; recvfrom does not.
Python has no recvmsg on Windows, where a datagram longer than the buffer is an
error (WSAEMSGSIZE) instead.
"""

import socket
import struct
import time

from common import (
    Lesson,
    LessonError,
    address_text,
    os_error_text,
    peer_text,
    seconds_text,
)

# What the server answers every datagram with.
MESSAGE = b"Socket Programming in Rust"
REQUEST = (
    b"hello"  # what the client sends the server: any datagram gets an answer
)
# The largest datagram the server reads whole; the rest of a longer one is
# discarded by the system, so a hostile peer cannot make it use more.
SERVER_BUFFER = 1024
BURST = [
    b"one",
    b"two",
    b"",
]  # the datagrams the client sends in a row, the last one empty
TIMEVAL = "@ll"  # struct timeval: seconds and microseconds


# ANCHOR: server
def server(config, out):
    if config.chunk is not None:
        out.warn(
            "--chunk and --pause cut a stream's sends into pieces; a datagram "
            "always leaves "
            "whole, in one send_to, so here they change nothing"
        )
    # socket(2): an IPv4 datagram (SOCK_DGRAM) socket, that is UDP.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        # bind(2), and no listen(2) or accept(2): there are no connections to
        # queue. Datagrams for this port wait in the socket's receive buffer.
        s.bind(config.address)
        out.listening(s)

        def serve_one():
            data, truncated, address = receive(s, SERVER_BUFFER, out)
            # A datagram cut to the buffer is not one of that size: say which.
            what = (
                "the first bytes of a longer datagram"
                if truncated
                else "a datagram"
            )
            out.say(
                f"received {what}, {len(data)} bytes, from "
                f"{address_text(address)}: "
                f"{data!r}"
            )
            if truncated:
                out.warn(
                    "that datagram was longer than this server's "
                    f"{SERVER_BUFFER} byte "
                    "buffer: the system discarded the rest"
                )
            if not data:
                out.say(
                    "an empty datagram is still a datagram, and gets an answer"
                )
            out.say(f"answering with one datagram of {len(MESSAGE)} bytes")
            send(s, MESSAGE, address, out)

        config.serve_clients(out, serve_one)
    finally:
        s.close()


# ANCHOR_END: server


# ANCHOR: client
def client(config, out):
    deadline = Deadline(config)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        # No connect(2): the first sendto binds this socket to a port the
        # system picks, and the datagram goes out. Nothing says whether a
        # server is there; only an answer would.
        out.say(
            f"sending one datagram of {len(REQUEST)} bytes to "
            f"{address_text(config.server)}: "
            f"{REQUEST!r}"
        )
        send(s, REQUEST, config.server, out)

        size = config.buffer  # 7, as in lesson 2; --buffer BYTES sets another
        wait = deadline.wait()
        try:
            data, truncated, address = receive(s, size, out, wait)
        except BlockingIOError:
            raise LessonError(
                f"no answer from {address_text(config.server)} within {wait}. "
                "Is "
                "this lesson's server running there? UDP cannot tell: a "
                "datagram to "
                "a port where nothing listens is dropped.",
                timeout=True,
            ) from None
        out.say(
            f"recvmsg({size}) returned {len(data)} bytes from "
            f"{address_text(address)}: "
            f"{data!r}"
        )
        out.say(peer_text(data))
        if truncated:
            # MSG_TRUNC, in the flags recvmsg(2) returns. The rest of the
            # datagram is not waiting in the socket, as lesson 2's was: the
            # system threw it away.
            out.say(
                "the system flagged the datagram as truncated (MSG_TRUNC): it "
                "was longer than "
                f"the {size}-byte buffer, and the rest is gone"
            )
        wait = deadline.wait()
        try:
            data, _, _ = receive(s, size, out, wait)
            out.say(
                f"a second recvmsg({size}) returned another datagram, of "
                f"{len(data)} bytes, "
                "not the rest of the first"
            )
        except BlockingIOError:
            out.say(
                f"a second recvmsg({size}) got nothing within {wait}: the "
                "rest of the "
                "datagram was never kept, unlike lesson 2's stream"
            )
        burst(s, deadline, out)
    finally:
        s.close()


# ANCHOR_END: client


# ANCHOR: burst
def burst(sender, deadline, out):
    """Datagrams sent in a row arrive one per receive, each whole, and none of
    them says "closed"."""
    # A second socket of this client's own, on a port the system picks, as the
    # receiver: the server answers one datagram with one, and this part needs a
    # receiver that does nothing but receive.
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        receiver.bind(("127.0.0.1", 0))
        address = receiver.getsockname()
        shown = ", ".join(repr(datagram) for datagram in BURST)
        out.say(
            f"sending {len(BURST)} datagrams in a row to a socket of this "
            "client's own, at "
            f"{address_text(address)}: {shown}"
        )
        for datagram in BURST:
            send(sender, datagram, address, out)
        # A buffer with room for all three: a stream would hand back b'onetwo'
        # in one receive if both had arrived.
        size = 1024
        for _ in BURST:
            data, _, _ = receive(receiver, size, out, deadline.wait())
            out.say(f"recvmsg({size}) returned {len(data)} bytes: {data!r}")
        out.say(
            "the empty datagram is a datagram like the others: 0 bytes here "
            "is not an end, as "
            "it is on a stream"
        )
        wait = deadline.wait()
        try:
            data, _, _ = receive(receiver, size, out, wait)
            out.say(
                f"recvmsg({size}) returned a datagram of {len(data)} bytes "
                "this client did "
                "not send: anyone may send to a UDP port"
            )
        except BlockingIOError:
            out.say(
                f"recvmsg({size}) got nothing more within {wait}, and "
                'nothing ever says "closed": UDP has no connection to close. '
                "A datagram lost on the way is not sent again either "
                "(loopback loses none, so this run cannot show it)"
            )
    finally:
        receiver.close()


# ANCHOR_END: burst


class Deadline:
    """The client's --deadline: every receive waits at most --wait, and never
    past it."""

    def __init__(self, config):
        self.at = time.monotonic() + config.deadline
        self.wait_each = config.wait
        self.limit = config.deadline

    def wait(self):
        """How long the next receive may wait: --wait, or less if the
        deadline comes first."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise LessonError(
                f"gave up after {seconds_text(self.limit)} s in all "
                "(--deadline)",
                timeout=True,
            )
        if left < self.wait_each:
            return Wait(left, self.limit)
        return Wait(self.wait_each, None)


class Wait:
    """How long one receive waits, and why: --wait, or what is left before the
    deadline. Messages name the figures the learner gave, not what the
    system rounded the timeout to.
    """

    def __init__(self, seconds, deadline):
        self.seconds, self.deadline = seconds, deadline

    def __str__(self):
        if self.deadline is None:
            return f"{seconds_text(self.seconds)} s (--wait)"
        return (
            f"what was left of its {seconds_text(self.deadline)} s in all "
            "(--deadline)"
        )


# ANCHOR: calls
def set_read_timeout(s, seconds):
    """setsockopt(SO_RCVTIMEO), as the Rust lesson does: a recvmsg that waits
    longer fails with EAGAIN (BlockingIOError). Python's
    s.settimeout(seconds) would do as well.
    """
    nanos = max(round(seconds * 1e9), 1000)  # 0 would mean: wait without end
    s.setsockopt(
        socket.SOL_SOCKET,
        socket.SO_RCVTIMEO,
        struct.pack(TIMEVAL, nanos // 10**9, nanos % 10**9 // 1000),
    )


def receive(s, size, out, wait=None):
    """recvmsg(2): takes one datagram off the socket's queue, at most `size`
    bytes of it. Unlike recvfrom(2), it also returns flags, and MSG_TRUNC
    among them says the datagram did not fit. Returns the bytes, whether
    the system cut them, and who sent them. With a `wait`, it waits at most
    that long (SO_RCVTIMEO)."""
    if wait is not None:
        set_read_timeout(s, wait.seconds)
    call = f"recvmsg({size})"
    out.trace(f"{call} waits for a datagram")
    try:
        data, _, flags, address = s.recvmsg(size)
    except BlockingIOError:
        out.trace(f"{call} -> nothing within {wait}")
        raise
    except OSError as error:
        out.trace(f"{call} -> error: {os_error_text(error)}")
        raise
    truncated = bool(flags & socket.MSG_TRUNC)
    out.trace(
        f"{call} -> {len(data)} bytes from {address_text(address)}"
        f"{', flags MSG_TRUNC' if truncated else ''}"
    )
    out.hex("received", data)
    return data, truncated, address


def send(s, datagram, to, out):
    """sendto(2): one datagram, whole, to `to`. It never waits for the other
    side: it returns once the datagram is handed to the system."""
    call = f"sendto({len(datagram)} bytes, {address_text(to)})"
    out.trace(f"{call} hands one datagram to the system")
    try:
        sent = s.sendto(datagram, to)
    except OSError as error:
        out.trace(f"{call} -> error: {os_error_text(error)}")
        raise
    out.trace(f"{call} -> {sent} bytes")
    out.hex("sent", datagram[:sent])


# ANCHOR_END: calls


# The client's second receive is meant to time out: a short default wait keeps
# the lesson quick. Loopback answers in microseconds.
LESSON = Lesson(
    "lesson_10",
    "UDP datagrams keep their edges",
    4110,
    server,
    client,
    wait=1.0,
    buffer=7,
)

if __name__ == "__main__":
    LESSON.main()
