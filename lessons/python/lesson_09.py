"""Lesson 9: a chat room, on lesson 5's framing (a 10-character length
header, then the bytes) carrying UTF-8 text.

A client's first message is its name; each later one is a line it says.
For each line the server sends every other member two messages: the
sender's name, then the text. Joins and leaves come the same way, from the
name "room". Same command line as lessons/lesson_09.rs.

The Rust server is threads and channels; this one is one thread with
non-blocking sockets and selectors: it reads whoever has sent something and
writes to whoever has room for more.
"""

import collections
import errno
import os
import selectors
import socket
import sys
import threading
import time

import common
from common import LessonError, escape

HEADERSIZE = 10
ROOM = "room"  # joins and leaves are announced under it; no client may take it
MAX_NAME = 32  # bytes
MAX_MESSAGE = 4096  # bytes: a name or a line
QUEUE = 64  # pairs that may wait for one member beyond what its socket took
NAME_WAIT = 10.0  # seconds a new connection has, in all, to send its name
PATIENCE = 2.0  # seconds an outbox may stay full before its member is dropped
SEND_WAIT = 10.0  # seconds a member's socket may take nothing
CLOSE_WAIT = 1.0  # seconds what a refused client still sends is read
# How many connections the system may hold for the room before it accepts
# them (listen's backlog): with 5, a burst of clients is half refused.
BACKLOG = 128
# Code points str.isprintable lets through that show nothing (fillers,
# variation selectors, a blank braille cell): "room" and one of these would
# pass for the room.
INVISIBLE = [(0x34F, 0x34F), (0x115F, 0x1160), (0x17B4, 0x17B5),
             (0x180B, 0x180F), (0x2800, 0x2800), (0x3164, 0x3164),
             (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0xE0100, 0xE01EF)]


def frame(data):
    return f"{len(data):<{HEADERSIZE}}".encode() + data


def pair(name, text):
    """A name and a text as two framed messages, in one buffer."""
    return frame(name.encode("utf-8")) + frame(text.encode("utf-8"))


def header_length(header):
    """ASCII digits with spaces around them. A header is a promise from the
    peer, not a fact: it is checked before the message is waited for."""
    digits = header.strip(b" ")
    if not digits.isdigit():
        raise LessonError(f"the header {header!r} is not a length: it must "
                          f"be digits, padded with spaces to {HEADERSIZE} "
                          "characters")
    if int(digits) > MAX_MESSAGE:
        raise LessonError(f"the header announces a message of {int(digits)} "
                          f"bytes, more than the {MAX_MESSAGE} this reader "
                          "accepts")
    return int(digits)


def messages(buffer):
    """Takes each whole message off the front of buffer (a bytearray of what
    recv returned), as text."""
    while len(buffer) >= HEADERSIZE:
        end = HEADERSIZE + header_length(bytes(buffer[:HEADERSIZE]))
        if len(buffer) < end:
            return
        data = bytes(buffer[HEADERSIZE:end])
        del buffer[:end]
        try:
            yield data.decode("utf-8")
        except UnicodeDecodeError:
            raise LessonError("a message not UTF-8") from None


def cut(buffer):
    """When the peer has closed: why the stream was cut, if it was."""
    if not buffer:
        return None
    if len(buffer) < HEADERSIZE:
        got, expected, what = len(buffer), HEADERSIZE, "header"
    else:
        got = len(buffer) - HEADERSIZE
        expected, what = header_length(bytes(buffer[:HEADERSIZE])), "message"
    return (f"the connection closed after {got} of the {expected} bytes "
            f"of a {what}")


def why(error):
    """Why a connection ended, in the room's words."""
    if isinstance(error, LessonError):
        return str(error)
    if error.errno == errno.ECONNRESET:
        return "its connection was reset"
    if error.errno == errno.EPIPE:
        return "it closed its connection"
    return error.strerror or str(error)


# --- The server ---------------------------------------------------------------


