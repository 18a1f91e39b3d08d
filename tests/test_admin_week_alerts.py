"""An admin's first week, alerts and detail pages: what each screen says is true.

Resolved alerts say what recovered and after how long; a test notification shows as
delivered once the notifier delivered it; each channel is shown as scheme, host and port,
never as a link; a service that is down still shows what it was when last seen; every rate
names its window. Real servers throughout: redis-server, an HTTP receiver, an SMTP
server, the real Notifier thread and the collector's own loop.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from streamlit.testing.v1 import AppTest

from collector.loop import Collector
from ops import formatting
from ops.alerts import messages, notify, wording
from ops.alerts.engine import AlertEngine
from ops.alerts.rules import DEFAULT_RULES, Context
from ops.alerts.watch import AlertWatch
from ops.config import load_settings
from ops.housekeeping import Retention
from ops.sources.configured import build_sources
from ops.storage import Heartbeat, Latest, Store
from ops.storage import alerts as records
from tests.receivers import HttpReceiver, Mailbox, smtp_server
from tests.servers import RedisServer
from tests.test_pages import app_for, now_ms, shown


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    server = HttpReceiver().start()
    yield server
    server.stop()

MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def unescaped(text: str) -> str:
    """What the reader sees of a text passed through pages.common.plain."""
    return MARKDOWN_ESCAPE.sub(r"\1", text).replace("\u2060", "")


def wait_for(what: str, condition: Callable[[], bool], timeout_s: float = 20) -> None:
    """Wait for something another thread or process does; fails naming it."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


# --- d. a service that is down still shows what it was when last seen ---


def collector_for(env: dict[str, str]) -> Collector:
    settings = load_settings(env, env_file=None)
    return Collector(Store(settings.database_path), build_sources(settings), 1,
                     Retention.from_settings(settings))


def test_store_keeps_the_last_up_info_through_an_outage(tmp_path: Path) -> None:
    store = Store(tmp_path / "ops.sqlite3")
    info = {"version": "7.2.4", "role": "master"}
    store.set_latest(Latest("redis", 1000, False, 1000, "refused", {"info": {}}))
    assert "last_up_info" not in store.latest()["redis"].reading, "never up: nothing known"
    store.set_latest(Latest("redis", 2000, True, 2000, None, {"info": info}))
    assert "last_up_info" not in store.latest()["redis"].reading
    for ts in (3000, 4000):  # carried from one down reading to the next
        store.set_latest(Latest("redis", ts, False, 3000, "refused", {"info": {}}))
        assert store.latest()["redis"].reading["last_up_info"] == {"ts": 2000, "info": info}
    store.set_latest(Latest("redis", 5000, True, 5000, None, {"info": {"version": "7.4.0"}}))
    assert store.latest()["redis"].reading == {"info": {"version": "7.4.0"}}


def test_cache_page_shows_the_last_known_version_and_role_while_redis_is_down(
        monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
        redis_server: RedisServer) -> None:
    env = {**env, "REDIS_URL": redis_server.url}
    collector = collector_for(env)
    version = str(redis.Redis.from_url(redis_server.url).info()["redis_version"])
    up = collector.run_once()
    assert up and up.row["redis_up"] == 1
    up_ts = collector.store.latest()["redis"].ts
    redis_server.stop()
    for _ in range(2):
        down = collector.run_once()
        assert down and down.row["redis_up"] == 0
    collector.store.beat(Heartbeat(1, "h", up_ts, now_ms(), 1.0, "0.1.0"))

    text = unescaped(shown(app_for(monkeypatch, env, "pages/cache.py")))
    seen = f"(last seen {formatting.clock(up_ts)})"
    assert f"version {version} {seen}" in text
    assert f"role master {seen}" in text
    assert "?" not in text.split("version", 1)[1].split("\n", 1)[0]
    assert "Redis is down" in text

    redis_server.start()
    back = collector.run_once()
    assert back and back.row["redis_up"] == 1
    text = unescaped(shown(app_for(monkeypatch, env, "pages/cache.py")))
    assert f"version {version} · " in text and "last seen" not in text


