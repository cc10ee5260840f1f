"""Decode every hex example of docs/PROTOCOL.md section 10 with kith_client's
strict decoders and re-encode it, checking header fields, lengths and the
annotations that can be checked mechanically. Offline: needs no server.

    python3 doc_examples.py [path/to/PROTOCOL.md]
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kith_client as k  # noqa: E402

NAME_TO_ACTION = {v: a for a, v in k.ACTION_NAMES.items()}


def parse_hex_block(text: str) -> bytes:
    out = bytearray()
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out += bytes.fromhex(line)
    return bytes(out)


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "PROTOCOL.md")
    doc = open(path, encoding="utf-8").read()
    failures = 0
    count = 0
    # Every fenced hex/text block in section 10 that starts with a 13-byte header.
    sec10 = doc[doc.index("## 10. Hex examples"):doc.index("## 11.")]
    for m in re.finditer(r"(?:<!-- example: (\w+) (\w+) -->\n)?```(hex|text)\n(.*?)```", sec10, re.S):
        kind, name, _, block = m.group(1), m.group(2), m.group(3), m.group(4)
        try:
            data = parse_hex_block(block)
        except ValueError:
            continue
        count += 1
        label = f"{kind or 'untagged'} {name or ''}".strip()
        try:
            frame, rest = k.decode_frame(data)
            assert not rest, f"{len(rest)} bytes after the frame"
            assert frame.version == 1
            # check the "# header: ... body N bytes" comment and "Total frame length"
            hc = re.search(r"sequence (\d+), body (\d+) bytes", block)
            assert hc and int(hc.group(1)) == frame.seq and int(hc.group(2)) == len(frame.body), \
                "header comment disagrees with header bytes"
            tail = sec10[m.end():m.end() + 4000]
            tl = re.search(r"Total frame length: (\d+) bytes", tail)
            if tl:
                assert int(tl.group(1)) == len(data), f"total {tl.group(1)} != {len(data)}"
            if kind == "request":
                action = NAME_TO_ACTION[name]
                assert frame.action == action and frame.seq != 0
                decoded = k.REQUEST_DECODERS[action](frame.body)
            elif kind == "response":
                action = NAME_TO_ACTION[name]
                assert frame.action == action and frame.seq != 0
                decoded = k.RESPONSE_DECODERS[action](frame.body)
            elif kind == "error":
                assert frame.action == k.ERROR
                decoded = k.decode_error_body(frame.body)
            elif kind == "push":
                assert frame.seq == 0 and frame.action >= 0x80
                decoded = k.RESPONSE_DECODERS[frame.action](frame.body)
            else:
                decoded = k.RESPONSE_DECODERS[frame.action](frame.body)
            # semantic checks
            msgs = []
            if isinstance(decoded, k.Message):
                msgs = [decoded]
            elif isinstance(decoded, k.Page):
                msgs = decoded.messages
                ids = [x.id for x in msgs]
                assert ids == sorted(ids), "page not ascending"
            elif isinstance(decoded, k.SendReply):
                assert decoded.server_time == k.snowflake_time(decoded.message_id)
            elif isinstance(decoded, k.LoginReply):
                assert len(decoded.token) == 40
            elif isinstance(decoded, k.TokenReply):
                assert len(decoded.token) == 40
            for x in msgs:
                assert x.server_time == k.snowflake_time(x.id), "server_time != derived from id"
            print(f"ok   {label:28} seq={frame.seq:<2} {len(data):>3} bytes  {decoded!r:.90}")
        except Exception as e:  # noqa: BLE001
            failures += 1
            print(f"FAIL {label:28} {type(e).__name__}: {e}")
    print(f"{count} examples, {failures} failures")
    return 1 if failures or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
