"""Lesson 9: a chat room, on lesson 5's framing (a 10-character length header,
then the bytes).

A client's first message is its name; each later one is a line it says. The
server sends every other client two messages for each line: the sender's name,
then the text. It announces joins and leaves the same way, under the name
"room".

The Rust server is threads and channels; this one is one thread with
non-blocking sockets and selectors: it reads whoever has sent something and
writes to whoever has room. Each client's outgoing messages wait in a queue;
while one is full the server reads no one (the talkers are slowed down by TCP
itself), and a client whose queue stays full is dropped. The client reads the
keyboard in a thread of its own (select() cannot watch stdin on Windows).
"""

import collections
import selectors
import socket
import sys
import threading
import time

from common import (
    Lesson,
    LessonError,
    Option,
    Wire,
    address_text,
    escape_unprintable,
    listener,
    os_error_text,
)

MAX_CLIENTS = Option(
    "--max-clients",
    ("count", 1000),
    "N",
    "16",
    "server",
    "how many clients the room holds",
)
NAME = Option(
    "--name", "text", "NAME", "guest", "client", "the name the others see"
)
SCRIPT = Option(
    "--script",
    "switch",
    "",
    "",
    "client",
    "three scripted clients talk (as in the demo)",
)

HEADERSIZE = 10
# The name the server announces joins and leaves under; no client may take it.
ROOM = "room"
MAX_NAME = 32  # the longest name, in bytes
MAX_MESSAGE = 4096  # the longest message, in bytes: a name or a line
QUEUE = 64  # how many messages may wait for one client
PATIENCE = 2  # seconds a client's queue may stay full before it is dropped
NAME_WAIT = 10  # seconds a new connection has, in all, to send its name
TICK = 0.1  # the longest select() waits, so that the waits above are kept


def frame(data):
    return f"{len(data):<{HEADERSIZE}}".encode() + data


def pair(name, text):
    """A name and a text as two framed messages, in one buffer."""
    return frame(name.encode("utf-8")) + frame(text.encode("utf-8"))


def parse_header(header):
    """ASCII digits with spaces around them, as src/framing.rs reads a
    header."""
    digits = header.decode("ascii", errors="replace").strip(" ")
    if not digits or not all("0" <= c <= "9" for c in digits):
        raise LessonError(
            f"the header {header!r} is not a length: it must be digits, "
            "padded with "
            f"spaces to {HEADERSIZE} characters"
        )
    length = int(digits)
    if length > MAX_MESSAGE:
        raise LessonError(
            f"the header announces a message of {length} bytes, more than the "
            f"{MAX_MESSAGE} this reader accepts"
        )
    return length


class Messages:
    """Framed UTF-8 messages out of whatever recv returns, in linear time;
    LessonError for a stream that is not framed text."""

    def __init__(self):
        self.pending = bytearray()
        self.start = 0  # the bytes before it are handed out already
        # The length of the message being received, once its header is in.
        self.length = None

    def push(self, data):
        if self.start * 2 >= len(self.pending):
            del self.pending[
                : self.start
            ]  # each byte is moved at most once more
            self.start = 0
        self.pending += data

    def next(self):
        """The next message, or None until more bytes arrive."""
        if self.length is None:
            if len(self.pending) - self.start < HEADERSIZE:
                return None
            self.length = parse_header(
                bytes(self.pending[self.start : self.start + HEADERSIZE])
            )
            self.start += HEADERSIZE
        if len(self.pending) - self.start < self.length:
            return None
        body = bytes(self.pending[self.start : self.start + self.length])
        self.start += self.length
        self.length = None
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise LessonError("a message that is not UTF-8 text") from None

    def finish(self):
        """When the peer closed: nothing, if it closed between messages."""
        left = len(self.pending) - self.start
        if self.length is not None:
            raise LessonError(
                f"the connection closed after {left} of the {self.length} "
                "bytes of "
                "a message"
            )
        if left:
            raise LessonError(
                f"the connection closed after {left} of the {HEADERSIZE} "
                "bytes of a "
                "header"
            )

    def receive(self, wire):
        """The next message from a socket, or None when the peer closes
        between messages."""
        while True:
            text = self.next()
            if text is not None:
                return text
            data = wire.recv(MAX_MESSAGE)
            if not data:
                self.finish()
                return None
            self.push(data)

    def receive_pair(self, wire):
        """The next name and text the server sends, or None when it closes."""
        name = self.receive(wire)
        if name is None:
            return None
        text = self.receive(wire)
        if text is None:
            raise LessonError("the server closed between a name and its text")
        return name, text


