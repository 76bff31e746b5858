"""Kubernetes resource quantities (``500m``, ``2``, ``512Mi``, ``1G``) as exact decimals.

Operator policy compares what a Run asks for with the operator's ceilings, so the comparison must
be exact and must not depend on a Kubernetes client library.
"""

from __future__ import annotations

import decimal
import re

from p2n import errors

_SUFFIXES: dict[str, decimal.Decimal] = {
    "": decimal.Decimal(1),
    "m": decimal.Decimal("0.001"),
    "k": decimal.Decimal(10) ** 3,
    "M": decimal.Decimal(10) ** 6,
    "G": decimal.Decimal(10) ** 9,
    "T": decimal.Decimal(10) ** 12,
    "P": decimal.Decimal(10) ** 15,
    "E": decimal.Decimal(10) ** 18,
    "Ki": decimal.Decimal(2) ** 10,
    "Mi": decimal.Decimal(2) ** 20,
    "Gi": decimal.Decimal(2) ** 30,
    "Ti": decimal.Decimal(2) ** 40,
    "Pi": decimal.Decimal(2) ** 50,
    "Ei": decimal.Decimal(2) ** 60,
}
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")


def parse(value: str) -> decimal.Decimal:
    """The quantity's value in base units (cores or bytes); raises InvalidInput when malformed.

    >>> parse("500m"), parse("1Gi")
    (Decimal('0.500'), Decimal('1073741824'))
    """
    match = _QUANTITY.match(value.strip())
    if match is None:
        raise errors.InvalidInput(f"not a resource quantity: {value!r}")
    return decimal.Decimal(match.group(1)) * _SUFFIXES[match.group(2) or ""]
