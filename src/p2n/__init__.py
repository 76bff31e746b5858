"""P2N: Paper -> Plan -> Notebook -> Run -> Report.

This package is kept import-light on purpose: the sandbox runner imports ``p2n.events`` and must
not drag in storage, database or LLM SDKs with it.
"""

__version__ = "0.1.0"
