"""Lesson 12: names and addresses: getaddrinfo, IPv6 and dual stack.

The server listens where --host says, as every lesson's does, or, with
--hostname, where the tutorial's bind((socket.gethostname(), 1234)) does.
On :: it is dual stack: one IPv6 socket takes IPv4 clients too, and sees
them as IPv4-mapped addresses (::ffff:127.0.0.1). It tells each client the
address it sees. The client, with --name, looks the name up itself and tries
each address in turn, as real clients do. Same command line as
lessons/lesson_12.rs.
"""

import ipaddress
import os
import queue
import socket
import threading

import common

# The longest a lookup may take: a DNS server that never answers would
# otherwise hold the program for as long as the system's resolver waits.
LOOKUP_WAIT = 10
MOST = 1024  # the most the client reads: the server's line is far shorter


def lookup(name, port):
    """socket.getaddrinfo: every address of name for TCP, in the order the
    system prefers. The call cannot be interrupted, so it runs on a thread
    of its own, waited for at most LOOKUP_WAIT; a daemon thread still
    waiting ends with the program."""
    answer = queue.Queue()

    def ask():
        try:
            answer.put(socket.getaddrinfo(name, port, type=socket.SOCK_STREAM))
        except (OSError, UnicodeError):
            answer.put(None)

    threading.Thread(target=ask, daemon=True).start()
    try:
        found = answer.get(timeout=LOOKUP_WAIT)
    except queue.Empty:
        raise common.LessonError(
            f"no answer for the host {common.escape(repr(name))} in "
            f"{LOOKUP_WAIT} s") from None
    if found is None:
        raise common.LessonError(
            f"cannot find the host {common.escape(repr(name))}")
    # Each answer is (family, type, proto, canonname, sockaddr).
    return [(family, sockaddr) for family, _, _, _, sockaddr in found]


def tutorials_address(args, out):
    """Where the tutorial's server listens: the first IPv4 address of
    gethostname(), as bind() on an AF_INET socket takes it."""
    name = socket.gethostname()
    found = [a for f, a in lookup(name, args.port) if f == socket.AF_INET]
    if not found:
        raise common.LessonError(f"the host name {name!r} has no IPv4 address")
    out.say(f"gethostname() is {name!r}, at {found[0][0]}")
    args.host = found[0][0]  # so that an error names this address
    return socket.AF_INET, found[0]


def server(args, out):
    family, address = (tutorials_address(args, out) if args.hostname
                       else (args.family, args.address))
    # AF_INET6 for an IPv6 address, AF_INET for an IPv4 one.
    with socket.socket(family, socket.SOCK_STREAM) as s:
        if os.name == "posix":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            # IPV6_V6ONLY off: on ::, IPv4 clients too (dual stack). Set
            # every time: the default differs (Linux: off, from
            # /proc/sys/net/ipv6/bindv6only; Windows and OpenBSD: on).
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY,
                         int(args.ipv6_only))
        elif args.ipv6_only:
            raise common.LessonError(
                "--ipv6-only needs an IPv6 --host, such as :: or ::1")
        s.bind(address)
        s.listen(5)
        out.listening(s)
        while True:
            clt, adr = out.traced(s.accept, waits_for="a client")
            seen = common.address_text(adr)
            out.say(f"Connection to {seen} established")
            if family == socket.AF_INET6:
                four = ipaddress.IPv6Address(adr[0]).ipv4_mapped
                if four:
                    out.say(f"that is the IPv4 client {four}")
            # What the server sees is what it tells: across machines, or
            # through a NAT, it may not be what the client thinks it is.
            try:
                out.traced(clt.sendall, f"you are {seen}\n".encode(),
                           waits_for="room in the send buffer")
            except OSError as error:
                # A client that left early must not stop the server.
                out.error(f"sending to {seen}: "
                          f"{common.explain(error, args)}")
            clt.close()
            if args.once:
                break


def client(args, out):
    # The demo looks localhost up; a client told --host uses the one
    # address common.resolve found for it, IPv4 first, as every lesson does.
    name = args.look_up or ("localhost" if args.demo else None)
    if name:
        found = lookup(name, args.port)
        shown = ", ".join(common.address_text(a) for _, a in found)
        out.say(f"getaddrinfo({name!r}): {shown}")
    else:
        found = [(args.family, args.address)]
    for family, address in found:
        out.say(f"trying {common.address_text(address)}")
        args.address = address  # so that an error names this address
        s = socket.socket(family, socket.SOCK_STREAM)
        try:
            s.settimeout(args.wait)
            out.traced(s.connect, address, waits_for="the handshake")
        except OSError as error:
            s.close()
            if address is found[-1][1]:
                raise
            # Not the end: the next address may answer.
            out.warn(common.explain(error, args))
            continue
        with s:
            talk(s, out)
        return


def talk(s, out):
    out.say(f"connected from {common.address_text(s.getsockname())}")
    reply = b""
    while len(reply) < MOST:  # until the server closes, at most MOST bytes
        piece = out.traced(s.recv, MOST - len(reply), waits_for="bytes")
        if not piece:
            break
        reply += piece
    out.hex("received", reply)
    text = common.escape(reply.decode("utf-8", errors="replace").rstrip())
    out.say(f"the server says: {text}")


if __name__ == "__main__":
    top, server_options, client_options = common.parser(
        "lesson_12", "names and addresses: getaddrinfo, IPv6 and dual stack",
        port=4112, wait=5.0)
    server_options.add_argument(
        "--hostname", action="store_true",
        help="listen on gethostname()'s first IPv4 address, as the tutorial "
        "does (not on --host)")
    server_options.add_argument(
        "--ipv6-only", action="store_true",
        help="on an IPv6 address, take IPv6 clients only (IPV6_V6ONLY on)")
    client_options.add_argument(
        # dest: args.name is the lesson's own name, in common.py.
        "--name", dest="look_up", metavar="NAME", type=common.utf8,
        help="look NAME up, and try each of its addresses in turn (not "
        "--host)")
    common.main(top, server, client)
