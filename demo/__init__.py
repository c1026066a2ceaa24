"""Demo data for the pilot town (Nagai, Yamagata) and a generator of realistic order days.

Everything here is FICTIONAL: the people, shops, farm stands, phone numbers, LINE ids and addresses
are invented for demos, training and tests. District names are the town's real district names; their
centres, calendars, depots and fees are plausible inventions, not the city's.
"""

FICTIONAL_NOTICE = "※ デモ用の架空データです（人物・店舗・電話番号・住所はすべて架空） / demo data, all fictional"
