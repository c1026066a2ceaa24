"""``make bench-load``: the locustfile. A mix of what the town sends at once, against ``make run-prod-local``.

* LINE residents: a signed text order (「大根2本とりんご1個」, a quote) then the signed confirm postback,
  replies going to the fake LINE API (``sandbox.fake_line``, a process of its own).
* Phone callers: Twilio's webhooks, signed with the auth token, through the keypad order
  (greeting → 2 → shop → item → quantity → review → 1 → goodbye).
* Shop staff: the product list, then setting a product's stock (CSRF token from the page).
* The coordinator: the day's dashboard and the residents page.

Each order flow uses a resident of its own (``plan.json`` from ``benchmarks.load_seed``), so every
confirmed flow must be exactly one order. What was sent and answered 2xx is written to ``sent.json``
at the end for ``benchmarks.load_check``; so is each order step whose answer never came or was not 200
(``maybe_orders``: cut off when locust stops at ``--run-time``, or a failure), which may have placed
its order (at most once) or not. Environment: ``LOAD_DIR`` (plan.json, sent.json),
``LINE_CHANNEL_SECRET``, ``TWILIO_AUTH_TOKEN``, ``PUBLIC_BASE_URL`` (what Twilio signs).

* Drivers: a planned run's page (its link from ``plan_day``), then 完了 on its next stop; once every
  stop is recorded, taps repeat (a no-op by design: the same outcome twice changes nothing).

Cookies: with ``OTODOKE_ENV=production`` the session cookie is ``Secure``, and locust's cookie jar
(geventhttpclient) does not send a Secure cookie over the loopback's plain http; so every session cookie
is sent by hand as a ``Cookie`` header, as a browser over https would send it. Paths with a query are
built with ``urlencode`` (the client sends the request line as latin-1: non-ASCII must be %-encoded).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit
from xml.etree import ElementTree

from locust import FastHttpUser, between, events, task
from twilio.request_validator import RequestValidator

from benchmarks.load_seed import stock_form
from sandbox.line import sign

LOAD_DIR = Path(os.environ.get("LOAD_DIR", "instance/load"))
PLAN: dict[str, Any] = json.loads((LOAD_DIR / "plan.json").read_text()) if (LOAD_DIR / "plan.json").exists() else {}
LINE_SECRET = os.environ.get("LINE_CHANNEL_SECRET", "")
TWILIO_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
PUBLIC = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
# Each resident is handed out once; a user that runs out stops ordering (the seed has plenty for 2 min).
_line_pool = iter(PLAN.get("line_users", []))
_phone_pool = iter(PLAN.get("phones", []))
SENT: dict[str, list[str]] = {"line_events": [], "line_orders": [], "phone_orders": [], "call_sids": [],
                              "maybe_orders": []}
_stock = itertools.count(1000)
_driver_seq = itertools.count()


def _line_body(user: str, message: dict[str, Any] | None = None, postback: str | None = None) -> tuple[str, str]:
    event_id = uuid.uuid4().hex.upper()[:26]
    event: dict[str, Any] = {"mode": "active", "timestamp": int(time.time() * 1000),
                             "source": {"type": "user", "userId": user}, "replyToken": uuid.uuid4().hex,
                             "webhookEventId": event_id, "deliveryContext": {"isRedelivery": False}}
    if postback is not None:
        event.update(type="postback", postback={"data": postback})
    else:
        event.update(type="message", message=message)
    return event_id, json.dumps({"destination": "U" + "0" * 32, "events": [event]}, ensure_ascii=False)


class LineResident(FastHttpUser):
    weight = 4
    wait_time = between(0.2, 0.6)

    def _post(self, user: str, name: str, **kind: Any) -> bool:
        event_id, body = _line_body(user, **kind)
        with self.client.post("/line/callback", data=body.encode("utf-8"), name=name, catch_response=True,
                              headers={"Content-Type": "application/json",
                                       "X-Line-Signature": sign(LINE_SECRET, body)}) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
                return False
        SENT["line_events"].append(event_id)
        return True

    @task
    def order(self) -> None:
        user = next(_line_pool, None)
        if user is None:
            return
        text = {"type": "text", "id": str(time.time_ns()), "quoteToken": "q", "text": "大根2本とりんご1個"}
        if not self._post(user, "LINE text order", message=text):
            return
        with _order_step(user) as placed:
            placed.append(self._post(user, "LINE confirm", postback="a=confirm&w=pm"))
        if placed[0]:
            SENT["line_orders"].append(user)


class PhoneCaller(FastHttpUser):
    weight = 2
    wait_time = between(0.2, 0.6)

    def _step(self, label: str, path: str, sid: str, phone: str, **extra: str) -> str | None:
        params = {"CallSid": sid, "AccountSid": "ACload", "From": phone, "To": "+81238000001",
                  "CallStatus": "in-progress", "Direction": "inbound", "ApiVersion": "2010-04-01", **extra}
        url = urljoin(PUBLIC + "/", path)
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
        with self.client.post(url[len(PUBLIC):], data=params, name=label, catch_response=True,
                              headers={"X-Twilio-Signature": signature}) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
                return None
            gather = ElementTree.fromstring(response.content).find("Gather")
            return gather.get("action", "") if gather is not None else ""

    @task
    def order(self) -> None:
        phone = next(_phone_pool, None)
        if phone is None:
            return
        sid = "CA" + uuid.uuid4().hex
        SENT["call_sids"].append(sid)
        action = self._step("phone incoming", "/voice/incoming", sid, phone)
        for label, keys in (("phone menu", "2"), ("phone shop", "1"), ("phone item", "1"),
                            ("phone quantity", "2"), ("phone review", "2")):
            if not action:
                return
            action = self._step(label, action, sid, phone, Digits=keys)
        if action is not None and action:
            with _order_step(phone) as placed:
                placed.append(self._step("phone confirm", action, sid, phone, Digits="1") is not None)
            if placed[0]:
                SENT["phone_orders"].append(phone)


class _Staff(FastHttpUser):
    abstract = True
    role = ""

    def on_start(self) -> None:
        self.cookie = f"{PLAN['cookie_name']}={PLAN['sessions'][self.role]}"

    def get(self, path: str, name: str) -> str:
        path.encode("ascii")    # a non-ASCII path fails here, loudly, not inside the client
        # No allow_redirects=False: with this locust/geventhttpclient pair it raises AttributeError
        # ('redirect_resonse_codes'); a broken session shows as the sign-in page instead.
        with self.client.get(path, name=name, headers={"Cookie": self.cookie}, catch_response=True) as response:
            if response.status_code != 200 or 'action="/staff/login' in (response.text or ""):
                response.failure(f"status {response.status_code}")
            return response.text or ""


class ShopStaff(_Staff):
    weight = 1
    wait_time = between(0.5, 1.5)
    role = "shop"

    @task
    def set_stock(self) -> None:
        page = self.get("/shop/products", "shop products page")
        product = PLAN["stock_product"]
        fields = stock_form(page, product)
        if fields is None:
            return
        with self.client.post(f"/shop/products/{product}/stock", name="shop set stock",
                              data={"stock": str(next(_stock) % 99999), **fields},
                              headers={"Cookie": self.cookie}, catch_response=True) as response:
            if response.status_code != 200:      # the redirect back to the product list, followed
                response.failure(f"status {response.status_code}")


class Coordinator(_Staff):
    weight = 1
    wait_time = between(0.5, 1.5)
    role = "coordinator"

    @task(2)
    def dashboard(self) -> None:
        self.get("/staff/", "staff dashboard")

    @task
    def residents(self) -> None:
        self.get("/staff/residents?" + urlencode({"q": "電話1"}), "staff residents")


class DriverTaps(FastHttpUser):
    weight = 1
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        runs = PLAN.get("driver_runs") or []
        self.run = runs[next(_driver_seq) % len(runs)] if runs else None
        self.stops = itertools.cycle(self.run["stops"]) if self.run and self.run["stops"] else None
        self.cookie = ""    # the run page's anonymous session (its CSRF token), sent by hand: see the top

    @task
    def tap(self) -> None:
        if self.run is None or self.stops is None:
            return
        path = urlsplit(self.run["link"]).path
        with self.client.get(path, name="driver run page", headers=self._cookie_header(),
                             catch_response=True) as response:
            self._keep_session(response)
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.text or "")
            if response.status_code != 200 or not token:
                response.failure(f"status {response.status_code}")
                return
        with self.client.post(f"{path}/stops/{next(self.stops)}", name="driver stop done",
                              data={"outcome": "done", "csrf_token": token.group(1)},
                              headers=self._cookie_header(), catch_response=True) as response:
            self._keep_session(response)
            if response.status_code != 200:     # the redirect back to the run page, followed
                response.failure(f"status {response.status_code}")


    def _cookie_header(self) -> dict[str, str]:
        return {"Cookie": self.cookie} if self.cookie else {}

    def _keep_session(self, response: Any) -> None:
        # Flask sets the cookie only when the session changes (the first page makes the CSRF token).
        for header in _set_cookies(response):
            if header.startswith(PLAN.get("cookie_name", "session") + "="):
                self.cookie = header.split(";", 1)[0]


def _set_cookies(response: Any) -> list[str]:
    headers = response.headers
    if hasattr(headers, "get_all"):     # geventhttpclient's Headers: one entry per Set-Cookie
        return list(headers.get_all("Set-Cookie") or [])
    value = headers.get("Set-Cookie")
    return list(value) if isinstance(value, list) else [value] if value else []


@contextmanager
def _order_step(ref: str) -> Iterator[list[bool]]:
    """Around the request that places an order: until its answer is read the ref is a "maybe" (locust
    kills users mid-request at the end of ``--run-time``, and then no code after the request runs);
    the caller appends True when the answer says the order was placed, False otherwise."""
    SENT["maybe_orders"].append(ref)
    placed: list[bool] = []
    yield placed
    if placed and placed[0]:
        SENT["maybe_orders"].remove(ref)


@events.test_stop.add_listener
def _write_sent(**_: Any) -> None:
    (LOAD_DIR / "sent.json").write_text(json.dumps(SENT))
