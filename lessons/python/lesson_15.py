"""Lesson 15: your browser talks to your socket server, HTTP/1.1 by hand.

HTTP/1.1 is lesson 7's request and answer over lesson 8's threads, with two
framings: a request's head (its request line and headers) ends at the first
blank line, b"\\r\\n\\r\\n", for there is no length header before it; a body,
if any, is as long as its Content-Length says, as lesson 5's header said. The
server reads heads and bodies with recv(), answers with sendall(), and serves
one page, at /: no HTTP library, and no files. The client sends a GET for each
--path, on one connection. Same command line as lessons/lesson_15.rs.
"""

import argparse
import email.utils
import errno
import os
import socket
import threading
import time

import common

# The longest head (request line and headers) the server reads, and the
# longest answer head the client reads. Chromium's is about 700 bytes.
MAX_HEAD = 8 * 1024
# The longest body the server reads (and drops): it serves no uploads.
MAX_BODY = 64 * 1024
# The longest answer body the client reads.
MAX_ANSWER = 64 * 1024
# The first byte of a TLS record that starts a handshake.
TLS_HANDSHAKE = b"\x16"
# The most one recv asks for.
RECV_SIZE = 4096
# Before it closes, the server reads and drops what the client still sends
# (the rest of a 1 MB header after the 431, say), for at most this long and
# this many bytes: a close with bytes unread sends a reset (RST), and the
# client's recv fails (on Linux after the answer; RFC 9112 warns that a reset
# may erase an answer not yet read).
LINGER = 1.0
LINGER_BYTES = 4 * 1024 * 1024
# How many connections the system may queue before accept(): a browser
# opens several at once.
BACKLOG = 128
# The pause after a failed accept (out of file descriptors, EMFILE).
ACCEPT_PAUSE = 0.5
NO_THREAD = ("no thread could be started for it (out of memory or of "
             "threads): closed")
