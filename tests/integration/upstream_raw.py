"""Raw-socket upstreams for the integration tests that need what upstream.mjs cannot do
(a small send buffer, answers that never end, a sender that notices the peer going away).
A test runs its script with PYTHONPATH="$AG_SOURCE_DIR/tests/integration"; the script
imports this module, names a handler and calls serve_forever."""
import socket
import threading


def read_head(c):
    """The request head from connection <c> (through the empty line), or None at EOF."""
    head = b""
    while b"\r\n\r\n" not in head:
        r = c.recv(4096)
        if not r:
            return None
        head += r
    return head


def send_bytes(c, left, on_sent=None):
    """Sends <left> bytes of "x" in 64 KiB blocks; on_sent(n) after each send. Raises
    OSError when the peer goes away."""
    block = b"x" * 65536
    while left > 0:
        n = c.send(block[:min(left, len(block))])
        left -= n
        if on_sent:
            on_sent(n)


def serve_forever(handler, port_file, backlog=16):
    """Listens on 127.0.0.1, port 0; writes the port to <port_file>; runs handler(conn, head)
    on a thread per connection, each with a 64 KiB send buffer, once its head is read."""
    def run(c):
        c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        head = read_head(c)
        if head is not None:
            handler(c, head)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(backlog)
    with open(port_file, "w") as f:
        f.write(str(s.getsockname()[1]))
    while True:
        c, _ = s.accept()
        threading.Thread(target=run, args=(c,), daemon=True).start()
