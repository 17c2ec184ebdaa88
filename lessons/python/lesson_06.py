"""Lesson 6: when a recv brings less, or more, than one message.

The server is lesson 5's, in slow motion: its four framed messages go out as
one stream, in pieces of 5 bytes unless --chunk says otherwise, so that
pieces cut headers and glue the end of one message to the start of the
next, as a real network may.

The client hands the bytes of each recv to two readers: the tutorial's
lesson-5 client, as written, which takes the length from the first recv of
each message and waits until it has exactly that many bytes; and lesson 5's
reader, which gets every message right from the same bytes.
Same command line as lessons/lesson_06.rs.
"""

import codecs
import os
import pickle
import socket
import time

import bounded_pickle
import common

a = 10  # the tutorial's name: the header's size, and its client's buffer
MAX_LENGTH = 16 * 1024 * 1024  # the longest message either reader keeps
MESSAGES = [{1: "Client", 2: "Server"}, [1, 2, "abc"],
            ("Python", 3, 3.5, True), {1, 2, 3}]
PROTOCOL = 4  # pinned: pickle.dumps's default changes with Python's version


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
                out.say(f"{m!r} pickles to {len(mymsg)} bytes")
                stream += bytes(f"{len(mymsg):<{a}}", "utf-8") + mymsg
            out.say(f"sending {len(stream)} bytes in pieces of {args.chunk}, "
                    "then closing")
            try:  # one stream, cut where --chunk says, not where messages end
                common.send_all(clt, stream, args, out)
            except OSError as error:
                out.error(f"sending: {common.explain(error, args)}")
            clt.close()
            if args.once:
                break


# Lesson 5's: the globals plain data's pickles name, called only as
# pickle.dumps calls them.
ALLOWED = {("builtins", "set"): set, ("builtins", "frozenset"): frozenset,
           ("builtins", "bytearray"): bytearray, ("builtins", "bytes"): bytes,
           ("_codecs", "encode"): codecs.encode}
CALLS = [(), (list,), (bytes,), (str, "latin1")]


class PlainData(bounded_pickle.BoundedUnpickler):
    """Lesson 5's Unpickler: find_class gives only ALLOWED's globals."""

    def find_class(self, module, name):
        module = "builtins" if module == "__builtin__" else module
        if (module, name) not in ALLOWED:
            raise bounded_pickle.Refused(f"it names the global {module}.{name}")

        def call(*args):
            if tuple(map(type, args[:1])) + args[1:] not in CALLS:
                raise bounded_pickle.Refused(
                    f"it calls {name} with what plain data never gives")
            return ALLOWED[module, name](*args)
        return call


def unpickled(data):
    """repr(pickle.loads(data)), for plain data only and bounded."""
    return bounded_pickle.shown(bounded_pickle.loads(PlainData, data))


def preview(data):
    """At most 20 of a peer's bytes: they may be megabytes."""
    return f"{data[:20]!r}..." if len(data) > 20 else repr(data)


