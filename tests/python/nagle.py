"""Nagle's algorithm and the delayed ACK, on one connection (Linux).

    python3 nagle.py

A client asks 10 questions on one connection, each a 10-character length
header and a 30-byte body, and reads each answer before the next question;
the server answers a question once it has all of it. Three ways to send a
question: the header and the body in two sends, the same with TCP_NODELAY,
and header and body in one send. After each question, the client asks its
kernel how many of the question's bytes it has not sent yet (the ioctl
SIOCOUTQNSD): bytes held back, waiting for an ACK. Prints, for each way,
whether the body was ever held back. Timings vary from run to run; what is
held back is the behaviour behind them.
"""

# ANCHOR: nagle
import fcntl
import socket
import struct
import threading

ROUNDS = 10
SIOCOUTQNSD = 0x894B  # Linux: bytes in the send queue not yet sent


def recv_exactly(sock, size):
    data = b""
    while len(data) < size:
        piece = sock.recv(size - len(data))
        if not piece:
            raise EOFError("the peer closed")
        data += piece
    return data


def serve(listener):
    connection, _ = listener.accept()
    with connection:
        for _ in range(ROUNDS):
            body = recv_exactly(connection, int(recv_exactly(connection, 10)))
            connection.sendall(b"%-10d" % len(body) + body)


def unsent(sock):
    raw = fcntl.ioctl(sock, SIOCOUTQNSD, struct.pack("i", 0))
    return struct.unpack("i", raw)[0]


def ask(how):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        server = threading.Thread(target=serve, args=(listener,))
        server.start()
        with socket.create_connection(listener.getsockname(), 10) as s:
            if how == "TCP_NODELAY":
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            held_back = 0
            for _ in range(ROUNDS):
                body = b"x" * 30
                header = b"%-10d" % len(body)
                if how == "one send":
                    s.sendall(header + body)
                else:
                    s.sendall(header)
                    s.sendall(body)
                if unsent(s) > 0:
                    held_back += 1
                recv_exactly(s, int(recv_exactly(s, 10)))
        server.join()
    if held_back:
        print(f"{how}: the body waited in the send queue for an ACK")
    else:
        print(f"{how}: the body went out at once, every round")
# ANCHOR_END: nagle


if __name__ == "__main__":
    for how in ("two sends", "TCP_NODELAY", "one send"):
        ask(how)
