"""Lesson 9: a chat room, on lesson 5's framing (a 10-character length header).

A client's first message is its name; each later one is a line it says. The
server sends every other client the sender's name, then the text, and
announces joins and leaves under the name "room". The server is one thread
with non-blocking sockets and selectors; the client reads the keyboard in a
thread of its own (select() cannot watch stdin on Windows)."""

import argparse
import queue
import selectors
import socket
import sys
import threading
import time
import unicodedata

from common import Out, explain, port_number, positive_seconds

HEADERSIZE = 10
ROOM = "room"
MAX_NAME = 32
MAX_MESSAGE = 4096
QUEUE = 64  # as many full messages may wait for one client
QUEUE_BYTES = QUEUE * (2 * HEADERSIZE + MAX_MESSAGE + MAX_NAME)
HIGH_WATER = QUEUE_BYTES // 4  # above it, the server reads no one until it drains
PATIENCE = 2  # seconds a client may stay above HIGH_WATER before it is dropped
NAME_WAIT = 10
SCRIPT_NAMES = ["ada", "bob", "cy"]
SCRIPT_LINES = [(0, "hello, everyone"), (1, "hi ada! the room works"), (2, "hello from cy"), (0, "bye for now")]


def frame(text):
    data = text.encode("utf-8")
    return f"{len(data):<{HEADERSIZE}}".encode() + data


def pair(name, text):
    return frame(name) + frame(text)


def escape(text):
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class Messages:
    """Framed UTF-8 messages out of whatever recv returns; raises ValueError on bad framing."""

    def __init__(self):
        self.pending = b""

    def push(self, data):
        self.pending += data

    def next(self):
        if len(self.pending) < HEADERSIZE:
            return None
        header = self.pending[:HEADERSIZE]
        text = header.decode("ascii", errors="replace").strip(" ")
        if not text.isdigit() or not text.isascii():
            raise ValueError(f"the header {header!r} is not a length: it must be digits, padded with "
                             f"spaces to {HEADERSIZE} characters")
        length = int(text)
        if length > MAX_MESSAGE:
            raise ValueError(f"the header announces a message of {length} bytes, more than the "
                             f"{MAX_MESSAGE} this reader accepts")
        if len(self.pending) < HEADERSIZE + length:
            return None
        body = self.pending[HEADERSIZE:HEADERSIZE + length]
        self.pending = self.pending[HEADERSIZE + length:]
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("a message that is not UTF-8 text") from None

    def finish(self):
        got = len(self.pending)
        if 0 < got < HEADERSIZE:
            raise ValueError(f"the connection closed after {got} of the {HEADERSIZE} bytes of a header")
        if got:
            expected = int(self.pending[:HEADERSIZE].decode("ascii").strip(" "))
            raise ValueError(f"the connection closed after {got - HEADERSIZE} of the {expected} bytes of a message")


class Member:
    def __init__(self, number, sock):
        self.number = number
        self.sock = sock
        self.name = None
        self.messages = Messages()
        self.outgoing = b""
        self.events = selectors.EVENT_READ  # what the selector watches for it
        self.full_since = None  # when its output went over HIGH_WATER


