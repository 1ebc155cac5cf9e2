# Raw socket client for the integration tests: sends stdin to 127.0.0.1:PORT byte for byte
# (no normalization, unlike curl) and prints what comes back until the peer closes or
# 3 seconds pass without data. A reset (the server closing on an oversized head while we
# still send) ends the output instead of failing: what arrived before it is printed.
import socket
import sys

port = int(sys.argv[1])
data = sys.stdin.buffer.read()
s = socket.create_connection(("127.0.0.1", port), timeout=5)
try:
    s.sendall(data)
except OSError:
    pass
s.settimeout(3)
out = b""
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
except OSError:  # socket.timeout or a reset
    pass
sys.stdout.buffer.write(out)
