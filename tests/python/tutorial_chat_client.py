"""A chat client in the style of the best-known Python sockets tutorials
(pythonprogramming.net's chat room among them), written for the tests: one
non-blocking socket, a 10-character length header before the username and
before each message, and a loop that calls recv until it raises
BlockingIOError. It joins lessons 9, 13 and 14's rooms unchanged.

usage: tutorial_chat_client.py PORT USERNAME MESSAGE PAIRS

Joins as USERNAME, sends MESSAGE, and prints each pair the room sends as
"name > text" until it has PAIRS of them, for 10 s at most.
"""

import errno
import socket
import sys
import time

HEADER_LENGTH = 10


def framed(text):
    data = text.encode("utf-8")
    return f"{len(data):<{HEADER_LENGTH}}".encode("utf-8") + data


def receive_message(client_socket):
    """One message, or False if the server closed; a BlockingIOError
    (nothing yet) goes to the caller, as in the tutorials. The socket is
    made blocking for the rest of a message once its header began."""
    header = client_socket.recv(HEADER_LENGTH)
    if not header:
        return False
    client_socket.setblocking(True)
    try:
        while len(header) < HEADER_LENGTH:
            header += client_socket.recv(HEADER_LENGTH - len(header))
        length = int(header.decode("utf-8").strip())
        data = b""
        while len(data) < length:
            data += client_socket.recv(length - len(data))
        return data.decode("utf-8")
    finally:
        client_socket.setblocking(False)


def main():
    port, username, message, pairs = sys.argv[1:5]
    client_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client_socket.connect(("127.0.0.1", int(port)))
    client_socket.setblocking(False)
    client_socket.send(framed(username))
    client_socket.send(framed(message))
    heard, until = 0, time.monotonic() + 10
    while heard < int(pairs) and time.monotonic() < until:
        try:
            while True:
                name = receive_message(client_socket)
                if name is False:
                    print("Connection closed by the server")
                    return
                text = receive_message(client_socket)
                print(f"{name} > {text}", flush=True)
                heard += 1
        except IOError as e:
            if e.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                print("Reading error: {}".format(str(e)))
                sys.exit(1)
            time.sleep(0.01)  # nothing yet: the tutorials loop again


main()
