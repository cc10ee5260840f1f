"""The command line the two-client scenario scripts share:

    python3 SCRIPT.py --tcp HOST:PORT --name NAME --peer PEER

and how they end: a success line and exit 0, or the failed check and exit 1.
"""

import argparse

import kith_client as k


class CheckFailed(Exception):
    """A check of a scenario failed."""


def run_scenario(doc, run, name_help: str, peer_help: str, what: str, passed) -> int:
    """Parses the command line, runs `run(host, port, name, peer)` and
    prints `passed()` once it returns, or what failed."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tcp", required=True, help="HOST:PORT of the plain TCP listener")
    p.add_argument("--name", required=True, help=name_help)
    p.add_argument("--peer", required=True, help=peer_help)
    a = p.parse_args()
    host, _, port = a.tcp.rpartition(":")
    try:
        run(host.strip("[]"), int(port), a.name, a.peer)
    except (CheckFailed, k.KithError, k.DecodeError, k.ConnectionClosed, OSError) as e:
        print(f"{what} FAILED: {type(e).__name__}: {e}", flush=True)
        return 1
    print(passed(), flush=True)
    return 0
