"""PBFT (Castro & Liskov, OSDI '99; TOCS 2002): Byzantine-fault-tolerant replication of the
decision log across sites that do not trust each other.

* ``core.PbftCore``: the pure replica state machine (step / tick / propose / ready / advance).
* ``messages``: the signed wire messages; ``auth.KeyRing``: who may sign what.
* ``client.ClientCore``: a client that accepts a result once f+1 replicas agree on it.

See docs/pbft.md for the protocol as implemented and how it is tested.
"""

from .auth import KeyRing, Verifier
from .config import Config, Execute, Fetch, Ready, Send
from .core import PbftCore
from .messages import Request, Signed
from .quorum import Quorums

__all__ = ["Config", "Execute", "Fetch", "KeyRing", "PbftCore", "Quorums", "Ready", "Request",
           "Send", "Signed", "Verifier"]
