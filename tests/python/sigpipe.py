"""SIGPIPE: what a send to a connection the peer has reset does to a
process that has not set the signal aside.

    python3 sigpipe.py default       # SIGPIPE's default action, as in C
    python3 sigpipe.py nosignal      # the same, each send with MSG_NOSIGNAL

Python, like Rust, ignores SIGPIPE from its start, so that such a send
raises BrokenPipeError; a C program has the default action, and dies.
"""

import signal
import socket
import sys

# ANCHOR: sigpipe
signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # as a C program starts
flags = socket.MSG_NOSIGNAL if sys.argv[1] == "nosignal" else 0
with socket.create_server(("127.0.0.1", 0)) as listener:
    client = socket.create_connection(listener.getsockname())
    peer, _ = listener.accept()
    peer.close()  # a FIN: the peer's program will read no more
    sent = client.send(b"hello", flags)  # into this side's kernel: fine
    print(f"the first send returned {sent}", flush=True)
    try:
        while True:  # until the peer's kernel has answered with an RST
            client.send(b"hello", flags)
    except BrokenPipeError as error:
        print(f"send raised BrokenPipeError: {error.strerror}")
# ANCHOR_END: sigpipe
