"""Lesson 8: many clients at once, a thread for each.

Lesson 3's server serves one client at a time: while it holds one connection,
the next client waits in the backlog. This server hands each accepted
connection to a thread of its own and goes straight back to accept(), so
clients are served side by side, and one idle client delays no one. Threads
cost memory, so it serves at most --max-clients at once; a client beyond that
is told so and closed. The client's --count N starts N clients at once.
"""

import socket
import threading

from common import (
    Lesson,
    LessonError,
    Option,
    address_text,
    escape_unprintable,
    is_past_deadline,
    is_timeout,
    listener,
    os_error_text,
)

MAX_CLIENTS = Option(
    "--max-clients",
    ("count", 1000),
    "N",
    "4",
    "server",
    "how many clients it serves at once",
)
HOLD = Option(
    "--hold",
    ("count", 3600),
    "SECONDS",
    "30",
    "server",
    "how long to wait for a client to hang up",
)
COUNT = Option(
    "--count",
    ("count", 100),
    "N",
    "1",
    "client",
    "how many clients to start at once",
)
STAY = Option(
    "--stay",
    ("count", 3600),
    "SECONDS",
    "1",
    "client",
    "how long each client stays connected",
)

# The longest greeting a client reads: a line from a server is a few dozen
# bytes, and a hostile one must not fill the client's memory.
MAX_GREETING = 200
# What one recv takes while the server holds a connection (Rust's io::copy
# reads 8 KiB at a time).
HOLD_BUFFER = 8192


def error_text(error):
    """An error in its own words, as Rust's `{error}` prints it (not
    explained)."""
    return os_error_text(error) if isinstance(error, OSError) else str(error)


def server(config, out):
    s = listener(config, out)
    max_clients = config.extra[MAX_CLIENTS.flag]
    hold = config.extra[HOLD.flag]
    # `server --once` serves one client; the demo's server serves as many as
    # the demo's client starts (--count).
    to_serve = config.extra[COUNT.flag] if config.once else None
    # How many connections have a thread now. Threads add and take away at
    # once, so the count is changed under a lock.
    connected = [0]
    lock = threading.Lock()
    threads = []  # with --once, the threads to wait for before returning
    number = 0
    try:
        while to_serve is None or number < to_serve:
            try:
                clt, adr = s.accept()
            except OSError as error:
                if config.once:
                    raise
                out.error(f"accept failed: {os_error_text(error)}")
                continue
            number += 1
            address = address_text(adr)
            with lock:
                full = connected[0] >= max_clients
                if not full:
                    connected[0] += 1
            if full:
                out.say(
                    f"connection {number} from {address}: refused, "
                    f"{max_clients} clients are "
                    "connected already (--max-clients)"
                )
                # Best effort: a client that cannot be told is closed all the
                # same.
                try:
                    clt.sendall(
                        f"the server is full ({max_clients} clients); "
                        "try again later\n".encode()
                    )
                except OSError:
                    pass
                clt.close()
                continue
            out.say(f"connection {number} from {address}: a thread of its own")

            def run(clt=clt, number=number, address=address):
                try:
                    serve_one(clt, number, address, hold, out)
                except (OSError, LessonError) as error:
                    out.error(f"connection {number}: {error_text(error)}")
                finally:
                    clt.close()
                    with lock:
                        connected[0] -= 1

            # The thread takes the accepted socket: the loop goes back to
            # accept at once.
            thread = threading.Thread(target=run, daemon=True)
            try:
                thread.start()
            except RuntimeError as error:
                # No thread (out of memory or of threads): this client is
                # closed, and the server goes on.
                clt.close()
                with lock:
                    connected[0] -= 1
                out.error(f"connection {number}: {error}")
                continue
            if config.once:
                threads.append(thread)
    finally:
        for thread in threads:
            thread.join()
        s.close()


def serve_one(clt, number, address, hold, out):
    """What one thread does for its client: tells it which connection it is,
    then holds the connection until the client hangs up, as lesson 3 does."""
    clt.sendall(f"you are connection {number}, from {address}\n".encode())
    # The hold is bounded in all, however slowly the client sends.
    clt.set_deadline(hold)
    try:
        while clt.recv(HOLD_BUFFER):
            pass
        out.say(f"connection {number}: the client hung up; its thread ends")
    except (OSError, LessonError) as error:
        if not is_past_deadline(error):
            raise
        out.say(f"connection {number}: no hang-up after {hold} s: closing it")


def client(config, out):
    count = config.extra[COUNT.flag]
    stay = config.extra[STAY.flag]
    errors = [None] * count
    threads = []
    for number in range(1, count + 1):
        # Each thread says when its client is connected, so that the clients
        # connect in order (and the server numbers them so); after that they
        # all run at once.
        connected = threading.Event()
        label = "" if count == 1 else f"client {number}: "

        def run(index=number - 1, label=label, connected=connected):
            try:
                one_client(config, out, stay, label, connected)
            except (OSError, LessonError) as error:
                errors[index] = error
            except (
                Exception
            ):  # noqa: BLE001 - as Rust reports a panicked thread
                errors[index] = LessonError("a client's thread panicked")
            finally:
                # A client that fails says so too: the next one starts at once.
                connected.set()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        threads.append(thread)
        connected.wait()
    for thread in threads:
        thread.join()
    if count == 1:
        if errors[0] is not None:
            raise errors[0]
        return
    failures = 0
    for number, error in enumerate(errors, 1):
        if error is not None:
            out.error(f"client {number}: {error_text(error)}")
            failures += 1
    if failures:
        raise LessonError(f"{failures} of the {count} clients failed")


def one_client(config, out, stay, label, connected):
    """One client: connects, reads the server's greeting line, stays connected
    for `stay` seconds, and hangs up."""
    server = config.wire(
        socket.socket(socket.AF_INET, socket.SOCK_STREAM), out
    )
    try:
        out.say(f"{label}connecting to {address_text(config.server)}")
        server.connect(config.server, config.wait)
        connected.set()
        server.set_read_timeout(config.wait)

        # The greeting is one line: read until the newline, the close, or
        # MAX_GREETING bytes.
        greeting = bytearray()
        while not greeting.endswith(b"\n") and len(greeting) < MAX_GREETING:
            data = server.recv(MAX_GREETING - len(greeting))
            if not data:
                break
            greeting += data
        text = bytes(greeting).decode("utf-8", errors="replace").rstrip("\n")
        out.say(f"{label}the server says: {escape_unprintable(text)}")

        # Stay connected: a recv that waits `stay`, unless the server closes.
        server.set_read_timeout(stay)
        try:
            data = server.recv(MAX_GREETING)
        except (OSError, LessonError) as error:
            if not is_timeout(error):
                raise
            out.say(f"{label}hanging up after staying {stay} s")
            return
        if not data:
            out.say(f"{label}the server closed the connection")
        else:
            out.say(f"{label}the server sent more than a greeting: hanging up")
    finally:
        server.close()


LESSON = Lesson(
    "lesson_08",
    "many clients at once",
    4108,
    server,
    client,
    options=[MAX_CLIENTS, HOLD, COUNT, STAY],
)

if __name__ == "__main__":
    LESSON.main()
