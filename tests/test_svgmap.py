from __future__ import annotations

import xml.etree.ElementTree as ET

from delivery.svgmap import MapLine, MapPoint, map_link, render_svg

NS = "{http://www.w3.org/2000/svg}"


def test_every_stop_is_drawn_and_projected_inside_the_canvas() -> None:
    depot = MapPoint(38.1075, 140.0405, "", "長井市役所", kind="depot")
    stops = [MapPoint(38.10 + i * 0.01, 140.03 + i * 0.005, str(i + 1), f"地点{i + 1}") for i in range(4)]
    line = MapLine((depot, *stops, depot), "1号車")
    root = ET.fromstring(render_svg([line], width=400, height=300))
    labels = [t.text for t in root.iter(f"{NS}text")]
    assert labels == ["1", "2", "3", "4"]
    for circle in root.iter(f"{NS}circle"):
        assert 0 <= float(circle.attrib["cx"]) <= 400 and 0 <= float(circle.attrib["cy"]) <= 300
    # North is up: the northernmost stop (the last) is drawn highest.
    ys = [float(c.attrib["cy"]) for c in root.iter(f"{NS}circle")]
    assert ys == sorted(ys, reverse=True)


def test_titles_are_escaped_and_empty_map_says_so() -> None:
    svg = render_svg([MapLine((MapPoint(38.1, 140.0, "1", "<script>"),), "x")])
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "地点がありません" in render_svg([])


def test_map_link_opens_the_coordinates() -> None:
    assert map_link(38.1075, 140.0405).endswith("query=38.107500,140.040500")