# The methods the server serves: Allow lists them in a 405.
ALLOW = "GET, HEAD"
# A byte that may be in a method or a header's name (RFC 9110's tchar).
TOKEN = set(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
LESSONS = [
    "basic send",
    "a buffer too small",
    "receiving in a loop",
    "the close ends the message",
    "Python objects with pickle",
    "when a recv brings less, or more, than one message",
    "a request, its answer, and the half-close",
    "many clients at once",
    "a chat room",
    "UDP datagrams keep their edges",
    "your own types, with serde",
    "names and addresses",
    "one thread and many sockets",
    "async and await",
    "your browser talks to your socket server",
]

OK = (200, "OK")
BAD = (400, "Bad Request")
NOT_FOUND = (404, "Not Found")
METHOD = (405, "Method Not Allowed")
TIMEOUT = (408, "Request Timeout")
TOO_LARGE = (413, "Content Too Large")
TOO_LONG = (431, "Request Header Fields Too Large")
NOT_IMPLEMENTED = (501, "Not Implemented")
FULL = (503, "Service Unavailable")
VERSION = (505, "HTTP Version Not Supported")


class Refusal(Exception):
    """A request the server will not serve: a status, and why in words."""

    def __init__(self, status, why):
        super().__init__(why)
        self.status, self.why = status, why


def shown(status):  # 404 Not Found
    return f"{status[0]} {status[1]}"


def server(args, out):
    with socket.socket(args.family, socket.SOCK_STREAM) as s:
        if os.name == "posix":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(args.address)
        s.listen(BACKLOG)
        out.listening(s)
        # Lesson 8's design: a thread per connection, at most --max-clients.
        places = threading.BoundedSemaphore(args.max_clients)
        threads = []
        number = 0
        while True:
            try:
                clt, adr = out.traced(s.accept, waits_for="a client")
            except OSError as error:
                # It would fail again at once: pause, not spin.
                why = ("out of file descriptors (EMFILE)"
                       if error.errno == errno.EMFILE else error.strerror)
                out.error(f"accept: {why}; trying again in {ACCEPT_PAUSE} s")
                time.sleep(ACCEPT_PAUSE)
                continue
            number += 1
            address = common.address_text(adr)
            if not places.acquire(blocking=False):
                clients = common.plural(args.max_clients, "connection")
                out.say(f"connection {number} from {address}: {shown(FULL)}, "
                        f"{clients} already (--max-clients): closing")
                # Best effort, and without reading the request: a client
                # that cannot be told is closed all the same. No linger: the
                # accept loop waits for no client.
                with clt:
                    try:
                        clt.settimeout(ACCEPT_PAUSE)
                        clt.sendall(refusal_answer(
                            FULL, f"the server is full ({clients})"))
                        clt.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                continue
            out.say(f"connection {number} from {address}")

            def run(clt=clt, number=number):
                with clt:  # closed when the thread ends
                    try:
                        label = f"connection {number}"
                        Connection(clt, label, out, args).serve()
                    except (OSError, common.LessonError) as error:
                        out.error(f"connection {number}: "
                                  f"{common.explain(error, args)}")
                    finally:
                        places.release()

            # The thread takes the socket; the loop goes back to accept.
            thread = threading.Thread(target=run, daemon=True)
            try:
                thread.start()
            except RuntimeError:  # "can't start new thread"
                clt.close()
                places.release()
                out.error(f"connection {number}: {NO_THREAD}")
                continue
            if args.once:  # then wait for its thread
                threads.append(thread)
                break
        for thread in threads:
            thread.join()


class Connection:
    """One client's connection, as its thread sees it."""

    def __init__(self, sock, label, out, args):
        self.sock, self.label, self.out, self.args = sock, label, out, args
        # Bytes received and not used yet: when one recv brings the end of a
        # request and the start of the next (lesson 6), the start waits here.
        self.unused = b""

    def serve(self):
        """Requests and answers, one after another, until the client closes,
        asks to close, stays idle too long, or sends what cannot be read."""
        args, count = self.args, 0
        while True:
            count += 1
            label = f"{self.label}, request {count}"
            try:
                head, deadline = self.read_head(args)
                if head is None:
                    return
                for line in head.split(b"\r\n"):
                    text = common.escape(line.decode("utf-8", "replace"))
                    self.out.trace(f"{label}: > {text}")
                request = parse(head)
                # A client that sent Expect: 100-continue sends its body only
                # after this (or an answer), which RFC 9110 says to send at
                # once.
                if request["expects_continue"] and request["content_length"]:
                    self.send(b"HTTP/1.1 100 Continue\r\n\r\n")
                # The body, framed by Content-Length: read, and dropped.
                self.skip_body(request, deadline)
            except Refusal as refusal:
                self.refused(label, refusal)
                return
            status, data = respond(request, label)
            self.send(data)
            self.out.say(f"{label}: {request['method']} {request['target']} "
                         f"{request['version']} -> {shown(status)}")
            if request["close"]:
                why = ("an HTTP/1.0 request: closing"
                       if request["version"] == "HTTP/1.0" else
                       "the client asked to close (Connection: close)")
                self.out.say(f"{self.label}: {why}")
                linger(self.sock)
                return

    def read_head(self, args):
        """Reads until the blank line that ends a head, within bounds: at
        most MAX_HEAD bytes, --idle for its first byte, --request-time from
        then. Returns the head and its request's deadline, or None, None
        where the client closed or stayed idle between requests."""
        idle_ends = time.monotonic() + args.idle
        # A pipelined request has begun already.
        deadline = time.monotonic() + args.request_time if self.unused else None
        searched = 0
        while True:
            # The blank line: no length header frames a head, this does.
            end = self.unused.find(b"\r\n\r\n", max(searched - 3, 0))
            if end >= 0:
                if end > MAX_HEAD:
                    break
                head, self.unused = self.unused[:end], self.unused[end + 4:]
                if deadline is None:
                    deadline = time.monotonic() + args.request_time
                return head, deadline
            # Lines that end in LF alone (as nc sends them, without -C) end
            # their head with b"\n\n": the blank line would never come.
            if self.unused.find(b"\n\n", max(searched - 3, 0)) >= 0:
                raise Refusal(BAD, "lines that end in LF alone, not CR LF")
            searched = len(self.unused)
            if searched > MAX_HEAD:
                break
            # A TLS handshake (an https:// URL) starts with this byte, and no
            # request line does: its blank line would never come.
            if self.unused[:1] == TLS_HANDSHAKE:
                raise Refusal(BAD, "a TLS handshake (https://), but this "
                              "server speaks plain HTTP")
            left = (deadline if deadline else idle_ends) - time.monotonic()
            if left < 0.001:
                if deadline:
                    raise Refusal(TIMEOUT, f"no whole head in "
                                  f"{args.request_time:g} s (--request-time)")
                self.out.say(f"{self.label}: no request in {args.idle:g} s "
                             "(--idle): closing")
                return None, None
            self.sock.settimeout(left)
            try:
                data = self.recv(RECV_SIZE, "bytes")
            except TimeoutError:
                continue
            if not data:
                self.out.say(
                    f"{self.label}: the client closed in the middle of a head, "
                    f"after {common.plural(len(self.unused), 'byte')}"
                    if self.unused else
                    f"{self.label}: the client closed the connection")
                return None, None
            self.unused += data
            if deadline is None:
                deadline = time.monotonic() + args.request_time
        raise Refusal(TOO_LONG, f"a head longer than {MAX_HEAD} bytes")

    def skip_body(self, request, deadline):
        """Reads the request's body, as many bytes as its Content-Length
        says, and drops them: what comes after them is the next request."""
        length = left = request["content_length"]
        while True:
            here = min(left, len(self.unused))
            self.unused, left = self.unused[here:], left - here
            if not left:
                return
            wait = deadline - time.monotonic()
            if wait < 0.001:
                raise Refusal(TIMEOUT, f"the body stopped at {length - left} "
                              f"of {length} bytes")
            self.sock.settimeout(wait)
            try:
                data = self.recv(min(RECV_SIZE, left), "the body")
            except TimeoutError:
                continue
            if not data:
                why = (f"the client closed after {length - left} of {length} "
                       "body bytes")
                self.out.say(f"{self.label}: {why}")
                raise Refusal(BAD, why)
            self.unused += data

    def refused(self, label, refusal):
        """Answers a request the server will not serve, and closes."""
        self.out.say(f"{label}: {refusal.why} -> {shown(refusal.status)}: "
                     "closing")
        try:  # best effort: a client that went away cannot be told
            self.send(refusal_answer(refusal.status, refusal.why))
        except OSError:
            pass
        linger(self.sock)

    def recv(self, size, waits_for):
        data = self.out.traced(self.sock.recv, size, waits_for=waits_for,
                               label=f"{self.label}: ")
        if data:
            self.out.hex("received", data)
        return data

    def send(self, data):
        # An answer the client does not take waits at most this long.
        self.sock.settimeout(self.args.request_time)
        try:
            self.out.traced(self.sock.sendall, data, waits_for="room",
                            label=f"{self.label}: ")
        except TimeoutError:
            raise common.LessonError(
                f"the client took no answer in {self.args.request_time:g} s "
                "(--request-time): closing") from None
        self.out.hex("sent", data)


def parse(head):
    """The request line and headers of a head, checked: what the server will
    not read is a Refusal, with its status."""
    # An empty line before the request line is ignored (RFC 9112, 2.2): some
    # clients end a body with an extra CR LF.
    lines = head.removeprefix(b"\r\n").split(b"\r\n")
    for line in lines:
        for byte in b"\0\r\n":
            if byte in line:
                raise Refusal(BAD, f"a byte {excerpt(bytes([byte]))} in the "
                              f"line {excerpt(line)}")
    parts = lines[0].split(b" ")
    if len(parts) != 3:
        raise Refusal(BAD, f"{excerpt(lines[0])} is not METHOD PATH VERSION")
    method, target, version = parts
    if not method or not set(method) <= TOKEN:
        raise Refusal(BAD, f"the method {excerpt(method)} is no word")
    # HTTP/1.0, 1.1, and a higher 1.x read as 1.1 (RFC 9110, 2.5); another
    # major version, HTTP/2's say, is one this server does not speak.
    digits = version.removeprefix(b"HTTP/").split(b".")
    if (not version.startswith(b"HTTP/") or len(digits) != 2
            or not all(len(d) == 1 and d.isdigit() for d in digits)):
        raise Refusal(BAD, f"the version {excerpt(version)} is not HTTP/1.x")
    if digits[0] != b"1":
        raise Refusal(VERSION, f"the version {excerpt(version)} is not "
                      "HTTP/1.x")
    path = path_of(method, target)
    if path is None:
        raise Refusal(BAD, f"the target {excerpt(target)} is not /PATH, nor "
                      "http://HOST/PATH")
    if not all(0x21 <= b < 0x7f for b in target):
        raise Refusal(BAD, f"the path {excerpt(target)} is not printable "
                      "ASCII")
    request = {
        "method": method.decode(), "target": target.decode(),
        "path": path.decode(), "version": version.decode(),
        "content_length": 0, "expects_continue": False,
        # HTTP/1.0 closes after each answer, unless it asks otherwise; this
        # server does not offer it the choice.
        "close": version == b"HTTP/1.0",
    }
    hosts, lengths = 0, []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            raise Refusal(BAD, f"the header {excerpt(line)} has no colon")
        if not name or not set(name) <= TOKEN:
            raise Refusal(BAD, f"the header name {excerpt(name)} is no word")
        value = value.strip(b" \t")
        name = name.decode().lower()
        if name == "host":
            hosts += 1
        elif name == "content-length":
            lengths.append(value)
        elif name == "transfer-encoding":
            raise Refusal(NOT_IMPLEMENTED, "a Transfer-Encoding, which this "
                          "server cannot read")
        # An HTTP/1.0 client is sent no 100 (RFC 9110, 10.1.1).
        elif name == "expect" and version != b"HTTP/1.0":
            request["expects_continue"] |= value.lower() == b"100-continue"
        elif name == "connection":
            tokens = (t.strip(b" \t").lower() for t in value.split(b","))
            request["close"] |= b"close" in tokens
    if request["version"] == "HTTP/1.1" and hosts != 1:
        raise Refusal(BAD, f"{hosts} Host headers, not 1")
    if lengths:
        first = lengths[0]
        digits = first.isdigit() and first.isascii()
        if not digits or any(length != first for length in lengths):
            raise Refusal(BAD, f"a Content-Length of {excerpt(first)}")
        # Too many digits for int() (over 4300) is too large too.
        number = first.lstrip(b"0") or b"0"
        length = int(number) if len(number) <= 20 else None
        if length is None or length > MAX_BODY:
            raise Refusal(TOO_LARGE, f"a Content-Length of {excerpt(first)}, "
                          f"over {MAX_BODY} bytes")
        request["content_length"] = length
    return request


def respond(request, label):
    """The answer to a request that parsed, and its status: the page at /, a
    404 anywhere else, a 405 for a method other than GET and HEAD."""
    path = request["path"]
    if request["method"] in ("GET", "HEAD") and path == "/":
        status, body = OK, page(label)
    elif request["method"] in ("GET", "HEAD"):
        status = NOT_FOUND
        body = error_page(status, (
            f"No page at <code>{html_escape(path)}</code>. This server serves "
            'no files: its one page is at <a href="/">/</a>.'))
    else:
        status = METHOD
        body = error_page(status, "This server answers GET and HEAD only.")
    data = answer(status, body, request["close"])
    if request["method"] == "HEAD":
        # The same head as a GET's, Content-Length too, and no body.
        data = data[: len(data) - len(body.encode())]
    return status, data


def refusal_answer(status, why):
    """The answer to a request the server will not serve: it closes after."""
    # As the log says it: a capital would make b'GET' read B'GET'.
    why = html_escape(f"Refused: {why}.")
    return answer(status, error_page(status, why), True)


def answer(status, body, close):
    """An answer: the status line, headers, the blank line, and the body,
    whose length Content-Length gives."""
    body = body.encode()
    head = (f"HTTP/1.1 {shown(status)}\r\n"
            f"Date: {email.utils.formatdate(usegmt=True)}\r\n"
            "Content-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n")
    if status == METHOD:
        head += f"Allow: {ALLOW}\r\n"
    if close:
        head += "Connection: close\r\n"
    return (head + "\r\n").encode() + body


def page(label):
    """The page at /: the lessons, and which request of which connection it
    answered, when."""
    lessons = "".join(f"<li>Lesson {number}: {title}</li>\n"
                      for number, title in enumerate(LESSONS, 1))
    served = email.utils.formatdate(usegmt=True)
    return ("<!DOCTYPE html>\n"
            '<html lang="en">\n'
            "<head>\n"
            '<meta charset="utf-8">\n'
            "<title>socket-lessons</title>\n"
            "<style>body { font-family: sans-serif; margin: 2em; }</style>\n"
            "</head>\n"
            "<body>\n"
            "<h1>Served by your own socket server</h1>\n"
            "<p>Lesson 15 read your request with recv() and wrote this page\n"
            "with send(): no HTTP library, no files.</p>\n"
            f"<ol>\n{lessons}</ol>\n"
            f"<p>{label[0].upper()}{label[1:]}, served at {served}.</p>\n"
            "</body>\n"
            "</html>\n")


def error_page(status, why):
    """A page that says what went wrong; why is HTML already."""
    return ("<!DOCTYPE html>\n"
            '<html lang="en">\n'
            f'<head><meta charset="utf-8"><title>{shown(status)}</title>'
            "</head>\n"
            f"<body><h1>{shown(status)}</h1><p>{why}</p></body>\n"
            "</html>\n")


def path_of(method, target):
    """The path a request target names, without its query: the target itself
    in the origin form (/page?q=1); in the absolute form (http://host/page,
    which RFC 9112 says a server MUST accept), from the first / after the
    host; * for OPTIONS (the asterisk form, of the server as a whole). None
    for any other target."""
    if target.startswith(b"/") or (method == b"OPTIONS" and target == b"*"):
        path = target
    else:
        scheme = next((scheme for scheme in (b"http://", b"https://")
                       if target.lower().startswith(scheme)), None)
        if scheme is None:
            return None
        host_and_path = target[len(scheme):]
        at = host_and_path.find(b"/")
        path = host_and_path[at:] if at >= 0 else b"/"
    return path.split(b"?")[0]


def html_escape(text):
    for plain, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"),
                           ('"', "&quot;"), ("'", "&#39;")):
        text = text.replace(plain, escaped)
    return text


