"""Joins a kith server with nothing but a join link (docs/PROTOCOL.md,
section 12): parses it with the standard library, connects over TCP+TLS
pinning the public key the link names (or, in a link without one, its
certificate), and registers with its invitation.

    python3 join.py 'kith://join?host=...&tls=...&pin=...&spki=...&invite=...' --username NAME
"""

import argparse
import base64
import sys
import urllib.parse

import kith_client as k


def parse(link: str) -> dict:
    """The link's fields, by the grammar of section 12."""
    url = urllib.parse.urlsplit(link)
    if url.scheme != "kith" or url.netloc != "join" or url.path not in ("", "/"):
        raise ValueError(f"not a join link: {link}")
    params = dict(urllib.parse.parse_qsl(url.query, strict_parsing=True))
    pin, invite = bytes.fromhex(params["pin"]), bytes.fromhex(params["invite"])
    if len(pin) != 32 or len(invite) != 24:
        raise ValueError("pin must be 32 bytes and invite 24")
    # parse_qsl undoes the %-escapes, leaving OkHttp's base64.
    spki = base64.b64decode(params["spki"], validate=True) if "spki" in params else None
    if spki is not None and len(spki) != 32:
        raise ValueError("spki must be 32 bytes")
    return {"host": params["host"], "tls": int(params["tls"]) if "tls" in params else None,
            "quic": int(params["quic"]) if "quic" in params else None, "pin": pin, "spki": spki,
            "invite": invite}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("link")
    ap.add_argument("--username", required=True)
    args = ap.parse_args()
    link = parse(args.link)
    if link["tls"] is None:
        print("this client speaks TCP+TLS only and the link offers no tls port")
        return 1
    client = k.KithClient.connect_tls(link["host"], link["tls"], link["spki"] or link["pin"])
    user_id = client.register(args.username, "joined with a link", link["invite"])
    client.login(args.username, "joined with a link")
    print(f"joined as {args.username} (user {user_id}) at {link['host']}:{link['tls']}")
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
