# The PROXY protocol cases of t_proxy_protocol.sh that need raw bytes: each connects to
# the gateway on 127.0.0.1:PORT from a chosen loopback source address (the trusted one or
# not), sends a header (or garbage, or nothing) and then, when the header should be
# accepted, a request over TLS (--ca) or plain HTTP, and compares what comes back with
# what the case expects. Prints one matrix line per case ("case | expected | observed")
# and exits 1 if any differs. Requests that should reach the upstream carry ?case=NAME,
# so the shell side can find their audit events and upstream records.
import argparse
import socket
import ssl
import struct
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--ca", help="TLS listener: the CA of its certificate")
ap.add_argument("--token", required=True)
ap.add_argument("--trusted", default="127.0.0.2")
ap.add_argument("--untrusted", default="127.0.0.1")
ap.add_argument("--header-timeout", type=float, required=True)
ap.add_argument("--only", help="comma-separated case names")
args = ap.parse_args()

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2(ver_cmd, fam, body):
    return SIG + bytes([ver_cmd, fam]) + struct.pack(">H", len(body)) + body


def v2_tcp4(src, dst, sport, dport, tlvs=b""):
    return v2(0x21, 0x11, socket.inet_pton(socket.AF_INET, src) +
              socket.inet_pton(socket.AF_INET, dst) + struct.pack(">HH", sport, dport) + tlvs)


def v2_tcp6(src, dst, sport, dport):
    return v2(0x21, 0x21, socket.inet_pton(socket.AF_INET6, src) +
              socket.inet_pton(socket.AF_INET6, dst) + struct.pack(">HH", sport, dport))


def connect(src):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(args.header_timeout + 3)
    s.connect(("127.0.0.1", args.port))
    return s


def read_all(s, limit):
    """Bytes until EOF, a reset or <limit> seconds; and the seconds it took."""
    t0 = time.monotonic()
    out = b""
    s.settimeout(limit)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return out, time.monotonic() - t0


def request(s, name):
    """A GET over <s> (TLS when --ca); returns the status line's code or the error."""
    try:
        if args.ca:
            ctx = ssl.create_default_context(cafile=args.ca)
            s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
        s.sendall(("GET /api/v1/namespaces/default/pods?case=%s HTTP/1.1\r\nHost: gw\r\n"
                   "Authorization: Bearer %s\r\nConnection: close\r\n\r\n"
                   % (name, args.token)).encode())
        out, _ = read_all(s, 5)
        return out.split(b" ", 2)[1].decode() if out.startswith(b"HTTP/1.1 ") else "no answer"
    except (ssl.SSLError, OSError) as e:
        return "error: %s" % e.__class__.__name__


def answer(out):
    """'400 + close' style summary of a refusal read to EOF."""
    if not out:
        return "closed, no answer"
    if out.startswith(b"HTTP/1.1 "):
        return out.split(b" ", 2)[1].decode() + " + close"
    return "%d bytes of something else" % len(out)


def accepted(name, src, header):
    s = connect(src)
    if header:
        s.sendall(header)
    return request(s, name)


def refused(src, data, shut=False, pace=0.0):
    """Sends <data> (one byte every <pace> seconds), then reads the answer to EOF."""
    s = connect(src)
    t0 = time.monotonic()
    try:
        if pace:
            for b in data:
                s.sendall(bytes([b]))
                s.settimeout(pace)
                try:  # an answer (or EOF) ends the trickle
                    s.recv(1, socket.MSG_PEEK)
                    break
                except socket.timeout:
                    pass
        else:
            s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    out, _ = read_all(s, args.header_timeout + 3)
    return answer(out), time.monotonic() - t0


def client_hello():
    """The first flight of a real TLS client (for "no header from a trusted source")."""
    ctx = ssl.create_default_context(cafile=args.ca) if args.ca else None
    inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inb, outb, server_hostname="127.0.0.1")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outb.read()


T, U = args.trusted, args.untrusted
first = (client_hello() if args.ca else
         b"GET /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: gw\r\n\r\n")