class Connection:
    def __init__(self, number, sock):
        self.number, self.sock = number, sock
        self.name = None  # until it has joined
        self.inbox = bytearray()  # what came, not yet a whole message
        self.outbox = collections.deque()  # pairs its socket has not taken
        # By when it must have sent its name, its socket taken bytes, or a
        # refused client closed; None: no limit.
        self.deadline = time.monotonic() + NAME_WAIT  # in all, not per recv
        self.closing = False  # out of the room: send what waits, then close
        self.ended = False  # whether it has closed its side
        # When its socket last took bytes, or something came to wait for it;
        # None while nothing waits.
        self.took = None
        self.events = 0  # what the selector watches it for


def server(args, out):
    with socket.socket(args.family, socket.SOCK_STREAM) as s:
        # So that a restarted server may bind at once (Unix only: Windows
        # gives SO_REUSEADDR another meaning).
        if os.name == "posix":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(args.address)
        s.listen(BACKLOG)
        out.listening(s)
        # Correction: the tutorial blocks in accept and recv; a room cannot
        # wait for one client, so no call here may wait, select() aside.
        s.setblocking(False)
        Room(s, args, out).run()


class Room:
    def __init__(self, listener, args, out):
        self.listener, self.args, self.out = listener, args, out
        self.selector = selectors.DefaultSelector()
        self.selector.register(listener, selectors.EVENT_READ)
        self.connections = {}  # socket -> Connection, in the room or not
        self.count = 0
        self.joined = False  # whether anyone has joined yet (for --once)
        self.paused = False  # while an outbox is full, no one is read

    def members(self):
        return [c for c in self.connections.values()
                if c.name and not c.closing]

    def run(self):
        while not (self.args.once and self.joined and not self.members()):
            deadlines = [c.deadline for c in self.connections.values()
                         if c.deadline]
            deadlines += [m.took + PATIENCE for m in self.members()
                          if len(m.outbox) >= QUEUE]
            wait = None
            if deadlines:
                wait = max(0, min(deadlines) - time.monotonic())
            events = self.selector.select(wait)
            if not events:
                # The wait ran out, or this process was stopped through it:
                # a last look at what came meanwhile.
                events = self.selector.select(0)
            for key, mask in events:
                conn = self.connections.get(key.fileobj)
                if key.fileobj is self.listener:
                    self.accept()
                elif conn and mask & selectors.EVENT_READ:
                    self.read(conn)
                if conn and mask & selectors.EVENT_WRITE:
                    if conn.sock in self.connections:
                        self.flush(conn)
            # After reading: a name that came while this process was
            # stopped still counts.
            for conn in list(self.connections.values()):
                if conn.deadline and time.monotonic() >= conn.deadline:
                    self.expire(conn)
            self.check_outboxes()
        self.out.say("the room is empty: closing it (--once)")

    def accept(self):
        try:
            sock, address = self.listener.accept()
        except OSError as error:
            # Out of file descriptors, say: pause, not a busy loop.
            self.out.error(f"accept failed: {common.explain(error, self.args)}")
            time.sleep(0.1)
            return
        self.count += 1
        where = f"connection {self.count} from {common.address_text(address)}"
        held = [c for c in self.connections.values() if not c.closing]
        full = len(held) >= self.args.max_clients
        if full:
            self.out.say(f"{where}: refused, the room holds "
                         f"{self.args.max_clients} (--max-clients)")
        else:
            self.out.say(where)
        sock.setblocking(False)
        self.connections[sock] = conn = Connection(self.count, sock)
        self.watch(conn)
        if full:  # told, and closed well, as a refused name is
            self.close(conn, CLOSE_WAIT)
            self.send(conn, pair(ROOM, "the room is full"))

    def read(self, conn):
        try:
            data = conn.sock.recv(MAX_MESSAGE)
        except BlockingIOError:
            return
        except OSError as error:
            return self.leave(conn, why(error))
        conn.ended = not data
        if conn.closing:  # what it still sends is dropped
            if conn.ended:
                self.flush(conn)
            return
        conn.inbox += data
        try:
            if not data:
                return self.leave(conn, cut(conn.inbox))
            for text in messages(conn.inbox):
                self.said(conn, text)
                if conn.closing or conn.sock not in self.connections:
                    return
        except LessonError as error:
            self.leave(conn, str(error))

    def said(self, conn, text):
        if conn.name:
            self.out.say(f"{conn.name}: {escape(text)}")
            return self.broadcast(conn, conn.name, text)
        if not 1 <= len(text.encode("utf-8")) <= MAX_NAME:
            return self.refuse(conn, f"a name has 1 to {MAX_NAME} bytes")
        # A name is printed as it is ("ada joined"): nothing in it may move
        # the cursor, reverse the text or hide, around it or in it.
        trimmed = text.strip(" ")
        if trimmed == ROOM or trimmed != text or not all(map(shows, text)):
            return self.refuse(conn, f"'{shown(text)}' cannot be a name")
        if any(member.name == text for member in self.members()):
            return self.refuse(conn, f"{text} is taken")
        self.out.say(f"connection {conn.number}: {text} joined")
        self.send(conn, pair(ROOM, welcome(text, self.members())))
        self.broadcast(None, ROOM, f"{text} joined")
        conn.name, conn.deadline, self.joined = text, None, True

    def broadcast(self, sender, name, text):
        """Queues name and text for every member but the sender."""
        data = pair(name, text)
        for member in self.members():
            if member is not sender:
                self.send(member, data)

    def check_outboxes(self):
        """While an outbox is full, no one is read, so the talkers wait (TCP
        slows them down). A full outbox whose socket has taken nothing for
        PATIENCE has a member that does not read (its socket's buffers are
        full too): it is dropped. Members that stopped reading together
        cost the room PATIENCE once, not once each."""
        now, self.paused = time.monotonic(), False
        for member in self.members():
            if len(member.outbox) < QUEUE:
                continue
            if now - member.took >= PATIENCE:
                why = f"it does not read ({QUEUE} messages, {PATIENCE:g} s)"
                self.broadcast(None, ROOM, self.drop(member, why))
                continue
            self.paused = True
        for conn in list(self.connections.values()):
            self.watch(conn)

    def send(self, conn, data):
        if conn.sock in self.connections:
            if not conn.outbox:
                conn.took = time.monotonic()
            conn.outbox.append(data)
            self.flush(conn)

    def flush(self, conn):
        """Sends what waits for conn, as far as its socket takes it now."""
        progressed = False
        try:
            while conn.outbox:
                sent = conn.sock.send(conn.outbox[0])
                progressed = True
                if sent < len(conn.outbox[0]):
                    conn.outbox[0] = conn.outbox[0][sent:]
                    break
                conn.outbox.popleft()
        except BlockingIOError:
            pass
        except OSError as error:
            conn.outbox.clear()
            if not conn.closing:
                return self.leave(conn, why(error))
        if progressed:
            conn.took = time.monotonic() if conn.outbox else None
        if conn.name and not conn.closing:
            # A socket that takes nothing for SEND_WAIT is not read.
            if not conn.outbox:
                conn.deadline = None
            elif progressed or conn.deadline is None:
                conn.deadline = time.monotonic() + SEND_WAIT
        if conn.closing and not conn.outbox:
            if conn.ended:
                return self.forget(conn)
            # The last bytes are out: shutdown(SHUT_WR) sends the end of
            # the stream after them.
            try:
                conn.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        self.watch(conn)

    def watch(self, conn):
        """Has the selector watch conn for what is wanted now."""
        wanted = 0 if conn.ended or self.paused else selectors.EVENT_READ
        if conn.outbox:
            wanted |= selectors.EVENT_WRITE
        if wanted == conn.events:
            return
        if not conn.events:
            self.selector.register(conn.sock, wanted, conn)
        elif not wanted:
            self.selector.unregister(conn.sock)
        else:
            self.selector.modify(conn.sock, wanted, conn)
        conn.events = wanted

    def leave(self, conn, why):
        """conn's stream ended (why is None), or broke the protocol."""
        if conn.name is None:
            return self.refuse(conn, why or "it sent no name")
        if why is not None:
            return self.broadcast(None, ROOM, self.drop(conn, why))
        left = f"{conn.name} left"
        self.close(conn, SEND_WAIT)  # what waits for it is sent first
        self.out.say(left)
        self.broadcast(None, ROOM, left)
        self.flush(conn)

    def expire(self, conn):
        if conn.closing:
            self.forget(conn)
        elif conn.name is None:
            self.refuse(conn, f"it sent no name within {NAME_WAIT:g} s")
        else:
            self.leave(conn, f"it took nothing for {SEND_WAIT:g} s")

    def refuse(self, conn, why):
        """Tells a client why it is not let in, and closes well: after the
        refusal, the end of the stream; what the client still sends is
        read, for a second at most, so that the close is not a reset (RST),
        which could destroy the refusal before the client reads it."""
        self.out.say(f"connection {conn.number}: not let in: {why}")
        self.close(conn, CLOSE_WAIT)
        self.send(conn, pair(ROOM, f"not let in: {why}"))

    def close(self, conn, wait):
        conn.closing, conn.deadline = True, time.monotonic() + wait

    def drop(self, conn, why):
        """Cuts a member off (what waits for it is not sent); returns the
        announcement."""
        self.forget(conn)
        dropped = f"{conn.name} was dropped: {why}"
        self.out.say(dropped)
        return dropped

    def forget(self, conn):
        if self.connections.pop(conn.sock, None):
            if conn.events:
                self.selector.unregister(conn.sock)
            conn.sock.close()


