"""The staff dashboard lists the day's doors pinned by hand (issue #10): 「手動で固定 N件」, each with the
resident, the van and a link to its order, so a coordinator sees what a re-plan will not move."""

from __future__ import annotations

from orders.models import Order
from tests.test_pins import DAY, _post, _run_of_van, two_vans  # noqa: F401


def test_the_dashboard_shows_the_days_pins_with_van_and_order_link(client, session, two_vans) -> None:  # noqa: F811
    first, van2 = two_vans["first"], two_vans["vans"][1]
    name = session.get(Order, first).resident.name
    session.rollback()
    before = client.get(f"/staff/?date={DAY.isoformat()}").get_data(as_text=True)
    assert "手動で固定" not in before

    _post(client, first, "move-van", to=f"run:{_run_of_van(session, van2)}")
    page = client.get(f"/staff/?date={DAY.isoformat()}").get_data(as_text=True)
    section = page[page.index('id="pinned"'):]
    section = section[:section.index("</ul>")]
    assert "手動で固定 1件" in section
    assert f"{name} 様" in section and "<strong>軽バン2号</strong>" in section
    assert f'href="/staff/orders/{first}"' in section

    _post(client, first, "cancel-order")         # the door's last order: its pin and its line go
    assert "手動で固定" not in client.get(f"/staff/?date={DAY.isoformat()}").get_data(as_text=True)
