from __future__ import annotations

from tests.factories import make_driver, make_product, make_resident, make_vehicle


def test_factories_build_rows_that_round_trip(session) -> None:
    resident = make_resident(session)
    product = make_product(session)
    driver = make_driver(session, make_vehicle(session))
    session.commit()
    session.expire_all()
    assert resident.district.name == "中央"
    assert resident.created_at.tzinfo is not None  # aware datetimes survive SQLite too
    assert product.shop.products == [product]
    assert driver.vehicle is not None