H = args.header_timeout
v1_ok = b"PROXY TCP4 198.51.100.7 10.0.0.1 40001 443\r\n"
tlv = b"\x01\x00\x02h2" + b"\x04\x00\x03abc"  # ALPN and NOOP, skipped
cases = [
    # name, run, expected
    ("v1-tcp4", lambda: accepted("v1-tcp4", T, v1_ok), "200"),
    ("v1-tcp6", lambda: accepted("v1-tcp6", T, b"PROXY TCP6 2001:db8::7 2001:db8::1 40002 443\r\n"), "200"),
    ("v1-unknown", lambda: accepted("v1-unknown", T, b"PROXY UNKNOWN\r\n"), "200"),
    ("v2-tcp4-tlvs", lambda: accepted("v2-tcp4-tlvs", T, v2_tcp4("203.0.113.9", "10.0.0.1", 40003, 443, tlv)), "200"),
    ("v2-tcp6", lambda: accepted("v2-tcp6", T, v2_tcp6("2001:db8::9", "2001:db8::1", 40004, 443)), "200"),
    ("v2-local", lambda: accepted("v2-local", T, v2(0x20, 0x00, b"")), "200"),
    ("v2-unspec", lambda: accepted("v2-unspec", T, v2(0x21, 0x00, b"xyz")), "200"),
    ("untrusted-no-header", lambda: accepted("untrusted-no-header", U, b""), "200"),
    ("untrusted-v1", lambda: refused(U, v1_ok + first)[0], "400 + close"),
    ("untrusted-v2", lambda: refused(U, v2_tcp4("198.51.100.7", "10.0.0.1", 1, 2) + first)[0], "400 + close"),
    ("untrusted-v2-signature-only", lambda: refused(U, SIG)[0], "400 + close"),
    ("trusted-no-header", lambda: refused(T, first)[0], "400 + close"),
    ("bad-signature-v1-lowercase", lambda: refused(T, b"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n")[0], "400 + close"),
    ("bad-signature-v2", lambda: refused(T, SIG[:11] + b"X\x21\x11\x00\x0c" + bytes(12))[0], "400 + close"),
    ("v1-bad-protocol", lambda: refused(T, b"PROXY TCP9 1.2.3.4 5.6.7.8 1 2\r\n")[0], "400 + close"),
    ("v1-bad-port-65536", lambda: refused(T, b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n")[0], "400 + close"),
    ("v1-bad-port-leading-zero", lambda: refused(T, b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n")[0], "400 + close"),
    ("v1-bad-address-256", lambda: refused(T, b"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n")[0], "400 + close"),
    ("v1-family-mismatch", lambda: refused(T, b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n")[0], "400 + close"),
    ("v1-bare-lf", lambda: refused(T, b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n")[0], "400 + close"),
    ("v1-oversized-no-crlf", lambda: refused(T, b"PROXY UNKNOWN " + b"x" * 200)[0], "400 + close"),
    ("v2-oversized-length", lambda: refused(T, SIG + b"\x21\x11\xff\xff")[0], "400 + close"),
    ("v2-bad-version", lambda: refused(T, v2(0x11, 0x11, bytes(12)))[0], "400 + close"),
    ("v2-bad-command", lambda: refused(T, v2(0x22, 0x11, bytes(12)))[0], "400 + close"),
    ("v2-bad-family", lambda: refused(T, v2(0x21, 0x41, bytes(12)))[0], "400 + close"),
    ("v2-length-short-for-family", lambda: refused(T, v2(0x21, 0x21, bytes(12)))[0], "400 + close"),
    ("v2-tlv-past-end", lambda: refused(T, v2_tcp4("1.2.3.4", "5.6.7.8", 1, 2, b"\x02\x00\x09ab"))[0], "400 + close"),
    ("v1-truncated-eof", lambda: refused(T, b"PROXY TCP4 1.2.3.4 5.6", shut=True)[0], "closed, no answer"),
    ("v2-truncated-eof", lambda: refused(T, v2_tcp4("1.2.3.4", "5.6.7.8", 1, 2)[:20], shut=True)[0], "closed, no answer"),
]


def slow(src, data, pace):
    """Refused at the header timeout (counted from the connection's start)?"""
    got, secs = refused(src, data, pace=pace)
    when = "at the header timeout" if H - 0.3 <= secs <= H + 1.5 else "after %.1f s" % secs
    return "%s %s" % (got, when)


slow_cases = [
    ("v1-slow-byte-per-second", lambda: slow(T, v1_ok, 1.0), "408 + close at the header timeout"),
    ("v2-slow-byte-per-second", lambda: slow(T, v2_tcp4("1.2.3.4", "5.6.7.8", 1, 2), 1.0),
     "408 + close at the header timeout"),
    ("trusted-silent", lambda: slow(T, b"", 0), "closed, no answer at the header timeout"),
]
only = set(args.only.split(",")) if args.only else None
bad = 0
for name, run, want in cases + slow_cases:
    if only and name not in only:
        continue
    got = run()
    mark = "ok" if got == want else "MISMATCH"
    bad += got != want
    print("%-28s | %-28s | %s%s" % (name, want, got, "" if got == want else "   <-- " + mark))
    sys.stdout.flush()
sys.exit(1 if bad else 0)
