"""Lesson 9: a chat room, on lesson 5's framing (a 10-character length
header, then the bytes) carrying UTF-8 text.

A client's first message is its name; each later one is a line it says.
For each line the server sends every other member two messages: the
sender's name, then the text. Joins and leaves come the same way, from the
name "room". Same command line as lessons/lesson_09.rs.

The server is threads and queues, as the Rust one is: a thread accepts,
each client has a thread that reads and one that writes, and the room, the
main thread, takes what the readers put in its queue one at a time. Lesson
13 serves the same room from one thread, with selectors.
"""

import errno
import itertools
import os
import queue
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
MAX_REFUSING = 64  # refused connections that may be closing well at once
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


def server(args, out):
    with socket.socket(args.family, socket.SOCK_STREAM) as s:
        # So that a restarted server may bind at once (Unix only: Windows
        # gives SO_REUSEADDR another meaning).
        if os.name == "posix":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(args.address)
        s.listen(BACKLOG)
        out.listening(s)
        # Every client's threads put the room's events in this queue; the
        # room alone takes them, one at a time, in the order they came. It
        # is bounded: when the room is behind, the readers wait, stop
        # reading, and TCP slows the talkers down.
        events = queue.Queue(QUEUE)
        # Accepting has a thread of its own, which ends with the program.
        threading.Thread(target=accept, args=(s, args, events, out),
                         daemon=True).start()
        run_room(events, args.once, out)


def start(target, *args):
    """A daemon thread running target(*args); False if the system has no
    thread to give."""
    try:
        threading.Thread(target=target, args=args, daemon=True).start()
        return True
    except RuntimeError:  # can't start new thread
        return False


def accept(listener, args, events, out):
    """Accepts clients, and starts a thread for each, up to --max-clients."""
    connected = [0]  # how many are here; the lock guards it
    lock = threading.Lock()
    # Refused connections closing well, each with a thread for a second at
    # most: a flood of them gets MAX_REFUSING threads, the rest a close.
    refusing = threading.BoundedSemaphore(MAX_REFUSING)

    def serve(client, number):
        read_client(client, number, events, out)
        with lock:
            connected[0] -= 1

    def refuse_then_free(client, why):
        try:
            refuse(client, why)
        finally:
            refusing.release()

    for number in itertools.count(1):
        try:
            client, address = listener.accept()
        except OSError as error:
            if listener.fileno() == -1:  # closed: the room is closed
                return
            # Out of file descriptors, say: pause, not a busy loop.
            out.error(f"accept failed: {common.explain(error, args)}")
            time.sleep(0.1)
            continue
        where = f"connection {number} from {common.address_text(address)}"
        with lock:
            full = connected[0] >= args.max_clients
            connected[0] += not full
        if full:
            out.say(f"{where}: refused, the room holds {args.max_clients} "
                    "(--max-clients)")
            # Told, and closed well, in a thread of its own: the close waits
            # for the client, and accepting must not.
            if not refusing.acquire(blocking=False):
                client.close()
            elif not start(refuse_then_free, client, "the room is full"):
                refusing.release()
                client.close()
            continue
        out.say(where)
        # A chat's messages are small and wanted now: without this, Nagle's
        # algorithm holds each one back until the last is acknowledged, and
        # a client may delay that ACK by up to 40 ms (lesson 7).
        try:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # gone already: its thread will find out
            pass
        if not start(serve, client, number):
            with lock:
                connected[0] -= 1
            out.error(f"connection {number}: no thread for it")
            client.close()


class Member:
    """Someone in the room, as the room knows them: the queue its writing
    thread empties into its socket, the socket (to cut it off), and when
    its socket last took a message (None while none waits)."""

    def __init__(self, number, name, sock):
        self.number, self.name, self.sock = number, name, sock
        # The writing thread's own handle on the same socket (dup(2)).
        self.writer = sock.dup()
        self.outbox = queue.Queue(QUEUE)
        self.took, self.lock = None, threading.Lock()
        self.done = False  # set by the room: once the outbox is empty, end

    def note(self, when):
        with self.lock:
            self.took = when

    def last_took(self):
        with self.lock:
            return self.took


def read_client(client, number, events, out):
    """One client's reading thread: its name, then its lines, each put in
    the room's queue; at the end, ("left", ...)."""
    with client:
        serve_client(client, number, events, out)


def serve_client(client, number, events, out):
    buffer = bytearray()
    try:
        # In all, not per recv: a byte every few seconds must not hold a
        # place for hours.
        name = receive(client, buffer, time.monotonic() + NAME_WAIT)
        problem = "it sent no name" if name is None else check(name)
    except TimeoutError:
        problem = f"it sent no name within {NAME_WAIT:g} s"
    except (OSError, LessonError) as error:
        problem = why(error)
    if problem:
        out.say(f"connection {number}: not let in: {problem}")
        return refuse(client, f"not let in: {problem}")
    # The writing thread's handle shares this socket's open file, and with
    # it O_NONBLOCK, which Python sets for a timeout: both handles have a
    # timeout, or this one's recv would fail with EAGAIN.
    client.settimeout(SEND_WAIT)
    try:
        member = Member(number, name, client)
    except OSError:
        return out.error(f"connection {number}: no second handle")
    if not start(write_client, member, events):
        member.writer.close()
        return out.error(f"connection {number}: no thread for it")
    events.put(("joined", member))
    try:
        while True:
            try:
                text = receive(client, buffer)
            except TimeoutError:  # a member may be silent as long as it likes
                continue
            if text is None:
                break
            events.put(("said", number, text))
        problem = None
    except (OSError, LessonError) as error:
        problem = why(error)
    events.put(("left", number, problem))


