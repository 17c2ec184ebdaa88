"""Lesson 6: when a recv brings less, or more, than one message.

The server is lesson 5's, in slow motion: its four framed messages go out as
one stream, in pieces of 5 bytes unless --chunk says otherwise, so that pieces
cut headers in two and glue the end of one message to the start of the next, as
a real network may.

The client hands the bytes of each recv to two readers. The first is the
tutorial's lesson-5 client, as written: it takes the length from the first recv
of each message and waits until it has exactly that many bytes. The client says
where that goes wrong. The second is lesson 5's reader, which gets every
message right from the same bytes.

Neither reader unpickles with pickle.loads: the bytes come from a peer, so both
use plain_pickle.loads, which reads plain data only (see plain_pickle.py).
"""

import copy
import pickle
import socket

import plain_pickle
from common import Lesson, LessonError, address_text, listener
from lesson_05 import HEADERSIZE, MAX_LENGTH, MESSAGES, PROTOCOL, parse_header

# The tutorial's `a = 10`: the header's size, and its client's buffer.
a = HEADERSIZE

# The piece size of the server's sends unless --chunk says otherwise: 5 bytes
# cut each 10-byte header in two, and the messages end in the middle of a
# piece.
DEFAULT_CHUNK = 5


def unpickle(data):
    """plain_pickle.loads and plain_repr: the value's repr, or Refused."""
    return plain_pickle.plain_repr(plain_pickle.loads(data))


def server(config, out):
    """Lesson 5's server, sending in pieces of DEFAULT_CHUNK bytes unless
    --chunk asks for another size, and sending its four messages in one
    sendall, so that one piece may carry the end of one message and the
    start of the next."""
    config = copy.copy(config)
    if config.chunk is None:
        config.chunk = DEFAULT_CHUNK
    s = listener(config, out)

    def serve_one():
        clt, adr = s.accept()
        try:
            out.say(f"Connection to {address_text(adr)} established")
            pickles = []
            for m in MESSAGES:
                mymsg = pickle.dumps(m, protocol=PROTOCOL)
                out.say(f"{m!r} pickles to {len(mymsg)} bytes: {mymsg!r}")
                pickles.append(mymsg)
            out.say(
                f"sending {len(pickles)} messages, each behind a {a}-byte "
                "length header, "
                "then closing"
            )
            clt.sendall(
                b"".join(
                    bytes(f"{len(mymsg):<{a}}", "utf-8") + mymsg
                    for mymsg in pickles
                )
            )
        finally:
            clt.close()

    config.serve_clients(out, serve_one)
    s.close()


class Reader:
    """Lesson 5's reader: keeps what each recv brings, and hands back each
    header and each message once it is complete. A bytearray and an offset:
    linear time in all.
    """

    def __init__(self):
        self.pending = bytearray()
        self.start = 0
        # The length of the message being received, once its header is in.
        self.length = None
        self.count = 0

    def push(self, received):
        """The lines to print for what `received` completes."""
        self.pending += received
        lines = []
        while True:
            left = len(self.pending) - self.start
            if self.length is None and left >= a:
                header = bytes(self.pending[self.start : self.start + a])
                self.start += a
                self.length = parse_header(header)
                lines.append(
                    f"  lesson 5: header {header!r}: the message is "
                    f"{self.length} bytes"
                )
            elif self.length is not None and left >= self.length:
                body = bytes(
                    self.pending[self.start : self.start + self.length]
                )
                self.start += self.length
                self.length = None
                self.count += 1
                try:
                    lines.append(f"  lesson 5: {unpickle(body)}")
                except plain_pickle.Refused as refusal:
                    raise LessonError(str(refusal)) from None
            else:
                break
        if self.start > 0 and self.start * 2 >= len(self.pending):
            del self.pending[: self.start]
            self.start = 0
        return lines

    def finish(self):
        """The number of messages, once the stream has ended; an error if
        it ended inside one."""
        left = len(self.pending) - self.start
        if self.length is not None:
            raise LessonError(
                f"the connection closed after {left} of the {self.length} "
                "bytes of "
                "a message"
            )
        if left:
            raise LessonError(
                f"the connection closed after {left} of the {a} bytes of a "
                "header"
            )
        if self.count == 0:
            raise LessonError("the connection closed before the first message")
        return self.count


