"""Lesson 11: your own types. The Rust side has structs; to Python they are
plain dicts.

The client asks for a lesson by number, {'lesson': N} (a Request), and the
server answers with a dict about that lesson (a LessonInfo), or {'error': ...}
(a Refusal), each behind lesson 5's 10-character length header.

Peer data is unpickled only through plain_pickle.loads (lesson 5's), which
reads plain data and refuses any pickle that names a global such as os.system.
Then `decode` checks every field, as serde checks the Rust struct's, and says
which one is wrong, in serde's words, before the program touches the data.
"""

import socket
import struct
from decimal import Decimal

import plain_pickle
from common import (
    Lesson,
    LessonError,
    Option,
    address_text,
    escape_unprintable,
    listener,
)

HEADERSIZE = 10
# {'lesson': N} pickles to about 30 bytes: a longer one is not a request.
MAX_REQUEST = 256
MAX_ANSWER = 64 * 1024  # the longest answer the client reads
REQUEST_WAIT = 10.0  # how long the server waits for a client's request

# The lessons the server knows about: number, title, transport, and the calls
# its client makes.
STREAM = ["socket", "connect", "recv"]
LESSONS = [
    (1, "basic send", "Tcp", STREAM),
    (2, "tiny buffer truncation", "Tcp", STREAM),
    (3, "loop receive", "Tcp", STREAM),
    (4, "close detection", "Tcp", STREAM),
    (5, "pickled object transfer", "Tcp", STREAM),
    (6, "when a recv brings less, or more, than one message", "Tcp", STREAM),
    (
        7,
        "a request, its answer, and the half-close (std::net)",
        "Tcp",
        ["socket", "connect", "send", "shutdown", "recv"],
    ),
    (8, "many clients at once", "Tcp", STREAM),
    (9, "a chat room", "Tcp", ["socket", "connect", "send", "recv"]),
    (
        10,
        "UDP datagrams keep their edges",
        "Udp",
        ["socket", "sendto", "recvmsg", "bind"],
    ),
    (
        11,
        "your own types, with serde",
        "Tcp",
        ["socket", "connect", "send", "recv"],
    ),
]


# -----------------------------------------------------------------------------
# The types, and checking a peer's value against them, as serde does


class DecodeError(Exception):
    """A value that is not of the type asked for; str() says why, in serde's
    words."""


def u32(value):
    if type(value) is int:
        if not -(2**63) <= value < 2**63:
            raise DecodeError("invalid value: integer too large")
        if not 0 <= value < 2**32:
            raise DecodeError(
                f"invalid value: integer `{value}`, expected u32"
            )
        return value
    raise DecodeError(f"invalid type: {unexpected(value)}, expected u32")


def string(value):
    if type(value) is str:
        return value
    # The Rust side gives serde a bytearray as bytes, and serde takes UTF-8
    # bytes for a string.
    if type(value) in (bytes, bytearray):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError(
                "invalid value: byte array, expected a string"
            ) from None
    raise DecodeError(f"invalid type: {unexpected(value)}, expected a string")


def strings(value):
    if type(value) not in (list, tuple, set, frozenset):
        raise DecodeError(
            f"invalid type: {unexpected(value)}, expected a sequence"
        )
    return [string(item) for item in value]


def optional_u32(value):
    return None if value is None else u32(value)


def transport(value):
    """An enum: serde-pickle writes a unit variant as its name, 'Tcp', and
    reads ('Tcp',) and {'Tcp': None} too."""
    if type(value) is tuple and len(value) == 1:
        value = value[0]
    elif type(value) is dict and len(value) == 1 and None in value.values():
        value = next(iter(value))
    if type(value) is not str:
        raise DecodeError("enums must be represented as dicts or tuples")
    if value not in ("Tcp", "Udp"):
        raise DecodeError(
            f"unknown variant `{value}`, expected `Tcp` or `Udp`"
        )
    return value


# What the client asks: {'lesson': 10}. Unknown fields are refused.
REQUEST = ("Request", {"lesson": u32}, True)
# What the server answers about a lesson; in a dict, the fields in this order.
LESSON_INFO = (
    "LessonInfo",
    {
        "number": u32,
        "title": string,
        "transport": transport,
        "calls": strings,
        "next": optional_u32,
    },
    False,
)
# What the server answers a request it cannot serve: {'error': '...'}.
REFUSAL = ("Refusal", {"error": string}, False)


