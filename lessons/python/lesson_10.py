"""Lesson 10: UDP, where a message keeps its edges and a small buffer loses the rest.

The server answers every datagram with one datagram. The client receives the answer into a
7-byte buffer: the system flags it as truncated (MSG_TRUNC), and the rest is gone. Then it sends
three datagrams in a row to a socket of its own and receives them one by one, the last one empty.

recvmsg returns the flags that say a datagram was cut; recvfrom does not. Python has no recvmsg
on Windows, where a datagram longer than the buffer is an error (WSAEMSGSIZE) instead.
"""

import socket
import sys

from common import main, serve_clients

MESSAGE = b"Socket Programming in Rust"
REQUEST = b"hello"
SERVER_BUFFER = 1024
BURST = [b"one", b"two", b""]


def warn(out, text):
    print(f"[{out.role}] warning: {text}", file=sys.stderr, flush=True)


def receive(s, size):
    """recvmsg: one datagram, at most size bytes of it, and whether the system cut it."""
    data, _, flags, address = s.recvmsg(size)
    return data, bool(flags & socket.MSG_TRUNC), address


def server(args, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((args.host, args.port))
    out.listening(s)
    if not args.once:
        out.say("waiting for clients; Ctrl-C stops the server")

    def serve_one():
        data, truncated, address = receive(s, SERVER_BUFFER)
        out.say(f"received a datagram of {len(data)} bytes from {address[0]}:{address[1]}: {data!r}")
        if truncated:
            warn(out, f"that datagram was longer than this server's {SERVER_BUFFER} byte buffer: "
                      "the system discarded the rest")
        if not data:
            out.say("an empty datagram is still a datagram, and gets an answer")
        out.say(f"answering with one datagram of {len(MESSAGE)} bytes")
        s.sendto(MESSAGE, address)
        if not args.once:
            out.say("waiting for the next client; Ctrl-C stops the server")

    serve_clients(args, out, serve_one)
    s.close()


def client(args, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(args.wait)
    out.say(f"sending one datagram of {len(REQUEST)} bytes to {args.host}:{args.port}: {REQUEST!r}")
    s.sendto(REQUEST, (args.host, args.port))
    try:
        data, truncated, address = receive(s, 7)
    except socket.timeout:
        raise ValueError(f"no answer from {args.host}:{args.port} within {args.wait:g} s (--wait). Is this "
                         "lesson's server running there? UDP cannot tell: a datagram to a port where "
                         "nothing listens is dropped.") from None
    out.say(f"recvmsg(7) returned {len(data)} bytes from {address[0]}:{address[1]}: {data!r}")
    out.say(data.decode("utf-8", errors="replace"))
    if truncated:
        out.say("the system flagged the datagram as truncated (MSG_TRUNC): it was longer than the "
                "7-byte buffer, and the rest is gone")
    try:
        data, _, _ = receive(s, 7)
        out.say(f"a second recvmsg(7) returned another datagram, of {len(data)} bytes, not the rest of the first")
    except socket.timeout:
        out.say(f"a second recvmsg(7) got nothing within {args.wait:g} s: the rest of the datagram was "
                "never kept, unlike lesson 2's stream")

    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(args.wait)
    host, port = receiver.getsockname()
    shown = ", ".join(repr(datagram) for datagram in BURST)
    out.say(f"sending {len(BURST)} datagrams in a row to a socket of this client's own, at {host}:{port}: {shown}")
    for datagram in BURST:
        s.sendto(datagram, (host, port))
    for _ in BURST:
        data, _, _ = receive(receiver, 1024)
        out.say(f"recvmsg(1024) returned {len(data)} bytes: {data!r}")
    out.say("the empty datagram is a datagram like the others: 0 bytes here is not an end, as it is on a stream")
    try:
        data, _, _ = receive(receiver, 1024)
        out.say(f"recvmsg(1024) returned a datagram of {len(data)} bytes this client did not send: "
                "anyone may send to a UDP port")
    except socket.timeout:
        out.say(f"recvmsg(1024) got nothing more within {args.wait:g} s, and nothing ever says \"closed\": "
                "UDP has no connection to close. A datagram lost on the way is not sent again either "
                "(loopback loses none, so this run cannot show it)")
    receiver.close()
    s.close()


if __name__ == "__main__":
    main("lesson_10: UDP datagrams keep their edges", 4110, server, client, default_wait=1.0)