def invisible(c):
    return any(first <= ord(c) <= last for first, last in INVISIBLE)


def shows(c):
    return c.isprintable() and not invisible(c)


def shown(name):
    """A name as repr shows it, and what shows nothing as a code."""
    def code(c):
        return f"\\U{ord(c):08x}" if ord(c) > 0xFFFF else f"\\u{ord(c):04x}"
    return "".join(code(c) if invisible(c) else escape(c) for c in name)


def welcome(name, members):
    """What a new member is told: who is here, if the list fits a message."""
    here = ", ".join(member.name for member in members)
    if not members:
        return f"welcome, {name}; nobody else is here"
    if len(here.encode("utf-8")) > MAX_MESSAGE // 2:
        return f"welcome, {name}; {len(members)} others are here"
    return f"welcome, {name}; here: {here}"


# --- The client ---------------------------------------------------------------


def receive(sock, buffer):
    """The next message from sock, or None when it closes between messages;
    buffer (a bytearray) keeps what came after it."""
    while True:
        for text in messages(buffer):
            return text
        data = sock.recv(MAX_MESSAGE)
        if not data:
            problem = cut(buffer)
            if problem:
                raise LessonError(problem)
            return None
        buffer += data


def receive_pair(sock, buffer):
    """The next name and text the server sends; None when it closes."""
    name = receive(sock, buffer)
    if name is None:
        return None
    text = receive(sock, buffer)
    if text is None:
        raise LessonError("the server closed between a name and its text")
    return name, text


