"""A peer that vanishes sends no FIN and no RST (Linux, in a network
namespace of its own):

    unshare -rn python3 vanished_peer.py

`unshare -rn` gives the program a network of its own, with only a loopback
interface, which it brings up. A client connects to a server there; then the
interface goes down, as if the server's machine had lost its power or its
cable: every packet is lost, and nothing at all reaches the client. Run
twice: a client whose recv has a timeout, and one with TCP keepalive.
"""

import socket
import subprocess


def interface(state):
    subprocess.run(["ip", "link", "set", "lo", state], check=True)


# ANCHOR: vanish
def vanish(listener, keepalive):
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    if keepalive:
        # After 1 s of silence, probe every 1 s; 2 probes unanswered: dead.
        client.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2)
        client.settimeout(30)
    else:
        client.settimeout(3)
    interface("down")  # the server's machine is gone
    try:
        client.recv(1024)
    except TimeoutError as error:
        if error.errno is None:  # socket.timeout: settimeout's doing
            print(f"recv: nothing in {client.gettimeout():g} s (settimeout);"
                  " the connection still looks open")
        else:  # ETIMEDOUT, from the kernel
            print(f"recv: {error.strerror}: 2 keepalive probes unanswered")
    finally:
        interface("up")
        client.close()
        server.close()
# ANCHOR_END: vanish


if __name__ == "__main__":
    interface("up")
    with socket.create_server(("127.0.0.1", 0)) as listener:
        vanish(listener, keepalive=False)
        vanish(listener, keepalive=True)
