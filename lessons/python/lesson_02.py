"""Lesson 2: the buffer is 7 bytes, so one recv gets 7 bytes. The server is lesson 1's."""

import socket

from common import main
from lesson_01 import server


def client(args, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    out.say(f"connecting to {args.host}:{args.port}")
    s.settimeout(args.wait)
    s.connect((args.host, args.port))
    msg = s.recv(7)
    out.say(f"recv(7) returned {len(msg)} bytes: {msg!r}")
    out.say(msg.decode("utf-8"))
    out.say("the buffer is full, so anything else the server sent is still unread; closing anyway")
    s.close()


if __name__ == "__main__":
    main("lesson_02: tiny buffer truncation", 4102, server, client)
