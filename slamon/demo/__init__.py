"""``slamon demo``: a simulated estate on loopback, a derived catalogue pointing at it,
a backfilled history, and the daemon running against them (see docs/demo.md).

- ``certs``: a throw-away certificate authority and server certificates;
- ``profiles``: which behaviour each service shows (healthy, flaky, slow, outage,
  expiring certificate, planned maintenance), chosen deterministically from a seed;
- ``estate``: the HTTP(S), TCP, TLS and DNS servers on 127.0.0.1 that play the services;
- ``derive``: the bundled catalogue rewritten to probe the estate;
- ``backfill``: past days synthesised as rollups, revisions, breaches and an exclusion.
"""
