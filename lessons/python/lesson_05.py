"""Lesson 5: pickled objects behind a 10-character length header.

Corrected from the tutorial: the header line is f"{len(msg):<10}" (the
tutorial's does not parse); the client keeps what each recv returns and takes
out a header once it has all 10 bytes and a message once it has all of it,
instead of assuming recv returns them whole; and a close between messages ends
the client cleanly.

Never unpickle data from a peer you do not trust with pickle.loads: it can run
any code the data names. This client uses plain_pickle.loads, which reads plain
data only (see plain_pickle.py).
"""

import pickle
import socket

import plain_pickle
from common import (
    Lesson,
    LessonError,
    address_text,
    bytes_repr_lines,
    listener,
)

HEADERSIZE = 10
# How wide a piece of a pickle the server prints on one line: with its label, a
# line fits 80 columns.
PICKLE_LINE = 69
MAX_LENGTH = 16 * 1024 * 1024
MESSAGES = [
    {1: "Client", 2: "Server"},
    [1, 2, "abc"],
    ("Python", 3, 3.5, True),
    {1, 2, 3},
]

# The pickle protocol the server writes. Pinned: pickle.dumps's default changes
# with the Python version (4 on 3.8 to 3.13, 5 on 3.14), and with it the bytes
# the server prints, which the book's transcript shows. Protocol 4 is read by
# every Python from 3.4 on.
PROTOCOL = 4


def server(config, out):
    s = listener(config, out)

    def serve_one():
        clt, adr = s.accept()
        try:
            out.say(f"Connection to {address_text(adr)} established")
            pickles = []
            for m in MESSAGES:
                mymsg = pickle.dumps(m, protocol=PROTOCOL)
                out.say(f"{m!r} pickles to {len(mymsg)} bytes:")
                for line in bytes_repr_lines(mymsg, PICKLE_LINE):
                    out.say(f"  {line}")
                pickles.append(mymsg)
            out.say(
                f"sending {len(pickles)} messages, each behind a "
                f"{HEADERSIZE}-byte length header, "
                "then closing"
            )
            for mymsg in pickles:
                # Header and pickle go out in one send.
                clt.sendall(
                    bytes(f"{len(mymsg):<{HEADERSIZE}}", "utf-8") + mymsg
                )
        finally:
            # close(2): the end of the stream tells the client there are no
            # more messages.
            clt.close()

    config.serve_clients(out, serve_one)
    s.close()


def parse_header(header):
    """int(header), but stricter: ASCII digits, with spaces around them."""
    text = bytes(header).decode("ascii", errors="replace").strip(" ")
    if not text or not text.isascii() or not text.isdigit():
        raise LessonError(
            f"the header {bytes(header)!r} is not a length: it must be "
            "digits, padded with "
            f"spaces to {HEADERSIZE} characters"
        )
    length = int(text)
    if length > MAX_LENGTH:
        raise LessonError(
            f"the header announces a message of {length} bytes, more than the "
            f"{MAX_LENGTH} "
            "this reader accepts"
        )
    return length


def client(config, out):
    s = config.wire(socket.socket(socket.AF_INET, socket.SOCK_STREAM), out)
    try:
        out.say(f"connecting to {address_text(config.server)}")
        s.connect(config.server, config.wait)
        s.set_read_timeout(config.wait)
        # What has come and is not yet handed out: a bytearray and an offset
        # into it, so that taking a header or a message off the front does not
        # copy the rest each time.
        pending = bytearray()
        start = 0
        # The length of the message being received, once its header is in.
        length = None
        count = 0
        while True:
            chunk = s.recv(config.buffer)
            if not chunk:
                break
            pending += chunk
            while True:
                if length is None and len(pending) - start >= HEADERSIZE:
                    header = pending[start : start + HEADERSIZE]
                    start += HEADERSIZE
                    length = parse_header(header)
                    out.say(
                        f"header {bytes(header)!r}: the next message is "
                        f"{length} bytes"
                    )
                elif length is not None and len(pending) - start >= length:
                    body = bytes(pending[start : start + length])
                    start += length
                    length = None
                    count += 1
                    try:
                        out.say(
                            plain_pickle.plain_repr(plain_pickle.loads(body))
                        )
                    except plain_pickle.Refused as refusal:
                        raise LessonError(str(refusal)) from None
                else:
                    break
            if start > 0 and start * 2 >= len(pending):
                del pending[
                    :start
                ]  # each byte is moved at most once more: linear in all
                start = 0
        left = len(pending) - start
        if length is not None:
            raise LessonError(
                f"the connection closed after {left} of the {length} bytes of "
                "a message"
            )
        if left:
            raise LessonError(
                f"the connection closed after {left} of the {HEADERSIZE} "
                "bytes of a header"
            )
        if count == 0:
            raise LessonError("the connection closed before the first message")
        out.say(
            f"recv({config.buffer}) returned 0 bytes: the server will send no "
            f"more, after {count} messages"
        )
    finally:
        s.close()


LESSON = Lesson(
    "lesson_05",
    "pickled object transfer",
    4105,
    server,
    client,
    buffer=HEADERSIZE,
)

if __name__ == "__main__":
    LESSON.main()
