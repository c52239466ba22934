"""AlertNotifier against webhook receivers served on 127.0.0.1: delivery, de-duplication,
retries, give-up on 4xx, unreachable targets, routing by office, overflow and close."""

from __future__ import annotations

import asyncio
import random

from exporters.alerting import AlertNotifier, AlertTarget, DeliverySettings, NotifierSettings
from tests.alerting_support import Receiver, down_event, free_port, up_event, wait_until

FAST = DeliverySettings(
    timeout_seconds=0.2, max_attempts=3, backoff_initial_seconds=0.05, backoff_max_seconds=0.2
)


def settings(**kw) -> NotifierSettings:
    return NotifierSettings(**{"resend_interval_seconds": 0.2, "delivery": FAST, **kw})


def notifier(targets, **kw) -> AlertNotifier:
    return AlertNotifier(targets, settings(**kw), rng=random.Random(7))


async def test_a_webhook_gets_firing_once_then_resolved():
    rx = await Receiver().start()
    n = notifier([AlertTarget(rx.url + "/hook", "webhook")])
    await n.start()
    try:
        n.notify(down_event("unog-indico", "home", "unov"))
        n.notify(down_event("unog-indico", "home", "unov"))  # unchanged: not re-posted
        await wait_until(lambda: len(rx.bodies()) >= 1, what="the firing alert")
        await asyncio.sleep(0.5)  # past two re-send intervals: webhooks get no re-sends
        assert [b["status"] for b in rx.bodies()] == ["firing"]
        assert n.stats.deduplicated_total == 1 and n.stats.active_alerts == 1
        n.notify(up_event("unog-indico", "home", "unov"))
        await wait_until(lambda: len(rx.bodies()) >= 2, what="the resolve")
        n.notify(up_event("unog-indico", "home", "unov"))  # nothing firing: ignored
    finally:
        await n.close(2.0)
        await rx.stop()
    firing, resolved = rx.bodies("/hook")
    assert len(rx.bodies()) == 2
    assert firing["labels"]["vantage"] == "unov" and firing["labels"]["office"] == "unog"
    assert firing["labels"]["owner"] == "unog-icts-conference"
    assert resolved["status"] == "resolved" and resolved["endsAt"] is not None
    assert resolved["startsAt"] == firing["startsAt"]  # the resolve keeps when it began
    assert resolved["fingerprint"] == firing["fingerprint"]
    assert n.stats.sent_total[(n.targets[0].name, "success")] == 2


async def test_a_first_success_after_start_up_sends_nothing():
    rx = await Receiver().start()
    n = notifier([AlertTarget(rx.url, "webhook")])
    await n.start()
    n.notify(up_event("unhq-email", "smtp", "unhq"))
    n.notify(down_event("unhq-email", "mx", "unhq"))
    await n.close(2.0)
    await rx.stop()
    assert [(b["status"], b["labels"]["probe"]) for b in rx.bodies()] == [("firing", "mx")]


async def test_5xx_is_retried_with_backoff_until_it_arrives():
    rx = await Receiver(statuses=[500, 503]).start()
    n = notifier([AlertTarget(rx.url, "webhook")])
    await n.start()
    try:
        n.notify(down_event("unov-website", "home", "unov"))
        await wait_until(lambda: len(rx.bodies()) == 1, what="the alert after two 5xx")
    finally:
        await n.close(2.0)
        await rx.stop()
    name = n.targets[0].name
    assert rx.requests == 3
    assert n.stats.retries_total[name] == 2
    assert n.stats.sent_total[(name, "success")] == 1


async def test_4xx_is_given_up_without_retry(caplog):
    rx = await Receiver(statuses=[400]).start()
    n = notifier([AlertTarget(rx.url, "webhook")])
    await n.start()
    try:
        n.notify(down_event("unov-website", "home", "unov"))
        await wait_until(lambda: sum(n.stats.sent_total.values()) == 1, what="the rejection")
        await asyncio.sleep(0.3)
    finally:
        await n.close(2.0)
        await rx.stop()
    assert rx.requests == 1 and rx.bodies() == []
    assert n.stats.sent_total[(n.targets[0].name, "rejected")] == 1
    assert any("alert_rejected" in r.getMessage() and "status=400" in r.getMessage() for r in caplog.records)


