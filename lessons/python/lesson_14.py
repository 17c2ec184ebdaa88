"""Lesson 14: lesson 9's chat room, served with asyncio: async and await.

The protocol is lesson 9's, byte for byte (lesson 5's framing carrying UTF-8
text; a name first; every line passed on as a name and a text; joins and
leaves from "room"), so every lesson 9 client joins this room. Same command
line as lessons/lesson_14.rs.

One thread: asyncio's event loop runs a coroutine per client and the room's,
each until its next await that must wait; meanwhile the loop asks the
system (selectors) which sockets are ready.
"""

import argparse
import asyncio
import os
import signal
import socket
import sys
import threading

import common
from common import LessonError, escape

HEADERSIZE = 10
ROOM = "room"  # joins and leaves are announced under it; no client may take it
MAX_NAME = 32  # bytes
MAX_MESSAGE = 4096  # bytes: a name or a line
QUEUE = 64  # events for the room; pairs waiting for one member
NAME_WAIT = 10.0  # seconds a new connection has, in all, to send its name
PATIENCE = 2.0  # seconds the room waits for room in full outboxes
SEND_WAIT = 10.0  # seconds a member's socket may take nothing
CLOSE_WAIT = 1.0  # seconds what a closing client still sends is read
BACKLOG = 128  # listen's backlog, as lesson 9's
# Code points str.isprintable lets through that show nothing: "room" and
# one of these would pass for the room (lesson 9).
INVISIBLE = [(0x34F, 0x34F), (0x115F, 0x1160), (0x17B4, 0x17B5),
             (0x180B, 0x180F), (0x2800, 0x2800), (0x3164, 0x3164),
             (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0xE0100, 0xE01EF)]


def frame(data):
    return f"{len(data):<{HEADERSIZE}}".encode() + data


def pair(name, text):
    """A name and a text as two framed messages, in one buffer."""
    return frame(name.encode("utf-8")) + frame(text.encode("utf-8"))


def header_length(header):
    """ASCII digits with spaces around them, checked before the message is
    waited for: a header is a promise from the peer, not a fact."""
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


async def receive(reader):
    """The next message, as text; None if the peer closed between messages.
    readexactly is recv until there are that many bytes: each time the
    buffer holds too few, the coroutine waits until the socket is readable,
    and the loop runs the others."""
    try:
        header = await reader.readexactly(HEADERSIZE)
    except asyncio.IncompleteReadError as cut:
        if not cut.partial:
            return None
        raise LessonError(closed_after(cut, "header")) from None
    try:
        data = await reader.readexactly(header_length(header))
    except asyncio.IncompleteReadError as cut:
        raise LessonError(closed_after(cut, "message")) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise LessonError("a message not UTF-8") from None


def closed_after(cut, what):
    return (f"the connection closed after {len(cut.partial)} of the "
            f"{cut.expected} bytes of a {what}")


def why(error):
    """Why a connection ended, in the room's words."""
    if isinstance(error, LessonError):
        return str(error)
    if isinstance(error, ConnectionResetError):
        return "its connection was reset"
    if isinstance(error, BrokenPipeError):
        return "it closed its connection"
    if isinstance(error, TimeoutError):
        return f"it took nothing for {SEND_WAIT:g} s"
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
        # No call may wait: the loop asks selectors which sockets are ready,
        # and reads those; a send takes what fits now, and the rest waits
        # for the socket to be writable.
        s.setblocking(False)
        asyncio.run(Room(args, out).serve(s))


class Member:
    """A client, once it has sent a good name."""

    def __init__(self, number, name, writer):
        self.number, self.name, self.writer = number, name, writer
        self.outbox = asyncio.Queue(QUEUE)  # pairs its socket has not taken
        self.answer = asyncio.get_running_loop().create_future()
        self.released = False  # let go: send what waits, then the end
        # When its socket last took bytes; None while nothing waits.
        self.took = None
        self.sending = None  # the task that empties the outbox, once made

    def release(self):
        self.released = True
        if not self.outbox.full():
            self.outbox.put_nowait(None)  # wakes the sending task

    def cut(self):
        """Cut off: what waits for it is not sent."""
        self.sending.cancel()
        self.writer.transport.abort()


