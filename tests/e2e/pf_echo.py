# pf_echo.py PORT MESSAGE: connects to 127.0.0.1:PORT (kubectl port-forward's local end),
# sends MESSAGE and prints what comes back (until as many bytes arrived, or 5 s).
import socket
import sys

port, msg = int(sys.argv[1]), sys.argv[2].encode()
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(msg)
got = b""
try:
    while len(got) < len(msg):
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
except socket.timeout:
    pass
s.close()
sys.stdout.write(got.decode(errors="replace"))