async def test_unreachable_targets_do_not_hold_back_others_and_close_is_bounded():
    good = await Receiver().start()
    hanging = await Receiver(hang_seconds=5).start()
    refused = f"http://127.0.0.1:{free_port()}"
    n = notifier(
        [
            AlertTarget(refused, "webhook"),
            AlertTarget(hanging.url, "alertmanager"),
            AlertTarget(good.url, "webhook"),
        ]
    )
    await n.start()
    loop = asyncio.get_running_loop()
    try:
        for probe in ("home", "information-service", "cert"):
            n.notify(down_event("unov-website", probe, "unov"))
        await wait_until(lambda: len(good.bodies()) == 3, timeout_seconds=3, what="the good target")
        started = loop.time()
        await n.close(1.0)
        closed_in = loop.time() - started
    finally:
        await hanging.stop()
        await good.stop()
    assert closed_in < 3.0
    refused_name = n.targets[0].name
    # refused: each alert retried up to max_attempts, then counted as failed (or cut by close)
    assert n.stats.sent_total[(refused_name, "success")] == 0
    assert n.stats.retries_total[refused_name] >= 1
    assert n.stats.sent_total[(n.targets[2].name, "success")] == 3


async def test_routing_by_office():
    unog, unhq, every = Receiver(), Receiver(), Receiver()
    for rx in (unog, unhq, every):
        await rx.start()
    n = notifier(
        [
            AlertTarget(unog.url, "webhook", frozenset({"unog"})),
            AlertTarget(unhq.url, "webhook", frozenset({"unhq"})),
            AlertTarget(every.url, "webhook"),
        ]
    )
    await n.start()
    try:
        n.notify(down_event("unog-indico", "home", "unhq"))  # office unog, seen from unhq
        n.notify(down_event("unhq-email", "smtp", "unhq"))
        await wait_until(lambda: len(every.bodies()) == 2, what="both alerts at the catch-all")
        await wait_until(lambda: unog.bodies() and unhq.bodies(), what="each office's alert")
        await asyncio.sleep(0.2)
    finally:
        await n.close(2.0)
        for rx in (unog, unhq, every):
            await rx.stop()
    assert [b["labels"]["service"] for b in unog.bodies()] == ["unog-indico"]
    assert [b["labels"]["service"] for b in unhq.bodies()] == ["unhq-email"]


async def test_overflow_is_counted_and_close_flushes_what_was_queued():
    rx = await Receiver().start()
    n = notifier([AlertTarget(rx.url, "webhook")], queue_capacity=3)
    probes = ["home", "information-service", "cert", "dns", "extra"]
    for probe in probes:  # before start(): the queue holds 3, the rest is dropped
        n.notify(down_event("unov-website", probe, "unov"))
    assert n.stats.dropped_total == 2 and n.stats.queue_length == 3
    await n.start()
    await n.close(2.0)
    await rx.stop()
    assert [b["labels"]["probe"] for b in rx.bodies()] == probes[:3]
    n.notify(down_event("unov-website", "home", "unov"))  # after close: dropped, no error
    assert n.stats.dropped_total == 3


async def test_alerts_of_services_gone_from_the_catalogue_are_resolved():
    rx = await Receiver().start()
    n = notifier([AlertTarget(rx.url, "webhook")])
    await n.start()
    try:
        n.notify(down_event("unog-indico", "home", "unog"))
        n.notify(down_event("unhq-email", "smtp", "unhq"))
        await wait_until(lambda: len(n.active) == 2, what="two active alerts")
        assert n.retain_services({"unhq-email"}) == 1
        await wait_until(lambda: len(rx.bodies()) == 3, what="the resolve of unog-indico")
    finally:
        await n.close(2.0)
        await rx.stop()
    last = rx.bodies()[-1]
    assert (last["status"], last["labels"]["service"]) == ("resolved", "unog-indico")
    assert [e.labels["service"] for e in n.active] == ["unhq-email"]