class Room:
    def __init__(self, args, out):
        self.args, self.out = args, out
        # Every client's coroutine hands the room events here. It is
        # bounded: when the room is behind, they wait to hand it more, stop
        # reading, and TCP slows the talkers down.
        self.events = asyncio.Queue(QUEUE)
        self.members = {}  # number -> Member, in the order they joined
        self.connected = 0
        self.count = 0
        self.failing = False  # whether accept has failed since it last worked

    async def serve(self, listener):
        asyncio.get_running_loop().set_exception_handler(self.trouble)
        closing = asyncio.Event()
        # Ctrl-C: the room tells everyone, and the server ends. Only the
        # main thread may take a signal (the demo's server has a thread of
        # its own), and only on Unix; elsewhere Ctrl-C stops it at once.
        if threading.current_thread() is threading.main_thread():
            try:
                asyncio.get_running_loop().add_signal_handler(
                    signal.SIGINT, closing.set)
            except NotImplementedError:  # Windows
                pass
        # start_server calls listen again, with a backlog of its own (100
        # unless told).
        server = await asyncio.start_server(self.client, sock=listener,
                                            backlog=BACKLOG)
        room = asyncio.create_task(self.run())
        ctrl_c = asyncio.create_task(closing.wait())
        await asyncio.wait([room, ctrl_c], return_when=asyncio.FIRST_COMPLETED)
        ctrl_c.cancel()
        server.close()  # no more accepting
        if not room.done():
            room.cancel()
            self.out.say("Ctrl-C: closing the room")
            await self.broadcast(None, ROOM, "the room is closing")
            for member in self.members.values():
                member.release()
        # A little time for the members' last bytes.
        sending = [m.sending for m in self.members.values()]
        if sending:
            await asyncio.wait(sending, timeout=2 * CLOSE_WAIT)

    def trouble(self, loop, context):
        """What asyncio would log with a traceback, on one line: an accept
        out of file descriptors, say (once: asyncio tries again a second
        later, up to 128 accepts each time)."""
        error = context.get("exception")
        if not context["message"].startswith("socket.accept()"):
            self.out.error(context["message"])
        elif not self.failing:
            self.out.error(f"accept failed: {why(error)}; trying again")
            self.failing = True

    async def client(self, reader, writer):
        """One connection: its name, then its lines, each handed to the
        room."""
        self.count, self.failing = self.count + 1, False
        number, where = self.count, writer.get_extra_info("peername")
        where = f"connection {number} from {common.address_text(where)}"
        if self.connected >= self.args.max_clients:
            self.out.say(f"{where}: refused, the room holds "
                         f"{self.args.max_clients} (--max-clients)")
            return await refuse(reader, writer, "the room is full")
        self.out.say(where)
        # Small messages, wanted now: no Nagle delay (lesson 9 says why).
        # asyncio sets it only on sockets whose proto is IPPROTO_TCP, and
        # one made by socket.socket() and accepted has proto 0.
        sock = writer.get_extra_info("socket")
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # gone already: its first read will say so
            pass
        self.connected += 1
        try:
            await self.serve_client(number, reader, writer)
        except asyncio.CancelledError:
            # The server is ending (asyncio.run cancels what is left).
            # Python 3.11's start_server would print a traceback for a
            # cancelled client.
            writer.transport.abort()
        finally:
            self.connected -= 1

    async def serve_client(self, number, reader, writer):
        # In all, not per recv: a byte every few seconds must not hold a
        # place for hours.
        try:
            name = await asyncio.wait_for(receive(reader), NAME_WAIT)
            problem = "it sent no name" if name is None else check(name)
        except TimeoutError:
            problem = f"it sent no name within {NAME_WAIT:g} s"
        except (OSError, LessonError) as error:
            problem = why(error)
        if problem:
            self.out.say(f"connection {number}: not let in: {problem}")
            return await refuse(reader, writer, f"not let in: {problem}")
        member = Member(number, name, writer)
        # Its two directions at once: this coroutine reads, a task sends
        # (from the start: the room may cut it off as soon as it is in).
        member.sending = asyncio.create_task(self.send_outbox(member))
        await self.events.put(("joined", member, None))
        refusal = await member.answer
        if refusal:
            member.sending.cancel()
            return await refuse(reader, writer, refusal)
        try:
            while (text := await receive(reader)) is not None:
                await self.events.put(("said", member, text))
            await self.events.put(("left", member, None))
        except (OSError, LessonError) as error:
            await self.events.put(("left", member, why(error)))
        await asyncio.gather(member.sending, return_exceptions=True)

    async def send_outbox(self, member):
        """Sends what the room puts in member's outbox; once it is let go,
        the end of the stream."""
        writer = member.writer
        try:
            while not (member.released and member.outbox.empty()):
                data = await member.outbox.get()
                if data is None:
                    continue
                writer.write(data)
                await drained(writer)
                now = asyncio.get_running_loop().time()
                member.took = None if member.outbox.empty() else now
            # shutdown(SHUT_WR): the end of the stream after the last bytes.
            writer.write_eof()
            await asyncio.wait_for(writer.drain(), CLOSE_WAIT)
        except (OSError, TimeoutError) as error:
            if not member.released:
                await self.events.put(("left", member, why(error)))
            writer.transport.abort()

    async def run(self):
        """The room: the only coroutine that changes who is here."""
        joined = False
        while not (self.args.once and joined and not self.members):
            kind, member, text = await self.events.get()
            if kind == "joined":
                if any(m.name == member.name for m in self.members.values()):
                    refusal = f"not let in: {member.name} is taken"
                    self.out.say(f"connection {member.number}: {refusal}")
                    member.answer.set_result(refusal)
                    continue
                self.out.say(f"connection {member.number}: {member.name} "
                             "joined")
                member.outbox.put_nowait(pair(ROOM, welcome(
                    member.name, self.members.values())))
                await self.broadcast(None, ROOM, f"{member.name} joined")
                self.members[member.number] = member
                member.answer.set_result(None)
                joined = True
            elif self.members.get(member.number) is not member:
                continue  # dropped already: its lines go nowhere
            elif kind == "said":
                self.out.say(f"{member.name}: {escape(text)}")
                await self.broadcast(member, member.name, text)
            else:
                del self.members[member.number]
                await self.broadcast(None, ROOM, self.leave(member, text))
        self.out.say("the room is empty: closing it (--once)")

    async def broadcast(self, sender, name, text):
        """Puts name and text in the outbox of every member but sender. A
        full outbox is waited for, until its socket has taken nothing for
        PATIENCE: members that stopped reading together cost the room
        PATIENCE once, not once each. One still full then does not read: it
        is dropped, and that is announced in turn."""
        announcements = [(sender, pair(name, text))]
        while announcements:
            sender, data = announcements.pop(0)
            now = asyncio.get_running_loop().time()
            full = []
            for member in list(self.members.values()):
                if member is sender:
                    continue
                try:
                    member.outbox.put_nowait(data)
                except asyncio.QueueFull:
                    if not await room_in(member, data, now):
                        full.append(member)
            for member in full:
                if self.members.pop(member.number, None):
                    why = f"it does not read ({QUEUE} messages, {PATIENCE:g} s)"
                    announcements.append((None, pair(ROOM, self.leave(
                        member, why))))

    def leave(self, member, why):
        """Says that member left, and returns the announcement. One that is
        dropped is cut off; otherwise it is let go: what waits is sent."""
        if why is None:
            member.release()
            left = f"{member.name} left"
        else:
            member.cut()
            left = f"{member.name} was dropped: {why}"
        self.out.say(left)
        return left


