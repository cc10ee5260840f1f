"""Files (revision 15, docs/PROTOCOL.md section 5, Media), between users of
this independent client, the protocol over plain TCP and the files also
over HTTPS on the TLS port:

    python3 media.py --tcp HOST:PORT --tls HOST:PORT --fingerprint PIN --name NAME --peer PEER

NAME uploads a photo in chunks (StartUpload, UploadChunk, FinishUpload), the
server answering the SHA-256 she declared, and sends it to PEER as an Image
message with a MediaContent. PEER receives it with the server's size and
MIME type filled in, reads it with GetMedia, asks MediaUrl for a signed URL
and fetches it over HTTPS with Python's own HTTP client (ALPN http/1.1,
the certificate pinned by its SHA-256): whole (200, the ETag the hash) and
by Range (206). NAME + "x", a stranger, gets NotFound from GetMedia and
MediaUrl, and 404 from PEER's URL rewritten to name him. An upload cut off
by a closed connection resumes from UploadStatus's offset on a new one. A
wrong hash is refused (InvalidArgument) and the upload is gone (NotFound).
Needs open registration and `social.direct_messages = "anyone"`. Prints
"all checks passed"; exits non-zero on a failed check.
"""

import hashlib
import hmac
import http.client
import os
import ssl
import sys

import kith_client as k
from scenario_main import CHECKS, CheckFailed, expect, expect_refused, ok, open_account, run_scenario

PASSWORD = "media password"
def https_get(tls: str, pin: bytes, path: str, headers: dict) -> tuple:
    """(status, headers, body) of a GET over HTTPS, the certificate pinned."""
    host, _, port = tls.rpartition(":")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the pin below replaces CA validation
    ctx.set_alpn_protocols(["http/1.1"])
    conn = http.client.HTTPSConnection(host.strip("[]"), int(port), context=ctx, timeout=10)
    conn.connect()
    der = conn.sock.getpeercert(binary_form=True)
    if not hmac.compare_digest(hashlib.sha256(der).digest(), pin):
        raise CheckFailed("the HTTPS certificate is not the pinned one")
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, {name.lower(): value for name, value in response.getheaders()}, body


def run(host: str, port: int, tls: str, pin: bytes, name: str, peer_name: str) -> None:
    (alice, _), (bob, bob_id), (stranger, stranger_id) = (
        open_account(host, port, n, PASSWORD, f"media-{n}", k.DEVICE_MOBILE) for n in (name, peer_name, name + "x"))

    photo = os.urandom(200_000)
    info = alice.upload(photo, "image/jpeg", width=640, height=480)
    expect(info.size == len(photo) and info.sha256 == hashlib.sha256(photo).digest() and info.mime == "image/jpeg",
           f"FinishUpload answers the file: {info}")
    ok("a 200,000-byte photo uploaded in chunks; FinishUpload answers its size, type and SHA-256")

    alice.send_media(bob_id, k.KIND_IMAGE, k.MediaContent(media_id=info.media_id, name="cat.jpg"))
    message = bob.next_message(10)
    content = message.media_content()
    expect(message.kind == k.KIND_IMAGE and content is not None and content.media_id == info.media_id,
           f"the Image message carries the file: {message}")
    expect((content.size, content.mime, content.width, content.height, content.name)
           == (len(photo), "image/jpeg", 640, 480, "cat.jpg"), f"the server filled in what it holds: {content}")
    ok("sent as an Image message; the recipient's MediaContent has the server's size, type and dimensions")

    expect(bob.download(info.media_id) == photo, "GetMedia gives the photo back")
    tail = bob.get_media(info.media_id, len(photo) - 10, 100)
    expect(tail.size == len(photo) and tail.data == photo[-10:], f"a chunk stops at the end: {tail.size}")
    ok("the recipient reads it with GetMedia, whole and from an offset")

    url = bob.media_url(info.media_id)
    status, headers, body = https_get(tls, pin, url.path, {})
    expect(status == 200 and body == photo, f"the signed URL serves the file: {status}")
    expect(headers.get("etag") == '"' + hashlib.sha256(photo).hexdigest() + '"', f"ETag: {headers.get('etag')}")
    expect(headers.get("content-type") == "image/jpeg", f"Content-Type: {headers.get('content-type')}")
    status, headers, body = https_get(tls, pin, url.path, {"Range": "bytes=100-199"})
    expect(status == 206 and body == photo[100:200], f"a Range request: {status}")
    expect(headers.get("content-range") == f"bytes 100-199/{len(photo)}", f"{headers.get('content-range')}")
    ok("the signed URL over HTTPS (pinned, ALPN http/1.1): 200 with the hash as ETag, 206 for a Range")

    expect_refused(k.NOT_FOUND, "a stranger's GetMedia", stranger.get_media, info.media_id, 0, 10)
    expect_refused(k.NOT_FOUND, "a stranger's MediaUrl", stranger.media_url, info.media_id)
    forged = url.path.replace(f"user={bob_id}", f"user={stranger_id}")
    status, _, _ = https_get(tls, pin, forged, {})
    expect(status == 404, f"the URL rewritten to name the stranger: {status}")
    ok("a stranger gets NotFound from GetMedia and MediaUrl, and 404 from the URL made out to him")

    cut = os.urandom(150_000)
    started = alice.start_upload(len(cut), "application/pdf", hashlib.sha256(cut).digest())
    alice.upload_chunk(started.upload_id, 0, cut[:started.chunk_bytes])
    alice.close()
    again = k.KithClient.connect_tcp(host, port, label="again")
    again.login(name, PASSWORD, f"media-{name}", k.DEVICE_MOBILE, k.CLIENT_OTHER)
    offset = again.upload_status(started.upload_id).offset
    expect(offset == started.chunk_bytes, f"UploadStatus after the drop: {offset}")
    while offset < len(cut):
        offset = again.upload_chunk(started.upload_id, offset, cut[offset:offset + started.chunk_bytes]).offset
    resumed = again.finish_upload(started.upload_id)
    expect(resumed.sha256 == hashlib.sha256(cut).digest(), "the resumed upload is whole")
    ok("an upload cut off by a closed connection resumes from UploadStatus's offset")

    wrong = os.urandom(1000)
    started = again.start_upload(len(wrong), "application/pdf", hashlib.sha256(b"something else").digest())
    again.upload_chunk(started.upload_id, 0, wrong)
    expect_refused(k.INVALID_ARGUMENT, "FinishUpload of bytes with another hash", again.finish_upload, started.upload_id)
    expect_refused(k.NOT_FOUND, "UploadStatus of the discarded upload", again.upload_status, started.upload_id)
    ok("a wrong hash stores nothing and the upload is gone")
    for c in (again, bob, stranger):
        c.close()


if __name__ == "__main__":
    sys.exit(run_scenario(
        __doc__, run,
        name_help="the uploader's username; the stranger's is NAME + 'x'",
        peer_help="the recipient's username",
        what="media check",
        passed=lambda: f"all checks passed ({CHECKS[0]} checks)",
        tls=True,
    ))
