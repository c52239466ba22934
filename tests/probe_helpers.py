"""Small builders shared by the probe tests."""

from __future__ import annotations

from pydantic import TypeAdapter

from slamon.core.model import Probe

_PROBE = TypeAdapter(Probe)


def make_probe(**fields):
    """A probe model from catalogue-style fields (durations as strings).

    The default timeout is generous (the machine is shared and loaded): tests that
    expect a timeout set a tiny one themselves.
    """
    fields.setdefault("id", "p")
    fields.setdefault("timeout", "3s")
    return _PROBE.validate_python(fields)
