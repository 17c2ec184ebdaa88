"""A DNS server that never answers, for tests/lesson_12.rs: holds UDP port
53 on 127.0.0.1 (in a network namespace of the test's own), then runs the
command it was given, so that the port is held before the command asks."""

import os
import socket
import sys

held = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
held.bind(("127.0.0.1", 53))
if os.fork() == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
sys.exit(os.waitstatus_to_exitcode(os.wait()[1]))