def test_database_page_shows_the_last_known_version_host_and_databases(
        monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    store = Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3")
    now = now_ms()
    info = {"version": "7.0.12", "host": "db-1:27017",
            "databases": {"shop": {"objects": 12, "data_mb": 1.5}}}
    store.set_latest(Latest("mongo", now - 60_000, True, now - 600_000, None,
                            {"values": {}, "info": info}))
    store.set_latest(Latest("mongo", now, False, now - 30_000, "connection refused",
                            {"values": {}, "info": {}}))
    store.beat(Heartbeat(1, "h", now - 600_000, now, 5.0, "0.1.0"))
    app = app_for(monkeypatch, {**env, "MONGO_URI": "mongodb://127.0.0.1:1/"},
                  "pages/database.py")
    text = unescaped(shown(app))
    seen = f"(last seen {formatting.clock(now - 60_000)})"
    assert f"version 7.0.12 {seen}" in text and f"db-1:27017 {seen}" in text
    assert f"As last seen, {formatting.clock(now - 60_000)}:" in text
    assert app.dataframe[-1].value.to_dict("records") == [
        {"database": "shop", "objects": 12, "data_mb": 1.5}]


# --- a. a resolved alert says what recovered and after how long ---

RESOLVED = re.compile(r"cache is up again after (\d+m )?\d+s \(was: cache is down: .+\)")


def test_redis_outage_resolves_saying_what_recovered_everywhere(
        monkeypatch: pytest.MonkeyPatch, env: dict[str, str], redis_server: RedisServer,
        receiver: HttpReceiver) -> None:
    mailbox = Mailbox()
    smtp = smtp_server(mailbox)
    env = {**env, "REDIS_URL": redis_server.url,
           "ALERT_WEBHOOK_URL": f"http://127.0.0.1:{receiver.port}/hook/T0KEN",
           "ALERT_WEBHOOK_FORMAT": "json", "SMTP_HOST": "127.0.0.1",
           "SMTP_PORT": str(smtp.port), "SMTP_STARTTLS": "false",
           "ALERT_EMAIL_FROM": "ops@example.com", "ALERT_EMAIL_TO": "oncall@example.com"}
    settings = load_settings(env, env_file=None)
    collector = collector_for(env)
    watch = AlertWatch(collector.store, settings, DEFAULT_RULES, notify.announce)
    collector.after_tick.append(
        lambda tick: watch.after_tick(tick.ts, tick.row, {r.source: r.error
                                                          for r in tick.readings}))
    notifier = notify.Notifier(settings, settings.database_path)
    notifier.start()
    try:
        collector.run_once()
        redis_server.stop()
        for _ in range(3):
            collector.run_once()
        [firing] = records.firing(collector.store)
        wait_for("the firing message on both channels",
                 lambda: len(receiver.delivered) == 1 and len(mailbox.messages) == 1)
        redis_server.start()
        for _ in range(3):
            collector.run_once()
        assert records.firing(collector.store) == []
        wait_for("both messages on both channels",
                 lambda: len(receiver.delivered) == 2 and len(mailbox.messages) == 2)
    finally:
        notifier.stop(timeout=15)
        smtp.stop()
    [alert] = records.history(collector.store)
    assert alert.id == firing.id and alert.status == "resolved"
    assert alert.message and RESOLVED.fullmatch(alert.message), alert.message
    assert firing.message and alert.message.endswith(f"(was: {firing.message})")

    done = receiver.delivered[1].json()
    assert done["title"] == f"RESOLVED service down: {alert.message}"
    assert done["message"].startswith(alert.message) and done["type"] == "success"
    subject = mailbox.messages[1][2]["Subject"]
    assert subject.startswith("RESOLVED service down: cache is up again after ")
    assert "Lasted:" in mailbox.messages[1][2].get_body().get_content()  # type: ignore[union-attr]

    app = app_for(monkeypatch, env, "pages/alerts.py")
    [history] = [df.value for df in app.dataframe if "message" in df.value.columns]
    assert history.to_dict("records")[0]["message"] == alert.message


def test_a_resolution_queued_by_an_older_version_does_not_repeat_the_firing_text() -> None:
    firing = {"id": 3, "rule": "service_down", "subject": "cache", "severity": "critical",
              "message": "cache is down: Connection refused", "pending_ts": 1_000,
              "firing_ts": 16_000, "resolved_ts": 251_000, "status": "resolved"}
    payload = notify.alert_payload(firing, "resolved", 251_000)
    assert messages.headline(payload) == (
        "RESOLVED service down: ended after 4m 10s (was: cache is down: Connection refused)")
    assert messages.single(payload).body.startswith("ended after 4m 10s (was: ")


def test_resolution_wording_per_kind_of_rule() -> None:
    assert wording.resolved_text("service_down", "cache is up", 250, "cache is down: x") == \
        "cache is up again after 4m 10s (was: cache is down: x)"
    assert wording.resolved_text("memory_high", "host memory 62.0% used (limit 90%)", 720,
                                 "host memory 93.1% used (limit 90%)") == (
        "back to normal after 12m 0s: host memory 62.0% used (limit 90%) "
        "(was: host memory 93.1% used (limit 90%))")
    assert wording.resolved_text("redis_memory_high", None, 60, "cache memory 95%") == \
        "no longer judged after 1m 0s: its figure or limit is gone (was: cache memory 95%)"
    assert not wording.is_resolution("cache is down: Connection refused")


# --- b. each channel's Send test turns its row sent or failed ---


def alerts_page(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> tuple[AppTest, Store]:
    store = Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3")
    store.beat(Heartbeat(1, "h", now_ms() - 60_000, now_ms(), 5.0, "0.1.0"))
    return app_for(monkeypatch, env, "pages/alerts.py"), store


def outbox_table(app: AppTest) -> list[dict[str, object]]:
    [table] = [df.value for df in app.dataframe if "attempts" in df.value.columns]
    return list(table.to_dict("records"))


def test_each_channel_has_its_own_send_test(monkeypatch: pytest.MonkeyPatch,
                                            env: dict[str, str]) -> None:
    good, down = HttpReceiver().start(), HttpReceiver()  # the second never listens
    env = {**env, "ALERT_URLS": f"json://127.0.0.1:{good.port}/ok/T0KEN5ecret,"
                                f"ntfy://127.0.0.1:{down.port}/ops"}
    settings = load_settings(env, env_file=None)
    app, store = alerts_page(monkeypatch, env)
    notifier = notify.Notifier(settings, settings.database_path)  # the dashboard's thread
    notifier.start()
    try:
        buttons = [b for b in app.button if b.label == "Send test"]
        assert len(buttons) == 2
        buttons[0].click().run()
        assert [s.value for s in app.success][-1].startswith("Test on json-")
        assert len(good.delivered) == 1
        next(b for b in app.button if b.key.startswith("send-test-ntfy")).click().run()
    finally:
        assert notifier.stop(timeout=15)
        good.stop()
    failed = unescaped(app.error[-1].value)
    assert failed.startswith("Test on ntfy-") and "failed: ntfy://127.0.0.1" in failed
    assert "Connection refused" in failed
    texts = "\n".join(t.value for t in app.text)
    assert f"json://127.0.0.1:{good.port} (from ALERT_URLS)" in texts
    assert "last error: " in texts and "Connection refused" in texts
    assert "T0KEN5ecret" not in texts + shown(app)
    rows = outbox_table(app)
    assert sorted(str(r["status"]) for r in rows) == ["pending", "sent"]
    assert store.state(notify.STATE_KEY.format(settings.alert_urls and
                                               notify.channels(settings)[0].name))


def test_channels_are_shown_as_text_with_scheme_host_and_port(
        monkeypatch: pytest.MonkeyPatch, env: dict[str, str], receiver: HttpReceiver) -> None:
    app = app_for(monkeypatch, {**env, "ALERT_WEBHOOK_URL":
                                f"http://127.0.0.1:{receiver.port}/hook/T0KEN"},
                  "pages/alerts.py")
    texts = [t.value for t in app.text]
    assert f"webhook\njson://127.0.0.1:{receiver.port} (from ALERT_WEBHOOK_URL)" in texts
    page = shown(app)
    assert "T0KEN" not in page + "".join(texts) and "127.0.0.1" not in page, \
        "the URL is never Markdown"


def test_a_silence_from_the_page_is_listed_and_ends(monkeypatch: pytest.MonkeyPatch,
                                                   env: dict[str, str],
                                                   receiver: HttpReceiver) -> None:
    env = {**env, "ALERT_URLS": f"json://127.0.0.1:{receiver.port}/s"}
    app, store = alerts_page(monkeypatch, env)
    app.selectbox[-1].select("redis")
    app.button(key="FormSubmitter:silence-Silence").click().run()
    assert "Silenced 1: redis until" in unescaped([s.value for s in app.success][-1])
    from ops.alerts import silences
    [silence] = silences.active(store, now_ms())
    assert (silence.target, silence.created_by) == ("redis", "Alerts page")
    app.run()  # listed in force, with its End button
    assert f"Silenced: {silence.id}: redis until" in "\n".join(t.value for t in app.text)
    next(b for b in app.button if b.key == f"end-silence-{silence.id}").click().run()
    assert silences.active(store, now_ms()) == []


# --- e. every rate names its window ---


def test_the_hit_rate_and_eviction_texts_name_their_window() -> None:
    rules = {rule.name: rule for rule in DEFAULT_RULES}
    ctx = Context(now_ts=0, row={}, errors={}, configured={"redis": True},
                  redis_window={"hits": 100.0, "misses": 900.0, "evicted": 5.0})
    [low] = rules["redis_hit_rate_low"].check(rules["redis_hit_rate_low"], ctx)
    assert low.active and "over 15 min" in low.message
    [evicting] = rules["redis_evicting"].check(rules["redis_evicting"], ctx)
    assert evicting.active and "in 15 min" in evicting.message
    assert "over 15 min" in rules["redis_hit_rate_low"].describe()
    assert "in 15 min" in rules["redis_evicting"].title


def test_clean_texts_name_their_window_and_say_nothing_false() -> None:
    """What a resolution quotes as recovered: no 'maxmemory reached' at 0 evictions."""
    rules = {rule.name: rule for rule in DEFAULT_RULES}
    ctx = Context(now_ts=0, row={}, errors={}, configured={"redis": True},
                  redis_window={"hits": 10.0, "misses": 5.0, "evicted": 0.0})
    [quiet] = rules["redis_hit_rate_low"].check(rules["redis_hit_rate_low"], ctx)
    assert not quiet.active and quiet.message == (
        "too little traffic over 15 min to judge the hit rate (15 lookups, at least 1000 "
        "needed)")
    [calm] = rules["redis_evicting"].check(rules["redis_evicting"], ctx)
    assert not calm.active and calm.message == "cache evicted 0 keys in 15 min"


def test_a_firing_hit_rate_alert_names_its_window_on_every_page(
        monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    store = Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3")
    now = now_ms()
    store.beat(Heartbeat(1, "h", now - 60_000, now, 5.0, "0.1.0"))
    engine = AlertEngine(store, DEFAULT_RULES, lambda alert, event: None)
    ctx = Context(now_ts=now, row={}, errors={}, configured={"redis": True},
                  redis_window={"hits": 100.0, "misses": 1900.0, "evicted": 0.0})
    assert [(a.rule, event) for a, event in engine.evaluate(ctx)] == [
        ("redis_hit_rate_low", "firing")]
    said = "cache hit rate 5.0% over 15 min (2000 lookups; limit 80%)"
    alerts = unescaped(shown(app_for(monkeypatch, env, "pages/alerts.py")))
    assert f"warning · {said} · for " in alerts.replace("*", "")
    first = app_for(monkeypatch, env)  # the banner, as the first page shows it
    assert unescaped(first.error[0].value) == f"1 alert(s) firing: {said} - see Alerts."