async def drained(writer):
    """drain waits once the transport holds more than its high-water mark
    (64 KiB), until it holds a quarter of that: the socket takes too few
    bytes. One that takes nothing for SEND_WAIT belongs to a member that
    does not read; one that takes some gets the wait again, as lesson 9's."""
    while True:
        before = writer.transport.get_write_buffer_size()
        try:
            return await asyncio.wait_for(writer.drain(), SEND_WAIT)
        except TimeoutError:
            if writer.transport.get_write_buffer_size() >= before:
                raise


async def room_in(member, data, since):
    """Waits for room in member's full outbox for data, until its socket has
    taken nothing for PATIENCE (counted from since if it has taken nothing
    since the outbox was last empty); whether it got room."""
    loop = asyncio.get_running_loop()
    while True:
        until = (member.took or since) + PATIENCE
        if loop.time() >= until:
            return False
        try:
            await asyncio.wait_for(member.outbox.put(data), until - loop.time())
            return True
        except TimeoutError:
            pass  # its socket may have taken more meanwhile: look again


async def refuse(reader, writer, why):
    """Tells a client why it is not let in, and closes well: after the
    refusal, the end of the stream; what the client still sends is read,
    for a second at most, so that the close is not a reset (RST), which
    could destroy the refusal before the client reads it."""
    async def tell():
        writer.write(pair(ROOM, why))
        writer.write_eof()
        await writer.drain()
        while await reader.read(MAX_MESSAGE):
            pass
    try:
        await asyncio.wait_for(tell(), CLOSE_WAIT)
    except (OSError, TimeoutError):
        pass
    writer.close()