class Reader:
    """Lesson 5's reader: keeps what each recv brings, and takes out each
    header and each message once whole."""

    def __init__(self, out):
        self.out, self.pending, self.length, self.count = out, bytearray(), \
            None, 0

    def push(self, mymsg):
        self.pending += mymsg
        while True:
            if self.length is None and len(self.pending) >= a:
                header = bytes(self.pending[:a])
                del self.pending[:a]
                text = header.decode("ascii", errors="replace").strip(" ")
                if not (text.isascii() and text.isdigit()):
                    raise common.LessonError(f"the header {header!r} is not "
                                             "a length")
                if int(text) > MAX_LENGTH:
                    raise common.LessonError(f"the header announces {text} "
                                             "bytes, more than the "
                                             f"{MAX_LENGTH} this client takes")
                self.length = int(text)
                self.out.say(f"  lesson 5: header {header!r}: the message is "
                             f"{self.length} bytes")
            elif self.length is not None and len(self.pending) >= self.length:
                body = bytes(self.pending[:self.length])
                del self.pending[:self.length]
                self.length, self.count = None, self.count + 1
                try:
                    self.out.say(f"  lesson 5: {unpickled(body)}")
                except bounded_pickle.Refused as why:
                    raise common.LessonError(
                        "refused to unpickle the message: "
                        + common.escape(str(why)))
            else:
                return

    def finish(self):
        """How many messages came; an error if the stream ended in one."""
        if self.length is not None or self.pending:
            got, of, what = (len(self.pending), self.length, "a message") if (
                self.length is not None) else (len(self.pending), a, "a header")
            raise common.LessonError(f"the connection closed after {got} of "
                                     f"the {of} bytes of {what}")
        if self.count == 0:
            raise common.LessonError(
                "the connection closed before the first message")
        return self.count


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
        # len(complete_info) once past a + x: from then on the bytes are only
        # counted, since == can never be true again.
        self.overshot = None
        self.stopped = False  # where the tutorial's client would stop
        self.messages = 0

    def receive(self, mymsg):
        """The loop's body, for the bytes one recv returned."""
        if self.stopped:
            return
        if self.rec_msg:
            header = bytes(mymsg[:a])  # whatever this recv brought
            try:
                x = int(header)
            except ValueError:
                return self.stop(f"int({header!r}) raises ValueError")
            part = "" if len(header) == a else (
                f", from {len(header)} of the {a} bytes of the header")
            self.out.say(f"  tutorial: x = int({header!r}) = {x}{part}")
            self.x, self.rec_msg = x, False
            if x > MAX_LENGTH:  # unlike the tutorial: no gigabytes for a peer
                return self.stop(f"x = {x} is more than the {MAX_LENGTH} "
                                 "bytes this client keeps")
        if self.overshot is not None:
            self.overshot += len(mymsg)
            return
        self.complete_info += mymsg
        body = len(self.complete_info) - a
        if body == self.x:  # the message is complete, it believes
            try:
                m = unpickled(bytes(self.complete_info[a:]))
            except bounded_pickle.Refused:
                data = bytes(self.complete_info[a:])
                return self.stop(f"pickle.loads({preview(data)}) fails")
            self.messages += 1
            self.out.say(f"  tutorial: {self.x} bytes after the header, as x "
                         f"says: {m}")
            self.rec_msg, self.complete_info = True, bytearray()
        elif body > self.x:
            taken = bytes(self.complete_info[len(self.complete_info)
                                             - (body - self.x):])
            self.out.say(f"  tutorial: len(complete_info)-a = {body} > x = "
                         f"{self.x}: it took {preview(taken)} of the next "
                         "message")
            self.overshot, self.complete_info = len(self.complete_info), \
                bytearray()

    def closed(self):
        """What the tutorial's loop does once recv returns b''."""
        if self.stopped:
            return
        if self.rec_msg:
            return self.stop("int(b'') raises ValueError")
        length = len(self.complete_info) if self.overshot is None else \
            self.overshot
        self.out.say(f"  tutorial: len(complete_info)-a stays {length - a}, "
                     f"never x = {self.x}: it spins on b'' for ever")

    def stop(self, what):
        self.stopped = True
        self.out.say(f"  tutorial: {what}: its client stops here, with an "
                     "error")


def client(args, out):
    with socket.socket(args.family, socket.SOCK_STREAM) as s:
        out.say(f"connecting to {common.address_text(args.address)}")
        s.settimeout(args.wait)
        out.traced(s.connect, args.address, waits_for="the handshake")
        out.say(f"connected from {common.address_text(s.getsockname())}")
        # The tutorial's loop never ends on its own: --deadline ends this one.
        end = time.monotonic() + args.deadline
        tutorial, reader = TutorialClient(out), Reader(out)
        while True:
            if time.monotonic() >= end:
                raise common.LessonError(
                    f"gave up after {args.deadline:g} s in all (--deadline)")
            s.settimeout(min(args.wait, end - time.monotonic()))
            mymsg = out.traced(s.recv, args.buffer, waits_for="bytes")
            out.say(f"recv({args.buffer}) returned {mymsg!r}")
            if not mymsg:
                break
            tutorial.receive(mymsg)
            reader.push(mymsg)
        tutorial.closed()
        count = reader.finish()
        out.say(f"the tutorial's reader got {tutorial.messages} of "
                f"{common.plural(count, 'message')}, lesson 5's all {count}")


if __name__ == "__main__":
    top, server_options, client_options = common.parser(
        "lesson_06", "when a recv brings less, or more, than one message",
        port=4106, wait=10.0)
    server_options.add_argument(
        "--chunk", type=common.whole(1, 65535), default=5, metavar="BYTES",
        help="send in pieces of at most BYTES bytes, each its own send")
    server_options.add_argument(
        "--pause", type=common.seconds, default=0.2, metavar="SECONDS",
        help="the pause between pieces")
    common.patience(client_options)
    client_options.add_argument(
        "--buffer", type=common.whole(1, 65535), default=a, metavar="BYTES",
        help="the most one recv may return")
    common.main(top, server, client)