def connect(args):
    """A socket connected to the server; each recv waits --wait at most."""
    sock = socket.socket(args.family, socket.SOCK_STREAM)
    sock.settimeout(args.wait)
    sock.connect(args.address)
    return sock


def client(args, out):
    if args.deadline is not None:
        # --deadline: whatever the client is waiting for then, it ends.
        def give_up():
            out.error(f"gave up after {args.deadline:g} s (--deadline)")
            os._exit(common.RUNTIME_ERROR)

        timer = threading.Timer(args.deadline, give_up)
        timer.daemon = True
        timer.start()
    # The demo is the scripted conversation: one command shows a room.
    if args.demo or args.script:
        return conversation(args, out)
    where = common.address_text(args.address)
    out.say(f"connecting to {where} as {escape(args.name)}")
    with connect(args) as s:
        s.sendall(frame(args.name.encode("utf-8")))
        # The room answers a name at once: a welcome, or why not.
        buffer = bytearray()
        answer = receive_pair(s, buffer)
        if answer is None:
            raise LessonError("the server closed at once")
        if answer[0] != ROOM or not answer[1].startswith("welcome, "):
            raise LessonError(escape(answer[1]))
        out.say(f"{ROOM}: {escape(answer[1])}")
        s.settimeout(None)  # from now on, a chat waits as long as people talk
        # The keyboard has a thread of its own (select() cannot watch stdin
        # on Windows), so that reading it and reading the socket happen at
        # once.
        threading.Thread(target=send_lines, args=(s, out, args),
                         daemon=True).start()
        while (got := receive_pair(s, buffer)) is not None:
            out.say(f"{escape(got[0])}: {escape(got[1])}")
        out.say("the server closed the connection")