# -----------------------------------------------------------------------------
# The server


class Member:
    """A connection, named once it has joined."""

    def __init__(self, number, wire):
        self.number = number
        self.wire = wire
        self.name = None
        self.messages = Messages()
        self.outgoing = collections.deque()  # framed pairs waiting to be sent
        self.sending = None  # what is left of the pair being sent
        self.events = 0  # what the selector watches it for
        self.full_since = None  # when its queue filled up


def name_problem(name):
    if not 1 <= len(name.encode("utf-8")) <= MAX_NAME:
        return f"a name has 1 to {MAX_NAME} bytes"
    # A name is printed as it is ("... joined"): nothing in it may move the
    # cursor, reverse the text or hide, which escaping would show.
    if escape_unprintable(name) != name or name == ROOM:
        return f"'{escape_unprintable(name)}' cannot be a name"
    return None


class Room:
    def __init__(self, config, out, sock):
        self.out = out
        self.listener = sock
        self.max_clients = config.extra[MAX_CLIENTS.flag]
        self.once = config.once
        self.selector = selectors.DefaultSelector()
        self.selector.register(sock.sock, selectors.EVENT_READ)
        self.connections = {}  # number -> Member, named or not yet
        self.members = {}  # number -> Member, named: the room
        self.number = 0
        self.closed = False

    def run(self):
        while not self.closed:
            self.check()
            for key, mask in self.selector.select(timeout=TICK):
                if self.closed:
                    break
                if key.data is None:
                    self.accept()
                    continue
                member = self.connections.get(key.data)
                if member is not None and mask & selectors.EVENT_READ:
                    self.read(member)
                if member is not None and mask & selectors.EVENT_WRITE:
                    if member.number in self.connections:
                        self.write(member)
        for member in list(self.connections.values()):
            self.forget(member)

    def accept(self):
        self.number += 1
        try:
            wire, address = self.listener.accept()
        except OSError as error:
            self.out.error(f"accept failed: {os_error_text(error)}")
            return
        address = address_text(address)
        if len(self.connections) >= self.max_clients:
            self.out.say(
                f"connection {self.number} from {address}: refused, the room "
                "holds "
                f"{self.max_clients} (--max-clients)"
            )
            try:
                wire.sendall(pair(ROOM, "the room is full"))
            except OSError:
                pass
            wire.close()
            return
        self.out.say(f"connection {self.number} from {address}")
        wire.sock.setblocking(False)
        wire.set_read_timeout(
            0.0
        )  # select() has said there is something: recv never waits
        # In all, not for each recv: a byte every few seconds must not hold
        # a place in the room for hours.
        wire.set_deadline(NAME_WAIT)
        member = Member(self.number, wire)
        self.connections[member.number] = member
        self.watch(member, False)

    def watch(self, member, paused):
        """Watches a socket for what is wanted now: reading unless paused,
        writing if something waits to be sent."""
        want = 0 if paused else selectors.EVENT_READ
        if member.sending is not None or member.outgoing:
            want |= selectors.EVENT_WRITE
        if want == member.events:
            return
        if member.events == 0:
            self.selector.register(member.wire.sock, want, member.number)
        elif want == 0:
            self.selector.unregister(member.wire.sock)
        else:
            self.selector.modify(member.wire.sock, want, member.number)
        member.events = want

    def check(self):
        """Refuses connections that sent no name in time; while a queue is
        full, reads no one; drops a member whose queue stays full for
        PATIENCE seconds."""
        now = time.monotonic()
        for member in list(self.connections.values()):
            deadline = member.wire.deadline
            if member.name is None and deadline and now >= deadline[0]:
                self.out.trace(
                    f"recv({MAX_MESSAGE}) -> nothing within what was left of "
                    f"its {NAME_WAIT} s in all"
                )
                self.refuse(member, str(member.wire.past_deadline()))
        for number in sorted(self.members):
            member = self.members.get(number)
            if member is None:
                continue
            if len(member.outgoing) < QUEUE:
                member.full_since = None
            elif member.full_since is None:
                member.full_since = now
            elif now - member.full_since >= PATIENCE:
                self.drop(
                    member,
                    f"it does not read ({QUEUE} messages waited {PATIENCE} s)",
                )
        paused = any(
            member.full_since is not None for member in self.members.values()
        )
        for member in self.connections.values():
            self.watch(member, paused)

    def read(self, member):
        try:
            data = member.wire.recv(MAX_MESSAGE)
        except LessonError as error:
            if error.timeout:
                return  # nothing after all
            if error.past_deadline:
                return  # no name in time: check() refuses it
            raise
        except OSError as error:
            self.leave(member, os_error_text(error))
            return
        try:
            if not data:
                member.messages.finish()
                self.leave(member, None)
                return
            member.messages.push(data)
            while member.number in self.connections and not self.closed:
                text = member.messages.next()
                if text is None:
                    break
                self.said(member, text)
        except LessonError as error:
            self.leave(member, str(error))

    def leave(self, member, why):
        """The connection ended (why is None) or broke the protocol."""
        if member.name is None:
            self.refuse(member, "it sent no name" if why is None else why)
        else:
            self.drop(member, why)

    def said(self, member, text):
        if member.name is not None:
            self.out.say(
                f"{escape_unprintable(member.name)}: {escape_unprintable(text)}"
            )
            self.broadcast(member.number, member.name, text)
            return
        problem = name_problem(text)
        if problem is not None:
            self.refuse(member, problem)
            return
        if any(other.name == text for other in self.members.values()):
            self.out.say(f"connection {member.number}: {text} is taken")
            self.tell(member, f"not let in: {text} is taken")
            self.forget(member)
            return
        here = [self.members[number].name for number in sorted(self.members)]
        listed = ", ".join(here)
        # The list must fit in a message.
        if not here:
            welcome = f"welcome, {text}; nobody else is here"
        elif len(listed.encode("utf-8")) > MAX_MESSAGE // 2:
            welcome = f"welcome, {text}; {len(here)} others are here"
        else:
            welcome = f"welcome, {text}; here: {listed}"
        self.out.say(f"connection {member.number}: {text} joined")
        member.name = text
        member.wire.clear_deadline()
        member.outgoing.append(pair(ROOM, welcome))
        self.broadcast(None, ROOM, f"{text} joined")
        self.members[member.number] = member

    def broadcast(self, sender, name, text):
        """Queues name and text for every member but the sender."""
        data = pair(name, text)
        for number, member in self.members.items():
            if number != sender:
                member.outgoing.append(data)

    def write(self, member):
        if member.sending is None:
            if not member.outgoing:
                return
            member.sending = memoryview(member.outgoing.popleft())
        try:
            sent = member.wire.send(member.sending)
        except BlockingIOError:
            return
        except OSError:
            self.drop(member, "its connection failed")
            return
        member.sending = (
            member.sending[sent:] if sent < len(member.sending) else None
        )

    def tell(self, member, text):
        """Best effort: a refusal, before the connection is closed."""
        try:
            member.wire.sendall(pair(ROOM, text))
        except OSError:
            pass

    def refuse(self, member, why):
        if member.number not in self.connections:
            return
        self.out.say(f"connection {member.number}: not let in: {why}")
        self.tell(member, f"not let in: {why}")
        self.forget(member)

    def drop(self, member, why):
        """A member leaves (why is None) or is dropped; the others are told."""
        if self.members.get(member.number) is not member:
            return
        self.forget(member)
        left = (
            f"{member.name} left"
            if why is None
            else f"{member.name} was dropped: {why}"
        )
        self.out.say(escape_unprintable(left))
        self.broadcast(None, ROOM, left)
        if self.once and not self.members:
            self.out.say("the room is empty: closing it (--once)")
            self.closed = True

    def forget(self, member):
        self.connections.pop(member.number, None)
        self.members.pop(member.number, None)
        if member.events:
            self.selector.unregister(member.wire.sock)
            member.events = 0
        member.wire.close()


