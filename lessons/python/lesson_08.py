"""Lesson 8: many clients at once, a thread for each.

Lesson 3's server serves one client at a time: while it holds one connection,
the next client waits in the backlog. This server hands each accepted
connection to a thread of its own and goes straight back to accept(), so
clients are served side by side, and one idle client delays no one. Threads
cost memory, so it serves at most --max-clients at once; a client beyond that
is told so and closed. The client's --count N starts N clients at once. Same
command line as lessons/lesson_08.rs.
"""

import errno
import os
import socket
import threading
import time

import common

# The longest greeting a client reads: a line from a server is a few dozen
# bytes, and a hostile one must not fill the client's memory.
MAX_GREETING = 200
# The pause after a failed accept. An accept that fails for want of file
# descriptors (EMFILE) fails again at once until a client leaves: without a
# pause, the loop would spin, printing thousands of errors a second.
ACCEPT_PAUSE = 0.5
# How many connections the system may hold before the server accepts them
# (listen's backlog): with 5, a burst of clients loses some SYNs, and those
# clients wait a second for the retry.
BACKLOG = 128
# What a client that gets no thread is told in the server's log.
NO_THREAD = ("no thread could be started for it (out of memory or of "
             "threads): closed")


def server(args, out):
    with socket.socket(args.family, socket.SOCK_STREAM) as s:
        if os.name == "posix":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(args.address)
        s.listen(BACKLOG)
        out.listening(s)
        # The free places: a thread takes one, and gives it back when it
        # ends. A semaphore counts them safely from any thread.
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
                out.traced(time.sleep, ACCEPT_PAUSE, waits_for="time to pass")
                continue
            number += 1
            address = common.address_text(adr)
            if not places.acquire(blocking=False):
                clients = common.plural(args.max_clients, "client")
                out.say(f"connection {number} from {address}: refused, "
                        f"{clients} already (--max-clients)")
                try:  # best effort: a client that cannot be told is closed
                    clt.sendall(f"the server is full ({clients}); "
                                "try again later\n".encode())
                except OSError:
                    pass
                clt.close()
                continue
            out.say(f"connection {number} from {address}: a thread of its own")

            def run(clt=clt, number=number, address=address):
                with clt:  # closed when the thread ends
                    try:
                        serve_one(clt, number, address, args, out)
                    except OSError as error:
                        out.error(f"connection {number}: "
                                  f"{common.explain(error, args)}")
                    finally:
                        places.release()

            # The thread takes the accepted socket: the loop goes back to
            # accept at once.
            thread = threading.Thread(target=run, daemon=True)
            try:
                thread.start()
            except RuntimeError:  # "can't start new thread"
                # The system refused: this client is closed, and the server
                # goes on.
                clt.close()
                places.release()
                out.error(f"connection {number}: {NO_THREAD}")
                continue
            if args.once:  # then wait for its thread
                threads.append(thread)
                break
        for thread in threads:
            thread.join()


def serve_one(clt, number, address, args, out):
    """What one thread does for its client: tells it which connection it is,
    then holds the connection until the client hangs up, as lesson 3 does."""
    label = f"connection {number}: "
    greeting = f"you are connection {number}, from {address}\n".encode()
    out.trace(f"{label}sendall({len(greeting)} bytes) waits for room")
    clt.sendall(greeting)
    out.trace(f"{label}sendall({len(greeting)} bytes) -> done")
    out.hex("sent", greeting)
    # recv until the client hangs up (b''), each recv waiting what is left
    # of the hold: the hold is bounded in all, however slowly it sends.
    end = time.monotonic() + args.hold
    while (left := end - time.monotonic()) > 0:
        clt.settimeout(left)
        try:
            if not out.traced(clt.recv, 1024, label=label,
                              waits_for="bytes, or the hang-up"):
                out.say(f"{label}the client hung up")
                return
        except TimeoutError:
            break
    out.say(f"{label}no hang-up in {args.hold:g} s: closing it")


def client(args, out):
    errors = [None] * args.count
    threads = []
    for number in range(1, args.count + 1):
        # Each thread says when its client is connected, so that the clients
        # connect in order (and the server numbers them so); after that they
        # all run at once.
        connected = threading.Event()
        label = "" if args.count == 1 else f"client {number}: "

        def run(index=number - 1, label=label, connected=connected):
            try:
                one_client(args, out, label, connected)
            except (OSError, common.LessonError) as error:
                errors[index] = error
            finally:
                connected.set()  # a client that failed lets the next start

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        threads.append(thread)
        connected.wait()
    for thread in threads:
        thread.join()
    if args.count == 1:
        if errors[0] is not None:
            raise errors[0]
        return
    for number, error in enumerate(errors, 1):
        if error is not None:
            out.error(f"client {number}: {common.explain(error, args)}")
    failures = sum(error is not None for error in errors)
    if failures:
        raise common.LessonError(
            f"{failures} of the {args.count} clients failed")


def one_client(args, out, label, connected):
    """One client: connects, reads the server's greeting line, stays
    connected for --stay seconds, and hangs up."""
    with socket.socket(args.family, socket.SOCK_STREAM) as s:
        out.say(f"{label}connecting to {common.address_text(args.address)}")
        s.settimeout(args.wait)
        out.traced(s.connect, args.address, label=label,
                   waits_for="the handshake")
        connected.set()
        # The greeting is one line: read until the newline, the close, or
        # MAX_GREETING bytes.
        greeting = b""
        while not greeting.endswith(b"\n") and len(greeting) < MAX_GREETING:
            try:
                data = out.traced(s.recv, MAX_GREETING - len(greeting),
                                  label=label, waits_for="bytes")
            except ConnectionResetError:
                # What a server's close does to a connection still in its
                # backlog: it was never accepted.
                raise common.LessonError(
                    "never accepted: reset when the server stopped listening")
            if not data:
                break
            out.hex("received", data)
            greeting += data
        text = greeting.decode("utf-8", errors="replace").rstrip("\n")
        out.say(f"{label}the server says: {common.escape(text)}")

        # Stay connected: a recv that waits --stay, unless the server closes.
        if args.stay:
            s.settimeout(args.stay)
            try:
                if not out.traced(s.recv, 1, label=label,
                                  waits_for="the server's close"):
                    out.say(f"{label}the server closed the connection")
                    return
                out.say(f"{label}the server sent more than a greeting: "
                        "hanging up")
                return
            except TimeoutError:
                pass
        out.say(f"{label}hanging up after staying {args.stay:g} s")


if __name__ == "__main__":
    top, server_options, client_options = common.parser(
        "lesson_08", "many clients at once", port=4108, wait=10.0)
    server_options.add_argument(
        "--max-clients", type=common.whole(1, 1000), default=4, metavar="N",
        help="how many clients it serves at once")
    server_options.add_argument(
        "--hold", type=common.seconds, default=30.0, metavar="SECONDS",
        help="how long to wait for a client to hang up")
    client_options.add_argument(
        "--count", type=common.whole(1, 100), default=1, metavar="N",
        help="how many clients to start at once")
    client_options.add_argument(
        "--stay", type=common.seconds, default=1.0, metavar="SECONDS",
        help="how long each client stays connected")
    common.main(top, server, client)
