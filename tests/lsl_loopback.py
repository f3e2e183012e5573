"""Real LSL confined to this machine for the tests (docs/research.md, "Testing").

:func:`loopback` writes an ``lsl_api.cfg`` that resolves on this machine only (resolve
scope ``machine``, the loopback address as the only query address and known peer, IPv6
off, outlets listening on 127.0.0.1) with a session id of this test process's own, and
points ``LSLAPICFG`` at it. liblsl reads its configuration once per process, when the first
stream object is made, so every test module that uses LSL calls this at import, before any.
"""
from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

CONFIG = """[ports]
IPv6 = disable
[multicast]
ResolveScope = machine
MachineAddresses = {{127.0.0.1}}
AddressesOverride = {{127.0.0.1}}
ListenAddress = 127.0.0.1
TTLOverride = 0
[lab]
KnownPeers = {{127.0.0.1}}
SessionID = {session}
[tuning]
MulticastMinRTT = 0.05
UnicastMinRTT = 0.05
[log]
level = -3
"""


def loopback() -> str:
    """Point liblsl at a loopback-only configuration (once per process); its session id."""
    path = os.environ.get("LSLAPICFG")
    if path and Path(path).name == "vrgmi-test-lsl_api.cfg":
        return Path(path).read_text().split("SessionID = ")[1].split()[0]
    session = f"vrgmi-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    folder = Path(tempfile.mkdtemp(prefix="vrgmi-lsl-"))
    cfg = folder / "vrgmi-test-lsl_api.cfg"
    cfg.write_text(CONFIG.format(session=session))
    os.environ["LSLAPICFG"] = str(cfg)
    return session
