"""Lesson 11: your own types. The Rust side has structs; to Python they are
plain dicts, and here dataclasses.

The client asks for a lesson by number, {'lesson': N} (a Request), and the
server answers with a dict about that lesson (a LessonInfo), or {'error':
...} (a Refusal), each behind lesson 5's 10-character length header. Same
command line as lessons/lesson_11.rs.

A peer's pickle is read with a restricted pickle.Unpickler (the pickle
documentation's "Restricting Globals"): pickle.loads would call any function
a pickle names, os.system say. Then `decode` checks every field, as serde
checks the Rust struct's, and says which one is wrong.
"""

import builtins
import dataclasses
import os
import pickle
import reprlib
import socket
import time

import bounded_pickle
import common

HEADERSIZE = 10
MAX_REQUEST = 256  # {'lesson': N} pickles to about 30 bytes
MAX_ANSWER = 16 * 1024 * 1024  # lesson 5's cap on what a header announces
REQUEST_WAIT = 10.0  # how long the server waits for a whole request
DRAIN_WAIT = 1.0  # how long it reads what a client sends after the answer

STREAM = ["socket", "connect", "recv"]
LESSONS = [
    (1, "basic send", "Tcp", STREAM),
    (2, "tiny buffer truncation", "Tcp", STREAM),
    (3, "loop receive", "Tcp", STREAM),
    (4, "close detection", "Tcp", STREAM),
    (5, "pickled object transfer", "Tcp", STREAM),
    (6, "when a recv brings less, or more, than one message", "Tcp", STREAM),
    (7, "a request, its answer, and the half-close (std::net)", "Tcp",
     ["socket", "connect", "send", "shutdown", "recv"]),
    (8, "many clients at once", "Tcp", STREAM),
    (9, "a chat room", "Tcp", ["socket", "connect", "send", "recv"]),
    (10, "UDP datagrams keep their edges, and may be lost", "Udp",
     ["socket", "sendto", "recvmsg", "bind", "setsockopt"]),
    (11, "your own types, with serde", "Tcp",
     ["socket", "connect", "send", "recv"]),
]


@dataclasses.dataclass
class Request:
    lesson: int


@dataclasses.dataclass
class LessonInfo:
    number: int
    title: str
    transport: str  # 'Tcp' or 'Udp': serde-pickle writes a Rust enum so
    calls: list
    next: object  # the next lesson's number, or None after the last


@dataclasses.dataclass
class Refusal:
    error: str


def u32(value):
    return type(value) is int and 0 <= value < 2**32


# What each field must hold, as the Rust struct's types say.
CHECKS = {
    "lesson": (u32, "an int from 0 to 2**32 - 1"),
    "number": (u32, "an int from 0 to 2**32 - 1"),
    "title": (lambda v: type(v) is str, "a str"),
    "transport": (lambda v: v in ("Tcp", "Udp"), "'Tcp' or 'Udp'"),
    "calls": (lambda v: type(v) is list and all(type(c) is str for c in v),
              "a list of str"),
    "next": (lambda v: v is None or u32(v), "None or an int"),
    "error": (lambda v: type(v) is str, "a str"),
}


class Refused(common.LessonError):
    """What the server answers with {'error': ...}: a bad frame, a pickle
    that is not plain data, a value of the wrong shape, an unknown lesson."""


class DecodeError(Refused):
    """A value that is not the dataclass asked for."""


def decode(kind, value, deny_unknown=False):
    """kind(**value), once value is checked as serde checks the Rust struct:
    a dict with every field, each of its type (with deny_unknown, no other
    key). The error names the first field that is wrong."""
    if type(value) is not dict:
        raise DecodeError(f"expected a dict, got {shown(value)}")
    names = [field.name for field in dataclasses.fields(kind)]
    unknown = [key for key in value if key not in names]
    if deny_unknown and unknown:
        raise DecodeError(f"unknown field {shown(unknown[0])}")
    for name in names:
        if name not in value:
            raise DecodeError(f"missing field {name!r}")
        check, expected = CHECKS[name]
        if not check(value[name]):
            raise DecodeError(
                f"field {name!r}: expected {expected}, "
                f"got {shown(value[name])}")
    return kind(**{name: value[name] for name in names})


