"""``${env:NAME}`` resolution and masking, without a network."""

from __future__ import annotations

import pytest

from slamon.probes.secrets import MissingSecret, MissingVariable, Secrets


def test_resolves_env_and_variables_in_one_pass():
    s = Secrets({"PW": "p@ss word", "EVIL": "${env:PW}"})
    assert s.resolve("u=${user}&p=${env:PW}", {"user": "probe"}) == "u=probe&p=p@ss word"
    # a value that looks like a reference is inserted as is, never resolved again
    assert s.resolve("${env:EVIL}") == "${env:PW}"
    assert s.resolve("${token}", {"token": "${env:PW}"}) == "${env:PW}"
    # without variables (an http probe) a plain ${name} stays as written
    assert s.resolve("a ${name} b") == "a ${name} b"
    assert s.resolve("no refs") == "no refs"


def test_missing_names_are_named_never_valued():
    s = Secrets({})
    with pytest.raises(MissingSecret, match="ABSENT_VAR"):
        s.resolve("${env:ABSENT_VAR}")
    with pytest.raises(MissingVariable, match="later"):
        s.resolve("${later}", {})


def test_mask_covers_plain_and_url_encoded_forms():
    s = Secrets({"PW": "p@ss word/1"})
    s.resolve("${env:PW}")
    text = "failed p@ss word/1 or p%40ss%20word%2F1 or p%40ss+word%2F1 or p%40ss%20word/1"
    masked = s.mask(text)
    assert "ss word" not in masked and "ss%20word" not in masked and "ss+word" not in masked
    assert masked.count("***") == 4
    assert "p@ss" not in repr(s)
