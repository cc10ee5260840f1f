"""The checks and the command line the two-client scenario scripts share:

    python3 SCRIPT.py --tcp HOST:PORT [--tls HOST:PORT --fingerprint PIN] --name NAME --peer PEER

and how they end: a success line and exit 0, or the failed check and exit 1.
"""

import argparse

import kith_client as k


class CheckFailed(Exception):
    """A check of a scenario failed."""


CHECKS = [0]  # checks passed so far


def expect(condition: bool, what: str) -> None:
    """A check: counted when it holds, the scenario's failure when not."""
    if not condition:
        raise CheckFailed(what)
    CHECKS[0] += 1


def ok(label: str) -> None:
    print(f"ok   {label}", flush=True)


def open_account(host: str, port: int, username: str, password: str, device_id: str, device_type: int) -> tuple:
    """Registers `username` and logs it in on a new plain TCP connection:
    (client, user id)."""
    client = k.KithClient.connect_tcp(host, port, label=device_id)
    client.register(username, password)
    login = client.login(username, password, device_id, device_type, k.CLIENT_OTHER)
    return client, login.session.user_id


def expect_refused(code: int, what: str, call, *args) -> k.KithError:
    """`call(*args)` must fail with error `code`; returns the error."""
    try:
        call(*args)
    except k.KithError as e:
        expect(e.code == code, f"{what}: error {e.code} ({e.name}), expected {code} ({k.ERROR_NAMES[code]})")
        return e
    raise CheckFailed(f"{what}: succeeded, expected error {code} ({k.ERROR_NAMES[code]})")


def run_scenario(doc, run, name_help: str, peer_help: str, what: str, passed, tls: bool = False) -> int:
    """Parses the command line, runs `run(host, port, name, peer)` — with
    `tls`, `run(host, port, tls_address, pin, name, peer)` — and prints
    `passed()` once it returns, or what failed."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tcp", required=True, help="HOST:PORT of the plain TCP listener")
    if tls:
        p.add_argument("--tls", required=True, help="HOST:PORT of the TLS listener")
        p.add_argument("--fingerprint", required=True, help="the certificate's SHA-256, as kith prints it")
    p.add_argument("--name", required=True, help=name_help)
    p.add_argument("--peer", required=True, help=peer_help)
    a = p.parse_args()
    host, _, port = a.tcp.rpartition(":")
    secure = (a.tls, k.parse_fingerprint(a.fingerprint)) if tls else ()
    try:
        run(host.strip("[]"), int(port), *secure, a.name, a.peer)
    except (CheckFailed, k.KithError, k.DecodeError, k.ConnectionClosed, OSError) as e:
        print(f"{what} FAILED: {type(e).__name__}: {e}", flush=True)
        return 1
    print(passed(), flush=True)
    return 0
