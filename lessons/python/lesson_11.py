"""Lesson 11: your own types. The Rust side has structs; to Python they are plain dicts.

The client asks {'lesson': N}; the server answers a dict about that lesson, or {'error': ...},
behind lesson 5's 10-character length header.

Peer data is unpickled with a restricted Unpickler whose find_class refuses every global: a
pickle may name any importable function (os.system, say) and have pickle.loads call it. Plain
dicts, lists, strings, numbers and None need no global, so refusing all of them costs nothing.
Then every field is checked, as serde checks the Rust struct's, before it is used.
"""

import io
import pickle
import socket

from common import main, serve_clients

HEADERSIZE = 10
MAX_REQUEST = 256
MAX_ANSWER = 64 * 1024
REQUEST_WAIT = 10
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
    (10, "UDP datagrams keep their edges", "Udp", ["socket", "sendto", "recvmsg", "bind"]),
    (11, "your own types, with serde", "Tcp", ["socket", "connect", "send", "recv"]),
]


class NoGlobals(pickle.Unpickler):
    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"the pickle names the global {module}.{name}, and no global is allowed")


def loads(data):
    return NoGlobals(io.BytesIO(data)).load()


def receive_one(s, max_len):
    """Reads one framed message, refusing one longer than max_len before reading it."""
    pending = b""
    length = None
    while True:
        if length is None and len(pending) >= HEADERSIZE:
            header, pending = pending[:HEADERSIZE], pending[HEADERSIZE:]
            text = header.decode("ascii", errors="replace").strip(" ")
            if not text.isdigit() or not text.isascii():
                raise ValueError(f"the header {header!r} is not a length: it must be digits, "
                                 f"padded with spaces to {HEADERSIZE} characters")
            length = int(text)
            if length > max_len:
                raise ValueError(f"the header announces a message of {length} bytes, "
                                 f"more than the {max_len} this reader accepts")
        if length is not None and len(pending) >= length:
            return pending[:length]
        chunk = s.recv(1024)
        if not chunk:
            raise ValueError("the connection closed before a whole message")
        pending += chunk


def frame(data):
    return bytes(f"{len(data):<{HEADERSIZE}}", "utf-8") + data


def check(record, field, kind, name):
    """The field's value if it has the type the Rust struct has, else an error that names it."""
    if field not in record:
        raise ValueError(f"missing field `{field}`")
    value = record[field]
    if not kind(value):
        raise ValueError(f"field `{field}`: invalid type: {type(value).__name__} {value!r}, expected {name}")
    return value


def is_u32(value):
    return type(value) is int and 0 <= value < 2**32


def lesson_info(number):
    for index, (known, title, transport, calls) in enumerate(LESSONS):
        if known == number:
            following = LESSONS[index + 1][0] if index + 1 < len(LESSONS) else None
            # Keys in sorted order, as serde-pickle writes a Rust struct.
            return {"calls": calls, "next": following, "number": number, "title": title,
                    "transport": transport}
    numbers = ", ".join(str(lesson[0]) for lesson in LESSONS)
    raise ValueError(f"there is no lesson {number} here: this server knows lessons {numbers}")


def server(args, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.host, args.port))
    s.listen(5)
    out.listening(s)

    def serve_one():
        clt, adr = s.accept()
        with clt:
            out.say(f"Connection to {adr[0]}:{adr[1]} established")
            clt.settimeout(REQUEST_WAIT)
            try:
                request = loads(receive_one(clt, MAX_REQUEST))
                if not isinstance(request, dict):
                    raise ValueError(f"invalid type: {type(request).__name__}, expected struct Request")
                unknown = [key for key in request if key != "lesson"]
                if unknown:
                    raise ValueError(f"unknown field `{unknown[0]}`, expected `lesson`")
                number = check(request, "lesson", is_u32, "u32")
                out.say(f"asked for lesson {number}")
                answer = lesson_info(number)
                out.say(f"answering {answer!r}")
            except (ValueError, pickle.UnpicklingError, EOFError) as error:
                out.say(f"refusing: {error}")
                answer = {"error": str(error)}
            clt.sendall(frame(pickle.dumps(answer)))

    serve_clients(args, out, serve_one)
    s.close()


def client(args, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    out.say(f"connecting to {args.host}:{args.port}")
    s.settimeout(args.wait)
    s.connect((args.host, args.port))
    host, port = s.getsockname()
    out.say(f"connected from {host}:{port}: the port the system gave this side")
    request = {"lesson": args.lesson}
    out.say(f"asking for Request {{ lesson: {args.lesson} }}, that is {request!r}")
    s.sendall(frame(pickle.dumps(request)))
    answer = loads(receive_one(s, MAX_ANSWER))
    s.close()
    if isinstance(answer, dict) and "number" not in answer and isinstance(answer.get("error"), str):
        raise ValueError(f"the server refused: {answer['error']}")
    if not isinstance(answer, dict):
        raise ValueError(f"the answer is not a LessonInfo: invalid type: {type(answer).__name__}")
    try:
        number = check(answer, "number", is_u32, "u32")
        title = check(answer, "title", lambda v: type(v) is str, "a string")
        transport = check(answer, "transport", lambda v: v in ("Tcp", "Udp"), "variant `Tcp` or `Udp`")
        calls = check(answer, "calls", lambda v: type(v) is list and all(type(c) is str for c in v),
                      "a sequence of strings")
        following = check(answer, "next", lambda v: v is None or is_u32(v), "option")
    except ValueError as error:
        raise ValueError(f"the answer is not a LessonInfo: {error}") from None
    out.say(f"lesson {number}: {title!r}, over {transport}")
    out.say(f"its calls: {calls!r}")
    out.say(f"the next lesson: {following}" if following is not None
            else "the next lesson: None, this is the last")


def lesson_number(text):
    import argparse
    if not text.isdigit() or not 1 <= int(text) <= 999:
        raise argparse.ArgumentTypeError(f"takes a whole number from 1 to 999, not {text!r}")
    return int(text)


if __name__ == "__main__":
    import sys
    # common.main knows the shared options only: this lesson's own, --lesson, is read here.
    lesson = 10
    if "--lesson" in sys.argv:
        at = sys.argv.index("--lesson")
        if at + 1 >= len(sys.argv):
            print("error: --lesson needs a value", file=sys.stderr)
            sys.exit(2)
        try:
            lesson = lesson_number(sys.argv[at + 1])
        except Exception as error:
            print(f"error: --lesson {error}", file=sys.stderr)
            sys.exit(2)
        del sys.argv[at:at + 2]
    _client = client
    client = lambda args, out: _client(setattr(args, "lesson", lesson) or args, out)  # noqa: E731
    main("lesson_11: your own types, with serde", 4111, server, client)
