"""Lesson 10: UDP, where a message keeps its edges, and may be lost.

A datagram socket is the opposite of a stream: each sendto is one datagram,
and each receive takes one datagram, whole or cut to the buffer, never two
glued together and never the rest of one later. There is no connection, and
no delivery promised.

The server answers each request (a datagram that starts with b'ask ') with
one datagram. The client receives the answer into a 7-byte buffer, and the
system says it was truncated. Then it sends datagrams to a socket of its
own: three in a row, one per receive, the last one empty; then 50 while that
socket does not read, and most of them are lost. Same command line as
lessons/lesson_10.rs.

recvmsg returns the flags that say a datagram was cut (MSG_TRUNC); recvfrom
does not. Python has no recvmsg on Windows.
"""

import socket
import time

import common

# Every request starts so, and no answer does: a server that answered
# anything would answer another server's answer, or its own, for ever.
ASK = b"ask "
REQUEST = b"ask for the message"
MESSAGE = "Socket Programming in Python".encode("utf-8")
# The most answers the server sends in one second. A forged source address
# makes a UDP server send its answer (longer than the request) to a victim:
# a bound caps what a flood of such requests gets out of it.
ANSWERS_PER_SECOND = 100
# The largest datagram the server reads whole; the system discards the rest.
SERVER_BUFFER = 1024
BURST = [b"one", b"two", b""]
# Sent while the client's own receiver does not read; its small buffer.
FLOOD, FLOOD_BYTES, SMALL_BUFFER = 50, 1000, 4096


def server(args, out):
    with socket.socket(args.family, socket.SOCK_DGRAM) as s:
        # bind, and no listen or accept: there are no connections to queue.
        # Datagrams for this port wait in the socket's receive buffer.
        s.bind(args.address)
        out.listening(s)
        own = s.getsockname()[:2]
        # When the current second began, and how many answers went out in it.
        second, answers = time.monotonic(), 0
        while True:
            data, truncated, adr = receive(s, SERVER_BUFFER, out)
            what = "the first bytes of a longer datagram" if truncated else (
                "a datagram")
            out.say(f"received {what}, {common.plural(len(data), 'byte')}, "
                    f"from {common.address_text(adr)}: {data!r}")
            if truncated:
                out.warn(f"it was longer than the {SERVER_BUFFER}-byte "
                         "buffer: the system discarded the rest")
            # Correction: anyone may send to a UDP port, from any address it
            # claims. What no client sends gets no answer, so that no
            # exchange can go on for ever.
            if adr[1] == own[1] and own[0] in ("0.0.0.0", "::", adr[0]):
                out.say("no answer: it claims to come from this very socket")
                continue
            if not data.startswith(ASK):
                out.say(f"no answer: a request starts with {ASK!r}")
                continue
            if time.monotonic() - second >= 1:
                second, answers = time.monotonic(), 0
            if answers == ANSWERS_PER_SECOND:
                out.say(f"no answer: {ANSWERS_PER_SECOND} answers in this "
                        "second already")
                continue
            answers += 1
            out.say("answering with one datagram of "
                    f"{common.plural(len(MESSAGE), 'byte')}")
            try:
                send_to(s, MESSAGE, adr, out)
            except OSError as error:
                # A forged or unreachable source: that datagram's loss only.
                out.error(f"sending to {common.address_text(adr)}: "
                          f"{common.explain(error, args)}")
            if args.once:
                break


def client(args, out):
    end = time.monotonic() + args.deadline

    def wait_at_most():
        left = end - time.monotonic()
        if left < 0.001:
            raise common.LessonError(
                f"gave up after {args.deadline:g} s in all (--deadline)")
        return min(args.wait, left)

    with socket.socket(args.family, socket.SOCK_DGRAM) as s:
        # No connect: the first sendto binds this socket to a port the
        # system picks. Nothing says whether a server is there.
        out.say(f"sending one datagram of "
                f"{common.plural(len(REQUEST), 'byte')} to "
                f"{common.address_text(args.address)}: {REQUEST!r}")
        send_to(s, REQUEST, args.address, out)
        size = args.buffer  # 7, lesson 2's buffer
        while True:
            s.settimeout(wait_at_most())
            try:
                data, truncated, adr = receive(s, size, out)
            except TimeoutError:
                raise common.LessonError(
                    f"no answer from {common.address_text(args.address)} "
                    f"within {args.wait:g} s (--wait): is the server "
                    "running? An unconnected UDP socket is never told that "
                    "nothing listens") from None
            # Anyone may send to this port: only the server's is the answer.
            if adr[:2] == args.address:
                break
            out.warn(f"ignoring {common.plural(len(data), 'byte')} from "
                     f"{common.address_text(adr)}: not the server")
        out.say(f"recvmsg({size}) returned "
                f"{common.plural(len(data), 'byte')} from "
                f"{common.address_text(adr)}: {data!r}")
        out.say(common.escape(data.decode("utf-8", errors="replace")))
        if truncated:
            # The rest is not waiting in the socket, as lesson 2's was.
            out.say("the system flagged it as truncated (MSG_TRUNC): it was "
                    f"longer than {size} bytes, and the rest is gone")
        wait = wait_at_most()
        s.settimeout(wait)
        try:
            data, _, adr = receive(s, size, out)
            out.say(f"a second recvmsg({size}) returned another datagram, "
                    f"of {common.plural(len(data), 'byte')}, from "
                    f"{common.address_text(adr)}: not the rest of the first")
        except TimeoutError:
            out.say(f"a second recvmsg({size}) got nothing within {wait:g} "
                    "s: the rest was never kept, unlike lesson 2's stream")
        to_itself(s, args, wait_at_most, out)