def decode(value, kind):
    """The struct `kind` from a plain value: a dict with its fields (or a list
    of them, in order), each checked; a DecodeError names the first field
    that is wrong."""
    name, fields, deny_unknown = kind
    found = {}

    def field(key, item):
        try:
            found[key] = fields[key](item)
        except DecodeError as error:
            raise DecodeError(f"field `{key}`: {error}") from None

    if type(value) in (list, tuple):
        count = len(fields)
        if len(value) != count:
            raise DecodeError(
                f"invalid length {len(value)}, expected struct {name} with "
                f"{count} "
                f"element{'' if count == 1 else 's'}"
            )
        for key, item in zip(fields, value):
            field(key, item)
        return found
    if type(value) is not dict:
        raise DecodeError(
            f"invalid type: {unexpected(value)}, expected struct {name}"
        )
    for key, item in value.items():
        if type(key) is bytes:
            key = key.decode("utf-8", errors="replace")
        if type(key) is not str:
            raise DecodeError(
                f"invalid type: {unexpected(key)}, expected field identifier"
            )
        if key in fields:
            field(key, item)
        elif deny_unknown:
            expected = " or ".join(f"`{known}`" for known in fields)
            raise DecodeError(f"unknown field `{key}`, expected {expected}")
    for key in fields:
        if key not in found:
            raise DecodeError(f"missing field `{key}`")
    return found


def unexpected(value):
    """What came instead, as serde says it: string "ten", integer `1`, unit
    value."""
    kind = type(value)
    if value is None:
        return "unit value"
    if kind is bool:
        return f"boolean `{'true' if value else 'false'}`"
    if kind is int:
        return f"integer `{value}`" if -(2**63) <= value < 2**63 else "integer"
    if kind is float:
        return f"floating point `{float_text(value)}`"
    if kind is str:
        return f"string {rust_debug(value)}"
    if kind in (bytes, bytearray):
        return "byte array"
    if kind is dict:
        return "map"
    return "sequence"


def float_text(number):
    """A float as Rust prints it: 1.0, 0.00015, NaN, inf."""
    if number != number:
        return "NaN"
    if number in (float("inf"), float("-inf")):
        return "inf" if number > 0 else "-inf"
    text = format(Decimal(repr(number)), "f")
    return text if "." in text else f"{text}.0"


def rust_debug(text):
    """A string as Rust's {:?} shows it: in double quotes, escaped."""
    escapes = {
        "\t": "\\t",
        "\r": "\\r",
        "\n": "\\n",
        "\\": "\\\\",
        '"': '\\"',
        "\0": "\\0",
    }
    shown = []
    for character in text:
        if character in escapes:
            shown.append(escapes[character])
        elif character.isprintable():
            shown.append(character)
        else:
            shown.append(f"\\u{{{ord(character):x}}}")
    return '"' + "".join(shown) + '"'


def to_pickle(value):
    """The pickle serde-pickle writes for these types (protocol 3, no memo),
    so that --hex shows the Rust lesson's bytes. pickle.dumps(value,
    protocol=3) writes an equivalent pickle.
    """
    out = bytearray(b"\x80\x03")

    def write(item):
        if item is None:
            out.extend(b"N")
        elif type(item) is int and 0 <= item < 2**31:
            out.extend(b"J" + struct.pack("<I", item))  # BININT
        elif type(item) is int:
            out.extend(
                b"\x8a\x05" + struct.pack("<I", item) + b"\x00"
            )  # LONG1, a u32
        elif type(item) is str:
            data = item.encode("utf-8")
            out.extend(
                b"X" + struct.pack("<I", len(data)) + data
            )  # BINUNICODE
        elif type(item) is list:
            out.extend(b"]")  # EMPTY_LIST, then MARK, the items, APPENDS
            if item:
                out.extend(b"(")
                for index, element in enumerate(item, 1):
                    write(element)
                    if index % 1000 == 0:
                        out.extend(b"e(")
                out.extend(b"e")
        else:
            out.extend(b"}")  # EMPTY_DICT, then MARK, the pairs, SETITEMS
            if item:
                out.extend(b"(")
                for index, (key, element) in enumerate(item.items(), 1):
                    write(key)
                    write(element)
                    if index % 1000 == 0:
                        out.extend(b"u(")
                out.extend(b"u")

    write(value)
    out.extend(b".")
    return bytes(out)


def py_repr(record):
    """A struct as the Rust lesson prints it: a dict, its keys in sorted
    order."""
    return repr({key: record[key] for key in sorted(record)})


class Unreadable(Exception):
    """A pickle plain_pickle refused: not plain data, or not a pickle at all."""


def loads(data):
    """plain_pickle.loads: lesson 5's bounded reader, the Python side of
    src/unpickle.rs, which the Rust lesson reads every request and answer
    through too."""
    try:
        return plain_pickle.to_python(plain_pickle.loads(data))
    except plain_pickle.Refused as refusal:
        raise Unreadable(str(refusal)) from None


# -----------------------------------------------------------------------------
# Framing: lesson 5's length header


def frame(data):
    header = f"{len(data):<{HEADERSIZE}}"
    if len(header) > HEADERSIZE:
        raise LessonError(
            f"a message of {len(data)} bytes is too long for a "
            f"{HEADERSIZE}-digit "
            "header"
        )
    return header.encode("ascii") + data


class BadFrame(LessonError):
    """A header that is not a length, or announces more than the reader
    accepts."""