def server(config, out):
    s = listener(config, out)
    s.sock.setblocking(False)
    try:
        Room(config, out, s).run()
    finally:
        s.close()


# -----------------------------------------------------------------------------
# The client


def client(config, out):
    # The demo is the scripted conversation: one command shows a room.
    if config.demo or config.extra.get(SCRIPT.flag):
        conversation(config, out)
        return
    name = config.extra[NAME.flag]
    # A chat waits as long as people talk: no deadline on this socket.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server = Wire(sock, out)
    try:
        out.say(f"connecting to {address_text(config.server)} as {name}")
        server.connect(config.server, config.wait)
        server.sendall(frame(name.encode("utf-8")))

        # The keyboard has a thread of its own, so that reading it and reading
        # the socket happen at once.
        keyboard = Wire(sock, out)

        def send_lines():
            try:
                read_lines(keyboard)
            except OSError as error:
                out.error(f"cannot send: {os_error_text(error)}")
            except LessonError as error:
                out.error(f"cannot send: {error}")
            # End of input: no more lines from this side. The server sees the
            # end of the stream, and says we left.
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        threading.Thread(target=send_lines, daemon=True).start()
        messages = Messages()
        while True:
            got = messages.receive_pair(server)
            if got is None:
                break
            out.say(
                f"{escape_unprintable(got[0])}: {escape_unprintable(got[1])}"
            )
        out.say("the server closed the connection")
    finally:
        server.close()


