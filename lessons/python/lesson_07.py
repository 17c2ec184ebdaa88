"""Lesson 7: a request and its answer, and the half-close.

The client sends --message, then shuts down its writing half (SHUT_WR): the
server's recv returns 0 while the connection stays open for the answer. The
server reads until that 0, answers with exactly the bytes it received, and
closes; the client reads until its own recv returns 0. --no-shutdown skips
the half-close, to show the deadlock it prevents: the server's timeout ends
the wait. Same command line as lessons/lesson_07.rs.
"""

import socket
import time

import common

MAX_LEN = 1024 * 1024  # the longest request, and the longest answer: 1 MiB
BUFFER = 64 * 1024  # the most one recv asks for
# How long the server waits for each recv and each send: a client that never
# finishes its request, or never reads the answer, cannot hold it.
SERVER_WAIT = 3
REQUEST_LIMIT = 30  # the most one client has to send its whole request
PREVIEW = 32  # bytes of a request or an answer printed: not 1 MiB of them


def server(args, out):
    # Correction: the tutorial's socket, setsockopt, bind and listen are one
    # call here, as std::net's TcpListener::bind is in the Rust lesson.
    with socket.create_server(args.address, family=args.family) as s:
        out.listening(s)
        while True:
            clt, adr = out.traced(s.accept, waits_for="a client")
            out.say(f"Connection to {common.address_text(adr)} established")
            with clt:  # closed at the end: the client's recv returns 0
                try:
                    answer(clt, args, out)
                except OSError as error:
                    # A client that misbehaves must not stop the server.
                    out.error(f"{common.address_text(adr)}: "
                              f"{common.explain(error, args)}")
            if args.once:
                break


def answer(clt, args, out):
    """Reads the client's request to its end, and sends it back."""
    end = time.monotonic() + REQUEST_LIMIT
    # Each recv waits SERVER_WAIT at most, and all of them REQUEST_LIMIT: a
    # client sending a byte now and then cannot keep the server.
    def wait():
        left = end - time.monotonic()
        if left <= 0:
            raise common.LessonError(f"no FIN in {REQUEST_LIMIT} s in all")
        return min(left, SERVER_WAIT)

    request = bytearray()
    try:
        recv_until_closed(clt, request, "client", wait, out)
    except (TimeoutError, common.LessonError) as error:
        timed_out = isinstance(error, TimeoutError)
        why = f"nothing for {SERVER_WAIT} s" if timed_out else error
        out.say(f"{common.plural(len(request), 'byte')} came, then {why}: "
                "closing, no answer")
        return
    if len(request) > MAX_LEN:
        out.say(f"the request is longer than {MAX_LEN} bytes: closing, "
                "no answer")
        return
    size = common.plural(len(request), "byte")
    out.say(f"recv returned 0: the request is over, {size}")
    out.say(f"the request: {preview(request)}")
    clt.settimeout(SERVER_WAIT)  # for each send, too
    common.send_all(clt, request, args, out)
    out.say(f"answered {size}, closing")


def client(args, out):
    end = time.monotonic() + args.deadline

    cut_short = False  # whether the last wait was what --deadline left

    def wait():  # --wait, or what is left of --deadline if that is less
        nonlocal cut_short
        left = end - time.monotonic()
        if left <= 0:
            raise common.LessonError(deadline_over)
        cut_short = left < args.wait
        return min(left, args.wait)

    deadline_over = f"gave up after {args.deadline:g} s in all (--deadline)"
    try:
        talk(args, wait, out)
    except TimeoutError:
        if cut_short:  # the wait that ran out was --deadline's
            raise common.LessonError(deadline_over) from None
        raise


def talk(args, wait, out):
    out.say(f"connecting to {common.address_text(args.address)}")
    # Correction: socket and connect in one call, given up after the wait;
    # the timeout stays for each send and recv.
    with out.traced(socket.create_connection, args.address, wait(),
                    waits_for="the handshake") as s:
        out.say(f"connected from {common.address_text(s.getsockname())}")
        message = args.message.encode("utf-8")
        size = common.plural(len(message), "byte")
        out.say(f"sending {size}: {preview(message)}")
        out.trace(f"sendall({size}) waits for room in the send buffer")
        s.sendall(message)
        out.trace(f"sendall({size}) -> done")
        out.hex("sent", message)
        if args.no_shutdown:
            out.say("not shutting down the writing half (--no-shutdown)")
        else:
            # This side sends no more (a FIN), and the server's recv
            # returns 0. Reading stays open, for the answer.
            out.traced(s.shutdown, socket.SHUT_WR, waits_for="nothing")
            out.say("shutdown(SHUT_WR): this side will send no more")

        answer = bytearray()
        recv_until_closed(s, answer, "server", wait, out)
        if len(answer) > MAX_LEN:
            raise common.LessonError(
                f"the answer is longer than {MAX_LEN} bytes: not reading more")
        out.say("recv returned 0: the answer is over, "
                f"{common.plural(len(answer), 'byte')}")
        if not answer:
            out.say("the server closed without answering")
        elif answer == message:
            out.say(f"the same bytes as sent: {preview(answer)}")
        else:
            out.say(f"not the bytes sent: {preview(answer)}")


def recv_until_closed(sock, data, peer, wait, out):
    """recv into data until it returns b'', the peer's half-close (its FIN),
    or until MAX_LEN + 1 bytes came: one more says it is too long. Each recv
    waits as long as wait() says."""
    while len(data) <= MAX_LEN:
        sock.settimeout(wait())
        size = min(BUFFER, MAX_LEN + 1 - len(data))
        piece = out.traced(sock.recv, size,
                           waits_for=f"bytes, or the {peer}'s FIN")
        if not piece:
            break
        out.hex("received", piece)
        data += piece


def preview(data):
    """The first PREVIEW bytes of a peer's bytes, as escaped text, and how
    many more there are."""
    shown = common.escape(bytes(data[:PREVIEW]).decode("utf-8", "replace"))
    more = len(data) - PREVIEW
    return f"{shown}... ({more} more)" if more > 0 else shown


if __name__ == "__main__":
    top, server_options, client_options = common.parser(
        "lesson_07", "a request, its answer, and the half-close (std::net)",
        port=4107, wait=10.0)
    common.slow_motion(server_options)
    client_options.add_argument("--message", default="Hello, server!",
                                type=common.utf8, metavar="TEXT",
                                help="what to send")
    client_options.add_argument(
        "--no-shutdown", action="store_true",
        help="do not shut down the writing half after sending")
    common.patience(client_options)
    common.main(top, server, client)
