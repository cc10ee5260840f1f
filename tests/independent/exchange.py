"""Exchange messages between this independent client (plain TCP) and another
client: register NAME, say hello to PEER, wait for PEER's reply.

    python3 exchange.py --tcp HOST:PORT --name NAME --peer PEER
"""

import argparse
import sys

import kith_client as k


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--tcp", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--peer", required=True)
    a = p.parse_args()
    host, _, port = a.tcp.rpartition(":")
    c = k.KithClient.connect_tcp(host, int(port), label="exchange")
    c.register(a.name, "exchange password")
    login = c.login(a.name, "exchange password", "exchange-device", k.DEVICE_DESKTOP, k.CLIENT_OTHER)
    my_id = login.session.user_id
    peer = c.find_user(a.peer)
    sent = c.send(peer.user_id, "hello from python over tcp")
    print(f"sent {sent.message_id}", flush=True)
    # The reply arrives as an Update push (0x82) of kind Message (section 5, Update).
    update = c.next_update(timeout=10.0, kind=k.UPDATE_MESSAGE)
    reply = update.value
    assert update.id == reply.id, update
    assert reply.sender == peer.user_id, reply
    assert reply.to == k.Target.user(my_id), reply
    assert reply.content == b"hello from rust over quic", reply.content
    print("received the reply", flush=True)
    c.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