def read_lines(server):
    """Sends each line of stdin as a framed message, until stdin ends."""
    stdin = sys.stdin.buffer
    while True:
        # At most one byte more than a message may hold: enough to know the
        # line is too long, without reading all of it.
        line = stdin.readline(MAX_MESSAGE + 1)
        if not line:
            return
        text = line
        if text.endswith(b"\n"):
            text = text[:-1]
            if text.endswith(b"\r"):
                text = text[:-1]
        if len(text) > MAX_MESSAGE:
            raise LessonError(f"a line is longer than {MAX_MESSAGE} bytes")
        try:
            text.decode("utf-8")
        except UnicodeDecodeError:
            raise LessonError("a line is not UTF-8") from None
        server.sendall(frame(text))


# The demo's conversation: who says what, in order.
SCRIPT_LINES = [
    (0, "hello, everyone"),
    (1, "hi ada! the room works"),
    (2, "hello from cy"),
    (0, "bye for now"),
]
SCRIPT_NAMES = ["ada", "bob", "cy"]


class Bot:
    """A scripted client."""

    def __init__(self, name, server):
        self.name = name
        self.server = server
        self.messages = Messages()

    def hear(self, out, sender, text):
        """Reads and shows what the server sends, until a message from
        `sender` that contains `text`."""
        while True:
            got = self.messages.receive_pair(self.server)
            if got is None:
                raise LessonError(
                    f"{self.name}: the server closed the connection"
                )
            name, said = got
            out.say(
                f"{self.name} hears {escape_unprintable(name)}: "
                f"{escape_unprintable(said)}"
            )
            if name == sender and text in said:
                return


def conversation(config, out):
    """Three clients in one process, each waiting to hear the line before its
    own, so that the conversation goes the same way every time."""
    bots = []
    try:
        for name in SCRIPT_NAMES:
            server = config.wire(
                socket.socket(socket.AF_INET, socket.SOCK_STREAM), out
            )
            bot = Bot(name, server)
            out.say(f"{name} connects to {address_text(config.server)}")
            server.connect(config.server, config.wait)
            server.set_read_timeout(config.wait)
            server.sendall(frame(name.encode("utf-8")))
            bot.hear(out, ROOM, "welcome")
            for earlier in bots:
                earlier.hear(out, ROOM, f"{name} joined")
            bots.append(bot)
        for speaker, text in SCRIPT_LINES:
            name = bots[speaker].name
            out.say(f"{name} says: {text}")
            bots[speaker].server.sendall(frame(text.encode("utf-8")))
            for index, bot in enumerate(bots):
                if index != speaker:
                    bot.hear(out, name, text)
        while bots:
            leaving = bots.pop(0)
            out.say(f"{leaving.name} leaves")
            leaving.server.sock.shutdown(socket.SHUT_WR)
            got = leaving.messages.receive_pair(leaving.server)
            leaving.server.close()
            if got is not None:
                raise LessonError(
                    f"{leaving.name} heard {got[0]}: {got[1]} after leaving"
                )
            for bot in bots:
                bot.hear(out, ROOM, f"{leaving.name} left")
        out.say("everyone has left")
    finally:
        for bot in bots:
            bot.server.close()


LESSON = Lesson(
    "lesson_09",
    "a chat room",
    4109,
    server,
    client,
    options=[MAX_CLIENTS, NAME, SCRIPT],
)

if __name__ == "__main__":
    LESSON.main()
