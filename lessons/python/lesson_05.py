"""Lesson 5: pickled objects behind a 10-character length header.

The server pickles the tutorial's dict {1: "Client", 2: "Server"}, then a
list, a tuple and a set, and sends each behind a header that holds its
length. The client reads with a 10-byte buffer, so a recv may bring part of
a header, or the end of one message and the start of the next; it keeps
what came, takes out each header and each message once whole, and prints
each value's repr. Same command line as lessons/lesson_05.rs.
"""

import codecs
import os
import pickle
import socket
import time

import bounded_pickle
import common

HEADERSIZE = 10  # the tutorial's a = 10
MAX_LENGTH = 16 * 1024 * 1024  # the longest message the client takes
MESSAGES = [{1: "Client", 2: "Server"}, [1, 2, "abc"],
            ("Python", 3, 3.5, True), {1, 2, 3}]
# Pinned: pickle.dumps's default changes with Python's version (4 in 3.8 to
# 3.13, 5 in 3.14), and with it the bytes the server prints.
PROTOCOL = 4


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
            stream = b""
            for m in MESSAGES:
                mymsg = pickle.dumps(m, protocol=PROTOCOL)
                out.say(f"{m!r} pickles to {len(mymsg)} bytes:")
                for at in range(0, len(mymsg), 16):
                    out.say(f"  {mymsg[at:at + 16]!r}")
                # Correction: the tutorial's header line does not parse.
                stream += bytes(f"{len(mymsg):<{HEADERSIZE}}", "utf-8")
                stream += mymsg
            out.say(f"sending {len(MESSAGES)} messages, each behind a "
                    f"{HEADERSIZE}-byte header, then closing")
            try:
                common.send_all(clt, stream, args, out)
            except OSError as error:
                out.error(f"sending: {common.explain(error, args)}")
            clt.close()  # the end of the stream: there are no more
            if args.once:
                break


# The globals plain data's pickles name, and the only calls made of them,
# as pickle.dumps writes them: with a list, bytes, or text and "latin1".
# bytearray(10**12), say, would ask for a terabyte.
ALLOWED = {("builtins", "set"): set, ("builtins", "frozenset"): frozenset,
           ("builtins", "bytearray"): bytearray, ("builtins", "bytes"): bytes,
           ("_codecs", "encode"): codecs.encode}
CALLS = [(), (list,), (bytes,), (str, "latin1")]


class PlainData(bounded_pickle.BoundedUnpickler):
    """Never pickle.loads a peer's bytes: a pickle may name any function,
    os.system say, and have it called. This find_class, as the pickle
    documentation's "Restricting Globals" shows, gives only ALLOWED's."""

    def find_class(self, module, name):
        module = "builtins" if module == "__builtin__" else module  # 0 to 2
        if (module, name) not in ALLOWED:
            raise bounded_pickle.Refused(
                f"it names the global {module}.{name}")

        def call(*args):
            if tuple(map(type, args[:1])) + args[1:] not in CALLS:
                raise bounded_pickle.Refused(
                    f"it calls {name} with what plain data never gives")
            return ALLOWED[module, name](*args)
        return call


def parse_header(header):
    """int(header), but only of digits padded with spaces, and capped."""
    text = header.decode("ascii", errors="replace").strip(" ")
    if not (text.isascii() and text.isdigit()):
        raise common.LessonError(f"the header {header!r} is not a length")
    if int(text) > MAX_LENGTH:
        raise common.LessonError(f"the header announces {text} bytes, more "
                                 f"than the {MAX_LENGTH} this client takes")
    return int(text)


def client(args, out):
    with socket.socket(args.family, socket.SOCK_STREAM) as s:
        out.say(f"connecting to {common.address_text(args.address)}")
        s.settimeout(args.wait)
        out.traced(s.connect, args.address, waits_for="the handshake")
        out.say(f"connected from {common.address_text(s.getsockname())}")
        end = time.monotonic() + args.deadline  # --deadline: for it all
        # Correction: the tutorial takes the length from the first recv of
        # each message and waits for an exact total. This keeps what came,
        # and takes out a header, then a message, once each is whole.
        pending, length, count = bytearray(), None, 0
        while True:
            if time.monotonic() >= end:
                raise common.LessonError(
                    f"gave up after {args.deadline:g} s in all (--deadline)")
            s.settimeout(min(args.wait, end - time.monotonic()))
            mymsg = out.traced(s.recv, args.buffer, waits_for="bytes")
            out.hex("received", mymsg)
            if not mymsg:
                break
            pending += mymsg
            while True:
                if length is None and len(pending) >= HEADERSIZE:
                    header = bytes(pending[:HEADERSIZE])
                    del pending[:HEADERSIZE]  # cheap, at a bytearray's start
                    length = parse_header(header)
                    out.say(f"header {header!r}: the next message is "
                            f"{length} bytes")
                elif length is not None and len(pending) >= length:
                    body = bytes(pending[:length])
                    del pending[:length]
                    length, count = None, count + 1
                    try:
                        m = bounded_pickle.loads(PlainData, body)
                    except bounded_pickle.Refused as why:
                        raise common.LessonError(
                            "refused to unpickle the message: "
                            + common.escape(str(why)))
                    out.say(bounded_pickle.shown(m))
                else:
                    break
        # Correction: the tutorial's int(b'') fails when the server closes.
        if length is not None or pending:
            what = ("a message", length) if length is not None else (
                "a header", HEADERSIZE)
            raise common.LessonError(
                f"the connection closed after {len(pending)} of the "
                f"{what[1]} bytes of {what[0]}")
        if count == 0:
            raise common.LessonError(
                "the connection closed before the first message")
        out.say(f"recv({args.buffer}) returned 0 bytes: the server closed, "
                f"after {common.plural(count, 'message')}")


if __name__ == "__main__":
    top, server_options, client_options = common.parser(
        "lesson_05", "pickled object transfer", port=4105, wait=10.0)
    common.slow_motion(server_options)
    common.patience(client_options)
    client_options.add_argument(
        "--buffer", type=common.whole(1, 65535), default=HEADERSIZE,
        metavar="BYTES", help="the most one recv may return")
    common.main(top, server, client)