def server(args, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.host, args.port))
    s.listen(5)
    out.listening(s)
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ)
    members = {}  # socket -> Member, named or not yet
    number = 0

    def named():
        return [m for m in members.values() if m.name is not None]

    def send(member, data):
        if len(member.outgoing) + len(data) > QUEUE_BYTES:
            drop(member, f"{member.name} was dropped: it does not read ({len(member.outgoing)} bytes wait for it)")
            return
        member.outgoing += data

    def watch(member, paused):
        """Watches a member's socket for what is wanted now: reading unless paused, writing if
        something waits for it."""
        want = (0 if paused else selectors.EVENT_READ) | (selectors.EVENT_WRITE if member.outgoing else 0)
        if want == member.events:
            return
        if member.events == 0:
            sel.register(member.sock, want)
        elif want == 0:
            sel.unregister(member.sock)
        else:
            sel.modify(member.sock, want)
        member.events = want

    def backpressure():
        """While someone's output is over HIGH_WATER, read no one (the talkers wait, slowed by
        TCP); drop whoever stays over it for PATIENCE seconds."""
        now = time.monotonic()
        for member in list(members.values()):
            if len(member.outgoing) <= HIGH_WATER:
                member.full_since = None
            elif member.full_since is None:
                member.full_since = now
            elif now - member.full_since > PATIENCE:
                drop(member, f"{member.name} was dropped: it does not read ({len(member.outgoing)} bytes "
                             f"waited {PATIENCE} s)")
        paused = any(member.full_since is not None for member in members.values())
        for member in members.values():
            watch(member, paused)

    def broadcast(sender, name, text):
        for member in named():
            if member is not sender and member.sock in members:
                send(member, pair(name, text))

    def drop(member, announcement):
        if member.sock not in members:
            return
        del members[member.sock]
        if member.events:
            sel.unregister(member.sock)
        member.sock.close()
        if member.name is not None:
            out.say(escape(announcement))
            broadcast(None, ROOM, announcement)

    def refuse(member, why):
        out.say(f"connection {member.number}: not let in: {why}")
        try:
            member.sock.setblocking(True)
            member.sock.settimeout(1)
            member.sock.sendall(pair(ROOM, f"not let in: {why}"))
        except OSError:
            pass
        drop(member, "")

    def on_message(member, text):
        if member.name is None:
            taken = any(m.name == text for m in named())
            if not 1 <= len(text.encode()) <= MAX_NAME:
                return refuse(member, f"a name has 1 to {MAX_NAME} bytes")
            if any(unicodedata.category(c) == "Cc" for c in text) or text == ROOM:
                return refuse(member, f"'{escape(text)}' cannot be a name")
            if taken:
                return refuse(member, f"{text} is taken")
            here = [m.name for m in named()]
            member.name = text
            out.say(f"connection {member.number}: {text} joined")
            if not here:
                welcome = f"welcome, {text}; nobody else is here"
            elif len(", ".join(here)) > MAX_MESSAGE // 2:
                welcome = f"welcome, {text}; {len(here)} others are here"
            else:
                welcome = f"welcome, {text}; here: {', '.join(here)}"
            send(member, pair(ROOM, welcome))
            broadcast(member, ROOM, f"{text} joined")
        else:
            out.say(f"{escape(member.name)}: {escape(text)}")
            broadcast(member, member.name, text)

    def on_readable(member):
        try:
            data = member.sock.recv(MAX_MESSAGE)
        except OSError as error:
            return drop(member, f"{member.name} was dropped: {explain(error, 'the client')}")
        try:
            if not data:
                member.messages.finish()
                return drop(member, f"{member.name} left")
            member.messages.push(data)
            while member.sock in members:
                text = member.messages.next()
                if text is None:
                    break
                on_message(member, text)
        except ValueError as error:
            if member.name is None:
                return refuse(member, str(error))
            drop(member, f"{member.name} was dropped: {error}")

    def on_writable(member):
        try:
            sent = member.sock.send(member.outgoing)
        except OSError as error:
            return drop(member, f"{member.name} was dropped: {explain(error, 'the client')}")
        member.outgoing = member.outgoing[sent:]

    joined_once = False
    while True:
        # Bounded wait, so a connection that never sends its name is closed in time.
        backpressure()
        for key, mask in sel.select(timeout=0.2):
            if key.fileobj is s:
                try:
                    clt, adr = s.accept()
                except OSError:
                    continue
                number += 1
                if len(members) >= args.max_clients:
                    out.say(f"connection {number} from {adr[0]}:{adr[1]}: refused, the room holds "
                            f"{args.max_clients} (--max-clients)")
                    try:
                        clt.send(pair(ROOM, "the room is full"))
                    except OSError:
                        pass
                    clt.close()
                    continue
                out.say(f"connection {number} from {adr[0]}:{adr[1]}")
                clt.setblocking(False)
                member = Member(number, clt)
                member.joined_at = time.monotonic()
                members[clt] = member
                sel.register(clt, selectors.EVENT_READ)
                continue
            member = members.get(key.fileobj)
            if member is None:
                continue
            if mask & selectors.EVENT_READ:
                on_readable(member)
            if mask & selectors.EVENT_WRITE and key.fileobj in members:
                on_writable(member)
        for member in list(members.values()):
            if member.name is None and time.monotonic() - member.joined_at > NAME_WAIT:
                refuse(member, "it sent no name")
        if named():
            joined_once = True
        if args.once and joined_once and not named():
            out.say("the room is empty: closing it (--once)")
            return


def connect(args, out, text):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    out.say(text)
    s.settimeout(args.wait)
    s.connect((args.host, args.port))
    host, port = s.getsockname()
    out.say(f"connected from {host}:{port}: the port the system gave this side")
    return s


