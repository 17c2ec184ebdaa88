"""Lesson 13: one thread, many sockets.

Lesson 9's chat room again, the same protocol byte for byte, served by one
thread: every socket is non-blocking, and selectors (epoll on Linux) says
which of them are ready; the loop reads whoever has sent something and
writes to whoever has room for more. No call waits but select().

The client shows what non-blocking means: a recv with nothing there, a send
to a peer that does not read. Every lesson 9 client joins the room too.
Same command line as lessons/lesson_13.rs.
"""

import collections
import errno
import os
import selectors
import socket
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
# Seconds before the next accept after one failed (out of file descriptors,
# say): the loop serves the others meanwhile.
ACCEPT_PAUSE = 0.5
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
        # From here on no call may wait: accept, recv and send return at
        # once, with BlockingIOError when there is nothing to do.
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
        self.accept_again = None  # after a failed accept, when to try again
        self.wakes = 0

    def members(self):
        return [c for c in self.connections.values()
                if c.name and not c.closing]

    def run(self):
        while not (self.args.once and self.joined and not self.members()):
            deadlines = [c.deadline for c in self.connections.values()
                         if c.deadline]
            deadlines += [m.took + PATIENCE for m in self.members()
                          if len(m.outbox) >= QUEUE]
            if self.accept_again:
                deadlines.append(self.accept_again)
            wait = None
            if deadlines:
                wait = max(0, min(deadlines) - time.monotonic())
            events = self.selector.select(wait)
            if not events:
                # The wait ran out, or this process was stopped through it:
                # a last look at what came meanwhile.
                events = self.selector.select(0)
            self.trace_wake(events)
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
            if self.accept_again and time.monotonic() >= self.accept_again:
                # Watched anew: if clients wait, select() says so at once.
                self.accept_again = None
                self.selector.register(self.listener, selectors.EVENT_READ)
            for conn in list(self.connections.values()):
                if conn.deadline and time.monotonic() >= conn.deadline:
                    self.expire(conn)
            self.check_outboxes()
        self.out.say("the room is empty: closing it (--once)")

    def trace_wake(self, events):
        """With --trace: what this wake-up found ready."""
        self.wakes += 1
        ready = []
        for key, mask in events:
            conn = self.connections.get(key.fileobj)
            who = f"connection {conn.number}" if conn else "the listener"
            what = {selectors.EVENT_READ: "readable",
                    selectors.EVENT_WRITE: "writable"}.get(
                        mask, "readable and writable")
            ready.append(f"{who} {what}")
        ready = ", ".join(ready) or "nothing: a deadline"
        self.out.trace(f"wake-up {self.wakes}: {ready}")

    def accept(self):
        try:
            sock, address = self.listener.accept()
        except BlockingIOError:  # another took it, or it went away
            self.out.trace("accept() -> would block: no one waits")
            return
        except OSError as error:
            # Out of file descriptors (EMFILE), say: it fails again at once
            # until one is freed, and the listener stays ready. The loop
            # stops watching it for a while, and serves the others.
            why = ("out of file descriptors (EMFILE)"
                   if error.errno == errno.EMFILE else
                   common.explain(error, self.args))
            self.out.error(f"accept: {why}; trying again in {ACCEPT_PAUSE} s")
            self.selector.unregister(self.listener)
            self.accept_again = time.monotonic() + ACCEPT_PAUSE
            return
        self.count += 1
        self.out.trace(f"accept() -> connection {self.count}, from "
                       f"{common.address_text(address)}")
        where = f"connection {self.count} from {common.address_text(address)}"
        held = [c for c in self.connections.values() if not c.closing]
        full = len(held) >= self.args.max_clients
        if full:
            self.out.say(f"{where}: refused, the room holds "
                         f"{self.args.max_clients} (--max-clients)")
        else:
            self.out.say(where)
        # Small messages, wanted now: no Nagle delay (lesson 9 says why).
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # gone already: its first recv will say so
            pass
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
            self.out.trace(f"recv({MAX_MESSAGE}) on connection {conn.number}"
                           " -> would block: all read")
            return
        except OSError as error:
            return self.leave(conn, why(error))
        self.out.trace(f"recv({MAX_MESSAGE}) on connection {conn.number} -> "
                       f"{common.plural(len(data), 'byte')}")
        self.out.hex("received", data)
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
        if conn.closing:  # the welcome failed: refused, not let in
            return
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
        now = time.monotonic()
        for member in self.members():
            if len(member.outbox) >= QUEUE and now - member.took >= PATIENCE:
                why = f"it does not read ({QUEUE} messages, {PATIENCE:g} s)"
                self.broadcast(None, ROOM, self.drop(member, why))
        # After the drops: their announcements may have filled an outbox,
        # or a socket may have taken some of one.
        paused = any(len(m.outbox) >= QUEUE for m in self.members())
        if paused != self.paused:
            # Every connection is watched anew: for reading, or not.
            self.paused = paused
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
                shown = common.plural(len(conn.outbox[0]), "byte")
                try:
                    sent = conn.sock.send(conn.outbox[0])
                except BlockingIOError:
                    self.out.trace(f"send({shown}) to connection "
                                   f"{conn.number} -> would block: its "
                                   "buffers are full")
                    raise
                self.out.trace(f"send({shown}) to connection {conn.number} "
                               f"-> {common.plural(sent, 'byte')}")
                self.out.hex("sent", conn.outbox[0][:sent])
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
            self.out.trace(f"close() connection {conn.number}")


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