def send_lines(sock, out, args):
    """Sends each line of stdin as a framed message, until stdin ends; then
    shutdown(SHUT_WR): the server sees the end, says we left, and closes."""
    try:
        if sys.stdin is not None:  # None: started with stdin closed
            # Unbuffered: a daemon thread inside a buffered readline when
            # the program ends makes Python abort ("Fatal Python error").
            keyboard = open(sys.stdin.fileno(), "rb", buffering=0,
                            closefd=False)
            # At most one byte more than a message may hold: enough to
            # know the line is too long, without reading all of it.
            while line := keyboard.readline(MAX_MESSAGE + 1):
                if line.endswith(b"\n"):
                    line = line[:-1].removesuffix(b"\r")
                if len(line) > MAX_MESSAGE:
                    raise LessonError(f"a line is longer than {MAX_MESSAGE} "
                                      "bytes")
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    raise LessonError("a line is not UTF-8") from None
                sock.sendall(frame(line))
    except (OSError, LessonError) as error:
        out.error(f"cannot send: {why(error)}")
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


# The demo's conversation: who says what, in order.
SCRIPT = [(0, "hello, everyone"), (1, "hi ada! the room works"),
          (2, "hello from cy"), (0, "bye for now")]


def conversation(args, out):
    """Three clients in one process, each waiting to hear the line before
    its own, so that the conversation goes the same way every time."""

    def hear(bot, sender, text):
        """Shows what the server sends, until sender says something with
        text in it."""
        name, sock, buffer = bot
        while True:
            got = receive_pair(sock, buffer)
            if got is None:
                raise LessonError(f"{name}: the server closed")
            out.say(f"{name} hears {escape(got[0])}: {escape(got[1])}")
            if got[0] == sender and text in got[1]:
                return

    bots = []
    for name in ["ada", "bob", "cy"]:
        out.say(f"{name} connects to {common.address_text(args.address)}")
        bot = (name, connect(args), bytearray())
        bot[1].sendall(frame(name.encode("utf-8")))
        hear(bot, ROOM, "welcome")
        for earlier in bots:
            hear(earlier, ROOM, f"{name} joined")
        bots.append(bot)
    for speaker, text in SCRIPT:
        name, sock, _ = bots[speaker]
        out.say(f"{name} says: {text}")
        sock.sendall(frame(text.encode("utf-8")))
        for bot in bots:
            if bot is not bots[speaker]:
                hear(bot, name, text)
    while bots:
        name, sock, buffer = bots.pop(0)
        out.say(f"{name} leaves")
        with sock:
            sock.shutdown(socket.SHUT_WR)
            # The server closes in turn, after what it had queued.
            while receive_pair(sock, buffer) is not None:
                pass
        for bot in bots:
            hear(bot, ROOM, f"{name} left")
    out.say("everyone has left")


if __name__ == "__main__":
    top, server_options, client_options = common.parser(
        "lesson_09", "a chat room", port=4109, wait=10.0, show=False)
    server_options.add_argument(
        "--max-clients", type=common.whole(1, 1000), default=16,
        metavar="N", help="how many clients the room holds")
    client_options.add_argument("--name", default="guest",
                                help="the name the others see")
    client_options.add_argument("--script", action="store_true",
                                help="play three scripted clients, as the "
                                "demo does")
    client_options.add_argument("--deadline", type=common.seconds,
                                metavar="SECONDS", help="how long the client "
                                "may run in all (without it: until the server "
                                "closes)")
    common.main(top, server, client)