def client(config, out):
    s = config.wire(socket.socket(socket.AF_INET, socket.SOCK_STREAM), out)
    try:
        out.say(f"connecting to {address_text(config.server)}")
        s.connect(config.server, config.wait)
        s.set_read_timeout(config.wait)
        # One stream, two readers: each gets exactly the bytes of each recv.
        tutorial = TutorialClient(out)
        reader = Reader()
        while True:
            mymsg = s.recv(config.buffer)
            out.say(f"recv({config.buffer}) returned {mymsg!r}")
            if not mymsg:
                break
            tutorial.receive(mymsg)
            for line in reader.push(mymsg):
                out.say(line)
        tutorial.closed()
        count = reader.finish()
        out.say(
            f"the tutorial's reader got {tutorial.messages} of the {count} "
            "messages; "
            f"lesson 5's reader got all {count}"
        )
    finally:
        s.close()


class TutorialClient:
    """The tutorial's lesson-5 client, one recv at a time. Its loop, with its
    own names (the line that prints each piece left out):

        while True:
            mymsg = s.recv(10)
            if rec_msg:
                x = int(mymsg[:a])
                rec_msg = False
            complete_info += mymsg
            if len(complete_info)-a == x:
                m = pickle.loads(complete_info[a:])
                print(m)
                rec_msg = True
                complete_info = b''
    """

    def __init__(self, out):
        self.out = out
        self.complete_info = bytearray()
        self.rec_msg = True  # the next recv is the first of a message
        self.x = 0  # the length it believes the message has
        # len(complete_info) once it has gone past a + x: from then on the
        # bytes are only counted, since == can never be true again.
        self.overshot = None
        # Where the tutorial's client would have stopped with an error.
        self.stopped = False
        self.messages = 0

    def receive(self, mymsg):
        """The loop's body, for the bytes one recv returned."""
        if self.stopped:
            return
        if self.rec_msg:
            # x = int(mymsg[:a]): whatever this recv brought, whole header or
            # not.
            header = bytes(mymsg[:a])
            try:
                x = int(header)
            except ValueError:
                self.stop(f"int({header!r}) raises ValueError")
                return
            part = (
                ""
                if len(header) == a
                else f", from {len(header)} of the {a} bytes of the header"
            )
            self.out.say(f"  tutorial: x = int({header!r}) = {x}{part}")
            self.x = x
            self.rec_msg = False
            if x > MAX_LENGTH:
                # Unlike the tutorial, this one does not keep gigabytes for a
                # peer.
                self.stop(
                    f"x = {x} is more than the {MAX_LENGTH} bytes this client "
                    "keeps"
                )
                return
        if self.overshot is not None:
            self.overshot += len(mymsg)
            return
        # complete_info += mymsg
        self.complete_info += mymsg
        body = len(self.complete_info) - a
        if body == self.x:
            # len(complete_info)-a == x: the message is complete, it believes.
            try:
                m = unpickle(bytes(self.complete_info[a:]))
            except plain_pickle.Refused as error:
                self.stop(
                    f"{self.x} bytes after the header, as x says, but "
                    f"pickle.loads({bytes(self.complete_info[a:])!r}) raises "
                    "an error: "
                    f"{error}"
                )
                return
            self.messages += 1
            self.out.say(
                f"  tutorial: {self.x} bytes after the header, as x says: {m}"
            )
            self.rec_msg = True
            self.complete_info = bytearray()
        elif body > self.x:
            extra = body - self.x
            taken = bytes(
                self.complete_info[len(self.complete_info) - extra :]
            )
            self.out.say(
                f"  tutorial: len(complete_info)-a is now {body}, past x = "
                f"{self.x}: it "
                f"took {taken!r}, the first {extra} of what follows, as part "
                "of this "
                "message, and == x can never be true again"
            )
            self.overshot = len(self.complete_info)
            self.complete_info = bytearray()

    def closed(self):
        """What the tutorial's loop does once recv returns b''."""
        if self.stopped:
            return
        if self.rec_msg:
            self.stop("recv returned b'', and int(b'') raises ValueError")
            return
        length = (
            len(self.complete_info) if self.overshot is None else self.overshot
        )
        self.out.say(
            "  tutorial: every recv now returns b'' at once, and "
            "len(complete_info)-a "
            f"stays {length - a}, never x = {self.x}: the tutorial's loop "
            "would spin "
            "here forever"
        )

    def stop(self, what):
        self.stopped = True
        self.out.say(
            f"  tutorial: {what}: the tutorial's client stops here, with an "
            "error"
        )


LESSON = Lesson(
    "lesson_06",
    "when a recv brings less, or more, than one message",
    4106,
    server,
    client,
    buffer=a,
)

if __name__ == "__main__":
    LESSON.main()