def receive_one(peer, max_len):
    """Reads from `peer` until one framed message is complete, refusing any
    longer than `max_len` before reading it."""
    pending = bytearray()
    length = None
    while True:
        if length is None and len(pending) >= HEADERSIZE:
            header = bytes(pending[:HEADERSIZE])
            del pending[:HEADERSIZE]
            text = header.decode("ascii", errors="replace").strip(" ")
            if not text or not text.isascii() or not text.isdigit():
                raise BadFrame(
                    f"the header {header!r} is not a length: it must be "
                    "digits, "
                    f"padded with spaces to {HEADERSIZE} characters"
                )
            length = int(text)
            if length > max_len:
                raise BadFrame(
                    f"the header announces a message of {length} bytes, more "
                    "than "
                    f"the {max_len} this reader accepts"
                )
        if length is not None and len(pending) >= length:
            return bytes(pending[:length])
        chunk = peer.recv(1024)
        if not chunk:
            if length is not None:
                raise LessonError(
                    f"the connection closed after {len(pending)} of the "
                    f"{length} "
                    "bytes of a message"
                )
            if pending:
                raise LessonError(
                    f"the connection closed after {len(pending)} of the "
                    f"{HEADERSIZE} bytes of a header"
                )
            raise LessonError("the connection closed before the first message")
        pending += chunk


# -----------------------------------------------------------------------------
# The lesson


# ANCHOR: server
def server(config, out):
    s = listener(config, out)

    def serve_one():
        client, address = s.accept()
        try:
            out.say(f"Connection to {address_text(address)} established")
            # A client that sends nothing, or a byte now and then, must not
            # hold the server for ever: its request has REQUEST_WAIT in all.
            client.set_deadline(REQUEST_WAIT)
            try:
                # A header that is not a length, or too long, is a bad request
                # like any other.
                request = decode(
                    loads(receive_one(client, MAX_REQUEST)), REQUEST
                )
                out.say(f"asked for lesson {request['lesson']}")
                info = lesson_info(request["lesson"])
                out.say(f"answering {py_repr(info)}")
                answer = info
            except (BadFrame, Unreadable) as error:
                answer = refuse(out, str(error))
            except DecodeError as error:
                answer = refuse(out, f"decoding error: {error}")
            except LookupError as error:
                answer = refuse(out, error.args[0])
            client.sendall(frame(to_pickle(answer)))
        finally:
            client.close()

    config.serve_clients(out, serve_one)
    s.close()


def refuse(out, error):
    out.say(f"refusing: {escape_unprintable(error)}")
    return {"error": error}


def lesson_info(number):
    """The record about lesson `number`: its fields in the order the Rust
    struct has them."""
    for index, (known, title, transport_name, calls) in enumerate(LESSONS):
        if known == number:
            following = (
                LESSONS[index + 1][0] if index + 1 < len(LESSONS) else None
            )
            return {
                "number": number,
                "title": title,
                "transport": transport_name,
                "calls": list(calls),
                "next": following,
            }
    numbers = ", ".join(str(lesson[0]) for lesson in LESSONS)
    raise LookupError(
        f"there is no lesson {number} here: this server knows lessons {numbers}"
    )


# ANCHOR_END: server


# ANCHOR: client
def client(config, out):
    server_wire = config.wire(
        socket.socket(socket.AF_INET, socket.SOCK_STREAM), out
    )
    try:
        out.say(f"connecting to {address_text(config.server)}")
        server_wire.connect(config.server, config.wait)
        server_wire.set_read_timeout(config.wait)

        request = {"lesson": config.extra["--lesson"]}
        out.say(
            f"asking for Request {{ lesson: {request['lesson']} }}, that is "
            f"{request!r}"
        )
        server_wire.sendall(frame(to_pickle(request)))

        answer = receive_one(server_wire, MAX_ANSWER)
    finally:
        server_wire.close()
    # pickle.loads, but typed: the answer must have every field of a
    # LessonInfo, each of its type, or this fails and says which.
    try:
        value = loads(answer)
    except Unreadable as error:
        raise LessonError(str(error)) from None
    try:
        info = decode(value, LESSON_INFO)
    except DecodeError as error:
        try:
            refusal = decode(value, REFUSAL)
        except DecodeError:
            raise LessonError(
                f"the answer is not a LessonInfo: decoding error: {error}"
            ) from None
        raise LessonError(
            f"the server refused: {escape_unprintable(refusal['error'])}"
        ) from None
    # Printed as the Rust client's python::repr prints them, which is not
    # always Python's own repr: Python's depends on its Unicode version.
    title = plain_pickle.plain_repr(("str", info["title"]))
    calls = [("str", call) for call in info["calls"]]
    out.say(f"lesson {info['number']}: {title}, over {info['transport']}")
    out.say(f"its calls: {plain_pickle.plain_repr(('list', calls))}")
    if info["next"] is not None:
        out.say(f"the next lesson: {info['next']}")
    else:
        out.say("the next lesson: None, this is the last")


# ANCHOR_END: client


LESSON = Lesson(
    "lesson_11",
    "your own types, with serde",
    4111,
    server,
    client,
    options=[
        Option(
            "--lesson",
            ("count", 999),
            "N",
            "10",
            "client",
            "the number of the lesson to ask about",
        ),
    ],
)

if __name__ == "__main__":
    LESSON.main()