def next_pair(s, messages):
    """The next name and text from the server, or None when it closes."""
    texts = []
    while len(texts) < 2:
        text = messages.next()
        if text is not None:
            texts.append(text)
            continue
        data = s.recv(MAX_MESSAGE)
        if not data:
            messages.finish()
            if texts:
                raise ValueError("the server closed between a name and its text")
            return None
        messages.push(data)
    return texts[0], texts[1]


def client(args, out):
    if args.script or args.mode is None:  # the demo is the conversation
        return conversation(args, out)
    s = connect(args, out, f"connecting to {args.host}:{args.port} as {args.name}")
    s.settimeout(None)  # a chat waits as long as people talk
    s.sendall(frame(args.name))

    def keyboard():
        try:
            for line in sys.stdin.buffer:
                text = line.rstrip(b"\n").rstrip(b"\r") if line.endswith(b"\n") else line
                if len(text) > MAX_MESSAGE:
                    raise ValueError(f"a line is longer than {MAX_MESSAGE} bytes")
                s.sendall(frame(text.decode("utf-8")))
        except (OSError, ValueError) as error:
            out.error(f"cannot send: {error}")
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    threading.Thread(target=keyboard, daemon=True).start()
    messages = Messages()
    while True:
        got = next_pair(s, messages)
        if got is None:
            break
        out.say(f"{escape(got[0])}: {escape(got[1])}")
    out.say("the server closed the connection")


def conversation(args, out):
    bots = []

    def hear(bot, sender, text):
        while True:
            got = next_pair(bot["sock"], bot["messages"])
            if got is None:
                raise ValueError(f"{bot['name']}: the server closed the connection")
            out.say(f"{bot['name']} hears {escape(got[0])}: {escape(got[1])}")
            if got[0] == sender and text in got[1]:
                return

    for name in SCRIPT_NAMES:
        s = connect(args, out, f"{name} connects to {args.host}:{args.port}")
        s.sendall(frame(name))
        bot = {"name": name, "sock": s, "messages": Messages()}
        hear(bot, ROOM, "welcome")
        for earlier in bots:
            hear(earlier, ROOM, f"{name} joined")
        bots.append(bot)
    for speaker, text in SCRIPT_LINES:
        name = bots[speaker]["name"]
        out.say(f"{name} says: {text}")
        bots[speaker]["sock"].sendall(frame(text))
        for index, bot in enumerate(bots):
            if index != speaker:
                hear(bot, name, text)
    while bots:
        leaving = bots.pop(0)
        out.say(f"{leaving['name']} leaves")
        leaving["sock"].shutdown(socket.SHUT_WR)
        if next_pair(leaving["sock"], leaving["messages"]) is not None:
            raise ValueError(f"{leaving['name']} heard something after leaving")
        leaving["sock"].close()
        for bot in bots:
            hear(bot, ROOM, f"{leaving['name']} left")
    out.say("everyone has left")


def count(maximum):
    def parse(text):
        if not text.isdigit() or not 1 <= int(text) <= maximum:
            raise argparse.ArgumentTypeError(f"takes a whole number from 1 to {maximum}, not {text!r}")
        return int(text)
    return parse


def main():
    parser = argparse.ArgumentParser(description="lesson_09: a chat room")
    parser.add_argument("mode", nargs="?", choices=["server", "client"], help="without it: a demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=port_number, default=4109)
    parser.add_argument("--once", action="store_true")
    parser.add_argument("--wait", type=positive_seconds, default=10.0)
    parser.add_argument("--max-clients", type=count(1000), default=16)
    parser.add_argument("--name", default="guest")
    parser.add_argument("--script", action="store_true")
    args = parser.parse_args()
    if args.mode == "client" and args.port == 0:
        parser.error("a client needs the server's real port, not 0")
    if not args.name:
        parser.error("--name needs some text, not ''")
    try:
        if args.mode == "server":
            run(server, args, Out("server"))
        elif args.mode == "client":
            args.host = socket.gethostbyname(args.host)
            run(client, args, Out("client"))
        else:
            ports = queue.Queue()
            server_args = argparse.Namespace(**{**vars(args), "host": "127.0.0.1", "port": 0, "once": True})
            thread = threading.Thread(target=run, args=(server, server_args, Out("server", ports.put)),
                                      daemon=True)
            thread.start()
            args.port = ports.get(timeout=10)
            run(client, args, Out("client"))
            thread.join()
    except KeyboardInterrupt:
        pass


def run(side, args, out):
    try:
        side(args, out)
    except (OSError, ValueError) as error:
        out.error(explain(error, "the server" if out.role == "client" else "the client"))
        sys.exit(1)


if __name__ == "__main__":
    main()