def check(name):
    """Why name cannot be a name (lesson 9's rule), or None."""
    if not 1 <= len(name.encode("utf-8")) <= MAX_NAME:
        return f"a name has 1 to {MAX_NAME} bytes"
    trimmed = name.strip(" ")
    if trimmed == ROOM or trimmed != name or not all(map(shows, name)):
        return f"'{shown(name)}' cannot be a name"
    return None


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
    names = [member.name for member in members]
    here = ", ".join(names)
    if not names:
        return f"welcome, {name}; nobody else is here"
    if len(here.encode("utf-8")) > MAX_MESSAGE // 2:
        return f"welcome, {name}; {len(names)} others are here"
    return f"welcome, {name}; here: {here}"


# --- The client ---------------------------------------------------------------


async def receive_pair(reader):
    """The next name and text the server sends; None when it closes."""
    name = await receive(reader)
    if name is None:
        return None
    text = await receive(reader)
    if text is None:
        raise LessonError("the server closed between a name and its text")
    return name, text


async def connect(args):
    """A connection to the server, within --wait."""
    host, port = args.address
    return await asyncio.wait_for(asyncio.open_connection(host, port),
                                  args.wait)


def client(args, out):
    if args.deadline is None:
        return asyncio.run(talk(args, out))

    async def within_deadline():
        try:
            await asyncio.wait_for(talk(args, out), args.deadline)
        except TimeoutError:
            out.error(f"gave up after {args.deadline:g} s (--deadline)")
            # The keyboard's thread may be waiting for a line: exit.
            os._exit(common.RUNTIME_ERROR)

    asyncio.run(within_deadline())


async def talk(args, out):
    # The demo is the scripted conversation: one command shows a room.
    if args.demo or args.script:
        return await conversation(args, out)
    where = common.address_text(args.address)
    out.say(f"connecting to {where} as {escape(args.name)}")
    reader, writer = await connect(args)
    writer.write(frame(args.name.encode("utf-8")))
    # The room answers a name at once: a welcome, or why not.
    answer = await asyncio.wait_for(receive_pair(reader), args.wait)
    if answer is None:
        raise LessonError("the server closed at once")
    if answer[0] != ROOM or not answer[1].startswith("welcome, "):
        raise LessonError(escape(answer[1]))
    out.say(f"{ROOM}: {escape(answer[1])}")
    # The keyboard has a thread of its own (reading stdin blocks, and
    # selectors cannot watch it on Windows); it hands each line to a task,
    # which sends it.
    lines = asyncio.Queue(1)
    loop = asyncio.get_running_loop()
    threading.Thread(target=read_keyboard, args=(loop, lines),
                     daemon=True).start()
    sending = asyncio.create_task(send_lines(lines, writer, out))
    while (got := await receive_pair(reader)) is not None:
        out.say(f"{escape(got[0])}: {escape(got[1])}")
    out.say("the server closed the connection")
    sending.cancel()


