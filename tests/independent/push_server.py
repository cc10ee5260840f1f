"""A push service for tests, written from RFC 8030, 8291 and 8292 and
docs/PROTOCOL.md (section 5, SetPushEndpoint, "Wake-ups"), apart from the
server: it makes a device's keys as a UnifiedPush distributor's app would,
can register them with a kith server as that device (over TCP+TLS, with the
independent client, then disconnects), and takes WebPush requests on
loopback. Each request's VAPID signature is checked against the key the
server published (PushKey) and its body decrypted with http_ece; one JSON
line per request is printed.

    python3 push_server.py [--register HOST PORT PIN USER PASSWORD DEVICE]
                           [--vapid-key HEX] [--no-vapid] [--answers 500,429:1,307,201]
                           [--tls CERT KEY]

First line: {"url", "p256dh", "auth", "vapid_key" (when known) and "token"
(the device's login token, when registered), in hex.
Then per request: {"at": unix seconds, "path", "status" (what was answered),
"vapid": "ok" | "absent" | why it failed, "payload": the decrypted JSON or
null, "error": why it did not decrypt}.
--answers gives the statuses of the first requests in order ("429:1" adds
Retry-After: 1; a 3xx adds a Location); later ones get 201. With --tls it
serves https://localhost with that certificate.
"""

import argparse
import base64
import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

import kith_client as k


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_vapid(header: str, vapid_key: bytes, origin: str) -> str:
    """RFC 8292: `vapid t=<JWT>, k=<key>`; the JWT is ES256 over the
    server's key, for this origin, not expired."""
    if not header:
        return "absent"
    if not header.startswith("vapid "):
        return f"not a vapid header: {header}"
    params = dict(part.strip().split("=", 1) for part in header[len("vapid "):].split(","))
    if b64url_decode(params["k"]) != vapid_key:
        return "k is not the server's published key"
    signing_input, signature = params["t"].rsplit(".", 1)
    head, claims = (json.loads(b64url_decode(part)) for part in signing_input.split("."))
    if head.get("alg") != "ES256":
        return f"alg {head.get('alg')}"
    raw = b64url_decode(signature)
    if len(raw) != 64:
        return f"signature of {len(raw)} bytes"
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), vapid_key)
    try:
        public.verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return "bad signature"
    if claims.get("aud") != origin:
        return f"aud {claims.get('aud')} is not {origin}"
    if not time.time() < claims.get("exp", 0) <= time.time() + 24 * 3600:
        return f"exp {claims.get('exp')}"
    return "ok"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--register", nargs=6, metavar=("HOST", "PORT", "PIN", "USER", "PASSWORD", "DEVICE"))
    ap.add_argument("--vapid-key", help="the server's VAPID key in hex, when not registering")
    ap.add_argument("--no-vapid", action="store_true", help="register as a distributor that needs no VAPID")
    ap.add_argument("--answers", default="")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    args = ap.parse_args()

    device_key = ec.generate_private_key(ec.SECP256R1())
    p256dh = device_key.public_key().public_bytes(serialization.Encoding.X962,
                                                  serialization.PublicFormat.UncompressedPoint)
    auth = bytes(range(16))
    answers = [a for a in args.answers.split(",") if a]
    lock = threading.Lock()
    vapid_key = bytes.fromhex(args.vapid_key) if args.vapid_key else b""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                answer = answers.pop(0) if answers else "201"
            status, _, retry_after = answer.partition(":")
            record = {"at": time.time(), "path": self.path, "status": int(status),
                      "encoding": self.headers.get("Content-Encoding"), "ttl": self.headers.get("TTL"),
                      "vapid": check_vapid(self.headers.get("Authorization", ""), vapid_key, origin),
                      "payload": None}
            try:
                plain = http_ece.decrypt(body, private_key=device_key, auth_secret=auth, version="aes128gcm")
                record["payload"] = json.loads(plain)
            except Exception as e:  # what went wrong is the test's to read
                record["error"] = repr(e)
            self.send_response(int(status))
            if retry_after:
                self.send_header("Retry-After", retry_after)
            if 300 <= int(status) < 400:
                self.send_header("Location", f"{origin}/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            print(json.dumps(record), flush=True)

        def log_message(self, *_) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    if args.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*args.tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        origin = f"https://localhost:{server.server_address[1]}"
    url = f"{origin}/up/device"
    token = b""
    if args.register:
        host, port, pin, user, password, device = args.register
        client = k.KithClient.connect_tls(host, int(port), pin)
        token = client.login(user, password, device, k.DEVICE_MOBILE).token
        reply = client.push_key()
        vapid_key = reply.vapid_key
        client.set_push_endpoint(k.PushEndpoint(url, p256dh, auth, not args.no_vapid))
        if not client.push_key().registered:
            raise SystemExit("the server does not say the device is registered")
        client.close()
    print(json.dumps({"url": url, "p256dh": p256dh.hex(), "auth": auth.hex(), "vapid_key": vapid_key.hex(),
                      "token": token.hex()}), flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