class Bounded(reprlib.Repr):
    """repr, cut short: a peer's value may be huge, deep, or hold itself."""

    def __init__(self):
        super().__init__()
        self.maxlevel, self.maxstring, self.maxother = 6, 200, 200
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = 20

    def repr_int(self, x, level):
        if x.bit_length() > 10_000:  # Python prints at most 4300 digits
            return f"<an int of {x.bit_length()} bits>"
        return repr(x)


shown = Bounded().repr


def plain(kind):
    """set, frozenset or bytearray, as pickle.dumps calls them, but never
    with an int: bytearray(10**12) would ask for a terabyte."""
    def build(items=()):
        if isinstance(items, int):
            raise pickle.UnpicklingError(f"{kind.__name__}(int) is no data")
        return kind(items)
    return build


class PlainData(bounded_pickle.BoundedUnpickler):
    """An Unpickler whose find_class allows only the builtins plain data
    needs: any other global (os.system, say) is refused, so no pickle can
    run code here. Bounded (lessons/python/bounded_pickle.py): Python's C
    Unpickler sizes its memo by the largest index a pickle names."""

    ALLOWED = {name: plain(getattr(builtins, name))
               for name in ("set", "frozenset", "bytearray")}

    def find_class(self, module, name):
        if module in ("builtins", "__builtin__") and name in self.ALLOWED:
            return self.ALLOWED[name]
        raise pickle.UnpicklingError(f"it names the global {module}.{name}")


def loads(data):
    """pickle.loads for a peer's bytes, through PlainData, and checked as
    the Rust reader checks (how deep, how long an int). Whatever goes wrong
    (not a pickle, a global, too deep) is one line."""
    try:
        return bounded_pickle.loads(PlainData, data)
    except bounded_pickle.Refused as error:
        raise Refused(
            f"not a pickle of plain data: {common.escape(str(error))}"
        ) from None


def frame(data):
    return f"{len(data):<{HEADERSIZE}}".encode("ascii") + data


def receive_one(peer, max_len, time_left, out):
    """Reads from `peer` until one framed message is complete, refusing any
    longer than `max_len` before reading it; each recv waits at most what
    time_left() says."""
    pending, length = bytearray(), None  # appended to in place
    while True:
        if length is None and len(pending) >= HEADERSIZE:
            header = bytes(pending[:HEADERSIZE])
            del pending[:HEADERSIZE]
            digits = header.strip(b" ")
            if not (digits.isdigit() and b" " not in digits):
                raise Refused(f"the header {header!r} is not a length")
            length = int(digits)
            if length > max_len:
                raise Refused(f"the header announces a message of {length} "
                               f"bytes, more than the {max_len} this reader "
                               "accepts")
        if length is not None and len(pending) >= length:
            return bytes(pending[:length])
        peer.settimeout(time_left())
        chunk = out.traced(peer.recv, 1024, waits_for="bytes")
        out.hex("received", chunk)
        if not chunk:
            what, due = ("header", HEADERSIZE) if length is None else (
                "message", length)
            raise common.LessonError(f"the connection closed after "
                                     f"{len(pending)} of the {due} bytes of "
                                     f"a {what}")
        pending += chunk


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
            with clt:
                try:
                    answer(clt, args, out)
                except (OSError, common.LessonError) as error:
                    # A client that leaves early must not stop the server.
                    out.error(f"{common.address_text(adr)}: "
                              f"{common.explain(error, args)}")
                close_well(clt)
            if args.once:
                break


def answer(clt, args, out):
    until = time.monotonic() + REQUEST_WAIT  # in all, not per recv
    try:
        data = receive_one(clt, MAX_REQUEST,
                           lambda: max(until - time.monotonic(), 0.001), out)
        request = decode(Request, loads(data), deny_unknown=True)
        out.say(f"asked for lesson {request.lesson}")
        reply = dataclasses.asdict(lesson_info(request.lesson))
        out.say(f"answering {reply!r}")
    except TimeoutError:
        raise common.LessonError(
            f"no whole request within {REQUEST_WAIT:g} s") from None
    except Refused as error:
        out.say(f"refusing: {common.escape(str(error))}")
        reply = {"error": str(error)}
    # Protocol 3, as serde-pickle writes: any Rust client reads it.
    common.send_all(clt, frame(pickle.dumps(reply, protocol=3)), args, out)


