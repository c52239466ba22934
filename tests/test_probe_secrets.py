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


def test_mask_covers_every_form_a_url_gives_a_secret():
    import base64

    import yarl

    secret = "Pä ss+w%zz%41/é@:X"
    s = Secrets({"PW": secret})
    s.resolve("${env:PW}")
    url = yarl.URL(f"http://h/p/{secret}?q={secret}")
    query_form = url.raw_query_string.removeprefix("q=")
    assert "+" in query_form and "%25zz" in query_form and "%41" not in query_form  # yarl's own form
    texts = [
        str(url),
        url.raw_path,
        query_form,
        query_form.replace("%C3%A4", "%c3%a4"),  # lower-case hex
        str(yarl.URL("http://h/").with_query({"q": secret})),
        str(yarl.URL.build(scheme="http", user="u", password=secret, host="h")),
    ]
    for text in texts:
        masked = s.mask(f"failed at {text} here")
        assert "ss" not in masked.replace("***", ""), (text, masked)

    # a host part in IDNA, and a Basic token built elsewhere from the secret
    host = Secrets({"T": "Tenänt"})
    host.resolve("${env:T}")
    assert host.mask("no host xn--tennt-ira.example") == "no host ***.example"
    token = base64.b64encode(f"user:{secret}".encode()).decode()
    assert s.mask(f"Authorization: Basic {token}") == "Authorization: Basic ***"
    # a token made from something else is left alone
    other = base64.b64encode(b"user:something-else").decode()
    assert s.mask(f"Basic {other}") == f"Basic {other}"


def test_added_values_are_masked_with_their_forms():
    s = Secrets({})
    s.add("tok en/1")
    assert s.mask("a tok%20en%2F1 b tok+en%2f1 c") == "a *** b *** c"
    s.add("")
    assert s.mask("x") == "x"


def test_a_basic_token_inside_a_longer_run_is_masked():
    import base64

    s = Secrets({"PW": "hunter2-pw"})
    s.resolve("${env:PW}")
    token = base64.b64encode(b"probe:hunter2-pw").decode()
    urlsafe = base64.urlsafe_b64encode("probe:ä?>hunter2-pw".encode()).decode()
    for text in (f"x/{token}", f"{token.rstrip('=')}/more", f"ab{token}", f"Basic_{urlsafe}", f"/path/y{token}"):
        assert "***" in s.mask(text) and token.rstrip("=") not in s.mask(text), text