def check(name):
    """Why name cannot be a name, or None. A name is printed as it is ("ada
    joined"): nothing in it may move the cursor, reverse the text or hide,
    around it or in it."""
    if not 1 <= len(name.encode("utf-8")) <= MAX_NAME:
        return f"a name has 1 to {MAX_NAME} bytes"
    trimmed = name.strip(" ")
    if trimmed == ROOM or trimmed != name or not all(map(shows, name)):
        return f"'{shown(name)}' cannot be a name"
    return None


def refuse(client, why):
    """Tells a client why it is not let in, and closes well: shutdown
    (SHUT_WR) ends the stream after the refusal, and what the client still
    sends is read, for a second at most, so that the close is not a reset
    (RST), which could destroy the refusal before the client reads it."""
    with client:
        try:
            client.sendall(pair(ROOM, why))
            client.shutdown(socket.SHUT_WR)
            until = time.monotonic() + CLOSE_WAIT
            while (left := until - time.monotonic()) > 0:
                client.settimeout(left)
                if not client.recv(MAX_MESSAGE):
                    return
        except OSError:
            pass


def write_client(member, events):
    """A member's writing thread: sends what the room puts in its outbox,
    noting when its socket last took a message. Once the room is done with
    it (None in the outbox, or done and the outbox empty), the last bytes
    are out: shutdown(SHUT_WR)."""
    with member.writer as sock:
        try:
            sock.settimeout(SEND_WAIT)
            while True:
                try:
                    data = member.outbox.get_nowait()
                except queue.Empty:
                    member.note(None)  # nothing waits for it: nothing is late
                    if member.done:
                        break
                    data = member.outbox.get()
                    member.note(time.monotonic())
                if data is None:
                    break
                sock.sendall(data)
                member.note(time.monotonic())
            sock.shutdown(socket.SHUT_WR)
        except TimeoutError:
            events.put(("left", member.number,
                        f"it took nothing for {SEND_WAIT:g} s"))
        except OSError as error:
            events.put(("left", member.number, why(error)))


def run_room(events, once, out):
    """The room: the only thread that knows who is here. With once, it
    closes when the last member leaves."""
    members = {}  # number -> Member, in the order they joined
    while True:
        event = events.get()
        if event[0] == "joined":
            member = event[1]
            if any(m.name == member.name for m in members.values()):
                refusal = f"not let in: {member.name} is taken"
                out.say(f"connection {member.number}: {refusal}")
                # Then the writing thread ends, once the refusal is out.
                member.outbox.put(pair(ROOM, refusal))
                finish(member)
                continue
            out.say(f"connection {member.number}: {member.name} joined")
            here = list(members.values())
            member.outbox.put(pair(ROOM, welcome(member.name, here)))
            broadcast(members, None, pair(ROOM, f"{member.name} joined"), out)
            members[member.number] = member
        elif event[0] == "said":
            _, number, text = event
            member = members.get(number)
            if member is None:  # dropped already, or never let in
                continue
            out.say(f"{member.name}: {escape(text)}")
            broadcast(members, number, pair(member.name, text), out)
        else:
            _, number, problem = event
            member = members.pop(number, None)
            if member:
                leave(members, member, problem, out)
        if once and not members:
            return out.say("the room is empty: closing it (--once)")


def broadcast(members, sender, data, out):
    """Puts data in the outbox of every member but sender. A full outbox
    gets time to empty, until its socket has taken nothing for PATIENCE:
    members that stopped reading at the same time cost the room PATIENCE
    once, not once each. One still full then does not read (its socket's
    buffers are full too): it is dropped."""
    now, full = time.monotonic(), []
    for number, member in list(members.items()):
        if number == sender:
            continue
        while True:
            try:
                member.outbox.put_nowait(data)
                break
            except queue.Full:
                # While the room waits here, the talkers wait too: their
                # readers cannot hand it more events.
                took = member.last_took()
                if time.monotonic() >= (took or now) + PATIENCE:
                    full.append(number)
                    break
                time.sleep(0.01)
    for number in full:
        member = members.pop(number, None)
        if member:
            leave(members, member,
                  f"it does not read ({QUEUE} messages, {PATIENCE:g} s)", out)


def leave(members, member, problem, out):
    """Announces that member left. One that is dropped is cut off: what
    waits for it is not sent. Otherwise its writing thread sends what
    waits, then ends."""
    if problem is None:
        left = f"{member.name} left"
    else:
        left = f"{member.name} was dropped: {problem}"
        try:
            member.sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # closed already
            pass
    finish(member)
    out.say(left)
    broadcast(members, None, pair(ROOM, left), out)


def finish(member):
    """Ends member's writing thread once its outbox is empty: it is waiting
    for the outbox (the None wakes it), or sending (it sees done)."""
    member.done = True
    try:
        member.outbox.put_nowait(None)
    except queue.Full:
        pass


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


def receive(sock, buffer, until=None):
    """The next message from sock, or None when it closes between messages;
    buffer (a bytearray) keeps what came after it. With until (a moment of
    time.monotonic()), each recv waits only for what is left of the time."""
    while True:
        for text in messages(buffer):
            return text
        if until is not None:
            # Past until, what has come is still read: a millisecond's wait
            # gets it, or a timeout.
            sock.settimeout(max(until - time.monotonic(), 0.001))
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
        "--max-clients", type=common.whole(1, 5000), default=16,
        metavar="N", help="how many clients the room holds (two threads each)")
    client_options.add_argument("--name", default="guest", type=common.utf8,
                                help="the name the others see")
    client_options.add_argument("--script", action="store_true",
                                help="play three scripted clients, as the "
                                "demo does")
    client_options.add_argument("--deadline", type=common.seconds,
                                metavar="SECONDS", help="how long the client "
                                "may run in all (without it: until the server "
                                "closes)")
    common.main(top, server, client)