def excerpt(data):
    """A peer's bytes, safe to print: the repr of at most 40 of them."""
    return repr(data[:40]) + ("..." if len(data) > 40 else "")


def linger(sock):
    """Ends a connection without destroying the last answer: shuts down the
    sending half (a FIN, after the answer), then reads and drops what the
    client still sends, until it closes too, for at most LINGER seconds and
    LINGER_BYTES bytes. A close with bytes unread would send a reset."""
    try:
        sock.shutdown(socket.SHUT_WR)
        ends, dropped = time.monotonic() + LINGER, 0
        while dropped < LINGER_BYTES and (left := ends - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data = sock.recv(RECV_SIZE)
            except TimeoutError:
                continue
            if not data:
                return
            dropped += len(data)
    except OSError:
        pass


def client(args, out):
    ends = time.monotonic() + args.deadline
    with socket.socket(args.family, socket.SOCK_STREAM) as s:
        out.say(f"connecting to {common.address_text(args.address)}")
        reader = Reader(s, args, ends, out)
        reader.wait(lambda: out.traced(s.connect, args.address,
                                       waits_for="the handshake"))
        paths = args.paths or ["/"]
        for index, path in enumerate(paths):
            # The last request asks the server to close after its answer.
            last = index + 1 == len(paths)
            close = "Connection: close\r\n" if last else ""
            request = (f"GET {path} HTTP/1.1\r\n"
                       f"Host: {common.address_text(args.address)}\r\n"
                       "User-Agent: lesson_15\r\n"
                       f"{close}\r\n").encode()
            out.traced(s.sendall, request, waits_for="room")
            out.hex("sent", request)
            out.say(f"sent GET {path} HTTP/1.1, {len(request)} bytes")
            if reader.answer() and not last:
                out.say("the server closes the connection: no more requests")
                break


class Reader:
    """What the client reads answers with."""

    def __init__(self, sock, args, ends, out):
        self.sock, self.args, self.ends, self.out = sock, args, ends, out
        self.unused = b""

    def answer(self):
        """Reads one answer, its head to the blank line and its body as long
        as its Content-Length says, and prints it; returns whether the server
        closes the connection after it."""
        while (end := self.unused.find(b"\r\n\r\n")) < 0:
            if len(self.unused) > MAX_HEAD:
                raise common.LessonError(
                    f"an answer head longer than {MAX_HEAD} bytes")
            self.recv(RECV_SIZE)
        head, self.unused = self.unused[:end], self.unused[end + 4:]
        lines = head.split(b"\r\n")
        if not lines[0].startswith(b"HTTP/1."):
            raise common.LessonError(f"{excerpt(lines[0])} is no status line")
        length, closes = None, False
        for line in lines:
            self.out.say(common.escape(line.decode("utf-8", "replace")))
            name, colon, value = line.partition(b":")
            value = value.strip(b" \t").decode("utf-8", "replace")
            if colon and name.lower() == b"content-length":
                # ASCII digits only (isdigit() takes "²" too), and not so
                # many that int() refuses them (4300).
                number = value.lstrip("0") or "0"
                length = (int(number) if value.isascii() and value.isdigit()
                          and len(number) <= 20 else None)
            if colon and name.lower() == b"connection":
                closes |= value.lower() == "close"
        if length is None or length > MAX_ANSWER:
            raise common.LessonError(
                f"an answer without a Content-Length of at most {MAX_ANSWER}: "
                "this client reads no other framing")
        while len(self.unused) < length:
            self.recv(length - len(self.unused))
        body, self.unused = self.unused[:length], self.unused[length:]
        self.out.say(f"a body of {common.plural(length, 'byte')}:")
        for line in body.decode("utf-8", "replace").splitlines():
            self.out.say(f"  {common.escape(line)}")
        return closes

    def wait(self, call):
        """call(), waiting --wait, or what is left of --deadline if less;
        when it runs out, the error names which did."""
        gave_up = common.LessonError(
            f"gave up after {self.args.deadline:g} s in all (--deadline)")
        left = self.ends - time.monotonic()
        if left < 0.001:
            raise gave_up
        wait = min(self.args.wait, left)
        self.sock.settimeout(wait)
        try:
            return call()
        except TimeoutError:
            if wait < self.args.wait:  # the deadline cut this wait short
                raise gave_up from None
            raise

    def recv(self, room):
        """One recv of at most room bytes, added to self.unused; an error if
        the server closed, or sent nothing within --wait (or --deadline)."""
        data = self.wait(lambda: self.out.traced(
            self.sock.recv, min(room, RECV_SIZE), waits_for="bytes"))
        if not data:
            raise common.LessonError(
                "the server closed before the end of its answer")
        self.out.hex("received", data)
        self.unused += data


def some_seconds(text):
    """Seconds, but not 0: --request-time bounds each send too, and a timeout
    of 0 would make the socket wait for nothing (non-blocking)."""
    value = common.seconds(text)
    if not value:
        raise argparse.ArgumentTypeError("expected more than 0 seconds")
    return value


def path(text):
    """A path for --path: /, then printable ASCII, as a request line needs."""
    if (text.startswith("/") and all(0x21 <= ord(c) < 0x7f for c in text)
            and len(text) <= 1000):
        return text
    raise argparse.ArgumentTypeError(
        "a path starts with / and is printable ASCII, without spaces, at most "
        "1000 bytes")


if __name__ == "__main__":
    top, server_options, client_options = common.parser(
        "lesson_15", "your browser talks to your socket server: HTTP/1.1 by "
        "hand", port=4115, wait=10.0)
    server_options.add_argument(
        "--max-clients", type=common.whole(1, 1000), default=8, metavar="N",
        help="how many connections it serves at once")
    server_options.add_argument(
        "--idle", type=common.seconds, default=5.0, metavar="SECONDS",
        help="how long a connection may wait for its next request")
    server_options.add_argument(
        "--request-time", type=some_seconds, default=10.0,
        metavar="SECONDS",
        help="how long a request may take to arrive, from its first byte")
    client_options.add_argument(
        "--path", dest="paths", action="append", type=path, metavar="PATH",
        help="a path to GET (again for more, on the same connection; "
        "default: /)")
    common.patience(client_options)
    common.main(top, server, client)