def read_keyboard(loop, lines):
    """Hands each line of stdin to the loop, then None at its end."""
    def hand(line):
        asyncio.run_coroutine_threadsafe(lines.put(line), loop).result()
    try:
        if sys.stdin is not None:  # None: started with stdin closed
            # Unbuffered: a daemon thread inside a buffered readline when
            # the program ends makes Python abort ("Fatal Python error").
            keyboard = open(sys.stdin.fileno(), "rb", buffering=0,
                            closefd=False)
            # At most one byte more than a message may hold: enough to
            # know the line is too long, without reading all of it.
            while line := keyboard.readline(MAX_MESSAGE + 1):
                hand(line)
        hand(None)
    except (OSError, RuntimeError):  # the loop has ended
        pass


async def send_lines(lines, writer, out):
    """Sends each line; at the end, shutdown(SHUT_WR): the server sees the
    end, says we left, and closes."""
    try:
        while (line := await lines.get()) is not None:
            if line.endswith(b"\n"):
                line = line[:-1].removesuffix(b"\r")
            if len(line) > MAX_MESSAGE:
                raise LessonError(f"a line is longer than {MAX_MESSAGE} "
                                  "bytes")
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                raise LessonError("a line is not UTF-8") from None
            writer.write(frame(line))
            await writer.drain()
    except (OSError, LessonError) as error:
        out.error(f"cannot send: {why(error)}")
    try:
        writer.write_eof()
    except OSError:
        pass


# The demo's conversation: who says what, in order.
SCRIPT = [(0, "hello, everyone"), (1, "hi ada! the room works"),
          (2, "hello from cy"), (0, "bye for now")]


async def conversation(args, out):
    """Three clients in one coroutine, each waiting to hear the line before
    its own, so that the conversation goes the same way every time."""

    async def hear(bot, sender, text):
        """Shows what the server sends, until sender says something with
        text in it."""
        name, reader, _ = bot
        while True:
            got = await asyncio.wait_for(receive_pair(reader), args.wait)
            if got is None:
                raise LessonError(f"{name}: the server closed")
            out.say(f"{name} hears {escape(got[0])}: {escape(got[1])}")
            if got[0] == sender and text in got[1]:
                return

    bots = []
    for name in ["ada", "bob", "cy"]:
        out.say(f"{name} connects to {common.address_text(args.address)}")
        bot = (name, *await connect(args))
        bot[2].write(frame(name.encode("utf-8")))
        await hear(bot, ROOM, "welcome")
        for earlier in bots:
            await hear(earlier, ROOM, f"{name} joined")
        bots.append(bot)
    for speaker, text in SCRIPT:
        name, _, writer = bots[speaker]
        out.say(f"{name} says: {text}")
        writer.write(frame(text.encode("utf-8")))
        for bot in bots:
            if bot is not bots[speaker]:
                await hear(bot, name, text)
    while bots:
        name, reader, writer = bots.pop(0)
        out.say(f"{name} leaves")
        writer.write_eof()
        # The server closes in turn, after what it had queued.
        while await asyncio.wait_for(receive_pair(reader), args.wait):
            pass
        writer.close()
        for bot in bots:
            await hear(bot, ROOM, f"{name} left")
    out.say("everyone has left")


if __name__ == "__main__":
    top, server_options, client_options = common.parser(
        "lesson_14", "the chat room with asyncio", port=4114, wait=10.0,
        show=False)
    server_options.add_argument(
        "--max-clients", type=common.whole(1, 100000), default=16,
        metavar="N", help="how many clients the room holds")
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