def client(args, out):
    """Shows what non-blocking calls do: a recv with nothing there, a send to
    a peer that does not read; then joins the room as --name, and leaves."""
    name = escape(args.name)
    out.say(f"connecting to {common.address_text(args.address)} as {name}")
    with socket.socket(args.family, socket.SOCK_STREAM) as s:
        s.settimeout(args.wait)
        s.connect(args.address)
        s.setblocking(False)
        waiting = selectors.DefaultSelector()
        waiting.register(s, selectors.EVENT_READ)
        # The room sends nothing before a name: nothing is there to read.
        try:
            data = s.recv(MAX_MESSAGE)
            out.say(f"recv(4096) -> {len(data)} bytes already")
        except BlockingIOError:
            out.say("recv(4096) before the name -> BlockingIOError (EAGAIN): "
                    "nothing came")
        framed = frame(args.name.encode("utf-8"))
        sent = s.send(framed)
        out.hex("sent", framed[:sent])
        out.say(f"send({common.plural(len(framed), 'byte')}) -> took "
                f"{common.plural(sent, 'byte')}")
        welcome = first_answer(s, waiting, args, out)
        out.say(f"{ROOM}: {escape(welcome)}")
        if not welcome.startswith("welcome, "):
            raise LessonError(escape(welcome))
        partial_sends(out)
        out.say(f"{name} leaves")
        s.shutdown(socket.SHUT_WR)
        # What the room still sends is skipped, until it closes in turn.
        while receive(s, waiting, args, out):
            pass
        out.say("the server closed the connection")


def partial_sends(out):
    """A peer of our own that never reads, on small buffers: each send takes
    what fits, then BlockingIOError."""
    with socket.socket() as listener, socket.socket() as sender:
        # The accepted socket's receive buffer is the listener's.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        sender.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        sender.connect(listener.getsockname())
        peer, _ = listener.accept()  # and never read
        with peer:
            sender.setblocking(False)
            data = b"x" * 65536
            out.say(f"a peer that does not read: send({len(data)} bytes) "
                    "until BlockingIOError")
            total = 0
            while True:
                try:
                    sent = sender.send(data)
                except BlockingIOError:
                    out.say("send -> BlockingIOError: both buffers are full, "
                            f"after {common.plural(total, 'byte')}")
                    return
                out.hex("sent", data[:sent])
                total += sent
                out.say(f"send -> took {common.plural(sent, 'byte')}")


def receive(sock, waiting, args, out):
    """recv, and only when it would block, select() for readability
    (--wait at most)."""
    while True:
        try:
            data = sock.recv(MAX_MESSAGE)
            out.hex("received", data)
            return data
        except BlockingIOError:
            pass
        if not waiting.select(args.wait):
            raise TimeoutError


def first_answer(sock, waiting, args, out):
    """The server's first answer, a name and a text: the text."""
    buffer, texts = bytearray(), []
    while len(texts) < 2:
        data = receive(sock, waiting, args, out)
        if not data:
            raise LessonError("the server closed at once")
        buffer += data
        texts += messages(buffer)
    return texts[1]


if __name__ == "__main__":
    top, server_options, client_options = common.parser(
        "lesson_13", "one thread, many sockets: an event loop", port=4113,
        wait=10.0)
    server_options.add_argument(
        "--max-clients", type=common.whole(1, 100000), default=16,
        metavar="N", help="how many clients the room holds")
    client_options.add_argument("--name", default="guest", type=common.utf8,
                                help="the name the others see")
    common.main(top, server, client)
