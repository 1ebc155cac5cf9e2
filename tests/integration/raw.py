# Raw socket client for the integration tests: sends stdin to 127.0.0.1:PORT byte for byte
# (no normalization, unlike curl) and prints what comes back until the peer closes or
# 3 seconds pass without data.
import socket
import sys

port = int(sys.argv[1])
data = sys.stdin.buffer.read()
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(data)
s.settimeout(3)
out = b""
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
except socket.timeout:
    pass
sys.stdout.buffer.write(out)