def to_itself(sender, args, wait_at_most, out):
    """Datagrams sent in a row arrive one per receive, each whole; sent
    faster than they are read, most are lost, and no one is told."""
    loopback = "::1" if args.family == socket.AF_INET6 else "127.0.0.1"
    with socket.socket(args.family, socket.SOCK_DGRAM) as receiver:
        receiver.bind((loopback, 0))
        to = receiver.getsockname()[:2]
        shown = ", ".join(repr(datagram) for datagram in BURST)
        out.say(f"sending {len(BURST)} datagrams in a row to a socket of "
                f"this client's, at {common.address_text(to)}: {shown}")
        for datagram in BURST:
            send_to(sender, datagram, to, out)
        # Room for all three: a stream could hand back b'onetwo' at once.
        for _ in BURST:
            receiver.settimeout(wait_at_most())
            data, _, _ = receive(receiver, 1024, out)
            out.say(f"recvmsg(1024) returned "
                    f"{common.plural(len(data), 'byte')}: {data!r}")
        out.say("the empty one is a datagram: 0 bytes here is not an end")

        # A small receive buffer (Linux doubles what it is asked for).
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
        held = receiver.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        out.say(f"sending {FLOOD} datagrams of {FLOOD_BYTES} bytes to it "
                "while it does not read; its receive buffer (SO_RCVBUF) is "
                f"{held} bytes")
        # Not traced: 50 lines alike. Each sendto succeeds: a datagram
        # handed to the system is not one delivered.
        for _ in range(FLOOD):
            sender.sendto(bytes(FLOOD_BYTES), to)
        arrived = 0
        while True:
            wait = wait_at_most()
            receiver.settimeout(wait)
            try:
                receive(receiver, 1024, out)
            except TimeoutError:
                break
            arrived += 1
        out.say(f"{arrived} of the {FLOOD} arrived, then nothing within "
                f"{wait:g} s")
        out.say(f"the system dropped {FLOOD - arrived} when the buffer was "
                "full, and told no one: UDP does not send again, and never "
                'says "closed"')


def receive(s, size, out):
    """recvmsg: one datagram off the socket's queue, at most `size` bytes
    of it; unlike recvfrom, it returns flags, and MSG_TRUNC among them says
    the datagram did not fit. Returns the bytes, that, and the sender."""
    out.trace(f"recvmsg({size}) waits for a datagram")
    try:
        data, _, flags, adr = s.recvmsg(size)
    except TimeoutError:
        out.trace(f"recvmsg({size}) -> nothing in time")
        raise
    truncated = bool(flags & socket.MSG_TRUNC)
    flag = ", flags MSG_TRUNC" if truncated else ""
    out.trace(f"recvmsg({size}) -> {common.plural(len(data), 'byte')} from "
              f"{common.address_text(adr)}{flag}")
    out.hex("received", data)
    return data, truncated, adr


def send_to(s, datagram, to, out):
    """sendto: one datagram, whole. It returns once the system has it."""
    call = (f"sendto({common.plural(len(datagram), 'byte')}, "
            f"{common.address_text(to)})")
    out.trace(f"{call} waits for room in this side's send buffer")
    sent = s.sendto(datagram, to)
    out.trace(f"{call} -> {common.plural(sent, 'byte')}")
    out.hex("sent", datagram[:sent])


if __name__ == "__main__":
    top, server_options, client_options = common.parser(
        "lesson_10", "UDP datagrams keep their edges, and may be lost",
        port=4110, wait=1.0)
    client_options.add_argument(
        "--buffer", type=common.whole(1, 65535), default=7, metavar="BYTES",
        help="the most the receive of the answer may return")
    common.patience(client_options)
    common.main(top, server, client)