def lesson_info(number):
    for index, (known, title, transport, calls) in enumerate(LESSONS):
        if known == number:
            following = LESSONS[index + 1][0] if index + 1 < len(LESSONS) else (
                None)
            return LessonInfo(number, title, transport, list(calls), following)
    numbers = ", ".join(str(lesson[0]) for lesson in LESSONS)
    raise Refused(
        f"there is no lesson {number} here: this server knows lessons "
        f"{numbers}")


def close_well(clt):
    """Correction: a close with unread bytes sends an RST, which can destroy
    the answer before the client reads it. So: shutdown(SHUT_WR), read what
    the client still sends for at most DRAIN_WAIT, then close."""
    until = time.monotonic() + DRAIN_WAIT
    try:
        clt.shutdown(socket.SHUT_WR)
        while (left := until - time.monotonic()) > 0.001:
            clt.settimeout(left)
            if not clt.recv(1024):
                break
    except OSError:
        pass  # gone, or DRAIN_WAIT is over


def ask(args, time_left, out):
    """Connects, sends the request, and returns the answer's bytes."""
    with socket.socket(args.family, socket.SOCK_STREAM) as s:
        out.say(f"connecting to {common.address_text(args.address)}")
        s.settimeout(time_left())
        out.traced(s.connect, args.address, waits_for="the handshake")
        request = {"lesson": args.lesson}
        out.say(f"asking for lesson {args.lesson}: {request!r}")
        framed = frame(pickle.dumps(request, protocol=3))
        out.trace(f"sendall({common.plural(len(framed), 'byte')}) waits "
                  "for room in this side's send buffer")
        s.sendall(framed)
        out.trace(f"sendall({common.plural(len(framed), 'byte')}) -> done")
        out.hex("sent", framed)
        return receive_one(s, MAX_ANSWER, time_left, out)


def client(args, out):
    end = time.monotonic() + args.deadline

    cut_short = False  # whether the last wait was what --deadline left

    def time_left():  # --wait, or what is left of --deadline if less
        nonlocal cut_short
        left = end - time.monotonic()
        if left < 0.001:
            raise common.LessonError(deadline_over)
        cut_short = left < args.wait
        return min(args.wait, left)

    deadline_over = f"gave up after {args.deadline:g} s in all (--deadline)"
    try:
        data = ask(args, time_left, out)
    except TimeoutError:
        if cut_short:  # the wait that ran out was --deadline's
            raise common.LessonError(deadline_over) from None
        raise
    # pickle.loads, but typed: the answer must have every field of a
    # LessonInfo, each of its type, or this fails and says which.
    try:
        value = loads(data)
    except Refused as error:
        raise common.LessonError(f"the answer is {error}") from None
    try:
        info = decode(LessonInfo, value)
    except DecodeError as error:
        try:
            refusal = decode(Refusal, value)
        except DecodeError:
            raise common.LessonError(
                f"the answer is not a LessonInfo: {error}") from None
        raise common.LessonError(
            f"the server refused: {common.escape(refusal.error[:200])}"
        ) from None
    out.say(f"lesson {info.number}: {shown(info.title)}, over "
            f"{info.transport}")
    out.say(f"its calls: {shown(info.calls)}")
    if info.next is None:
        out.say("the next lesson: None, this is the last")
    else:
        out.say(f"the next lesson: {info.next}")


if __name__ == "__main__":
    top, server_options, client_options = common.parser(
        "lesson_11", "your own types, with serde", port=4111, wait=10.0)
    common.slow_motion(server_options)
    client_options.add_argument(
        "--lesson", type=common.whole(1, 999), default=10, metavar="N",
        help="the number of the lesson to ask about")
    common.patience(client_options)
    common.main(top, server, client)
