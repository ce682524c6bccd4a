"""The asset library: installed from the registry as pinned, every drawing usable."""

from __future__ import annotations

import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from reelforge.assets import install
from reelforge.assets.catalogue import load_catalogue
from reelforge.assets.install import default_assets_dir
from reelforge.assets.raster import outline, recolor, render_rgba
from reelforge.assets.traits import EXTRA_TRAITS, OVERRIDES
from reelforge.errors import ConfigError
from reelforge.recaption.assets import COMMON_NOUNS
from reelforge.recaption.vocabulary import SETTING_IMPLIED_BY


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(default_assets_dir())


def test_the_library_holds_over_a_thousand_things_of_every_category(catalogue) -> None:
    assert len(catalogue) > 1100
    categories = {a.category for a in catalogue.assets.values()}
    for category in ("animal", "person", "vehicle", "food", "instrument", "plant", "building",
                     "furniture", "tool", "sport", "weather", "celestial", "fantasy"):  # fmt: skip
        assert category in categories
    dog = catalogue["dog"]
    assert (dog.label, dog.emoji, dog.locomotion, dog.sound) == ("dog", "🐕", "runs", "bark")
    assert 0.5 < dog.size_m < 1.5 and dog.mass_kg > 0


def test_every_hand_table_names_an_asset_that_exists(catalogue) -> None:
    named = {*OVERRIDES, *EXTRA_TRAITS, *COMMON_NOUNS.values(), *SETTING_IMPLIED_BY}
    missing = sorted(i for i in named if i not in catalogue)
    assert not missing, f"unknown asset ids: {missing}"


def test_every_drawing_renders_with_ink(catalogue) -> None:
    empty = [a.id for a in catalogue.assets.values() if render_rgba(a, 24)[..., 3].max() < 128]
    assert not empty


def test_the_outline_is_the_drawings_convex_hull(catalogue) -> None:
    car = catalogue["automobile"]
    hull, aspect = outline(car)
    assert 1.3 < aspect < 1.6  # a car is wider than it is tall
    rgba = render_rgba(car, 128)
    ys, xs = np.nonzero(rgba[..., 3] > 128)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    height = y1 - y0
    points = np.stack([(xs - (x0 + x1) / 2) / height, -(ys - (y0 + y1) / 2) / height], 1)
    contour = hull.astype(np.float32).reshape(-1, 1, 2)
    inside = [
        cv2.pointPolygonTest(contour, (float(x), float(y)), True) > -0.02 for x, y in points[::7]
    ]
    assert np.mean(inside) > 0.99


def test_a_stated_colour_recolours_the_body_and_keeps_the_tyres(catalogue) -> None:
    rgba = render_rgba(catalogue["automobile"], 128)
    blue = recolor(rgba, (40, 90, 230))
    hsv = cv2.cvtColor(np.ascontiguousarray(blue[..., :3]), cv2.COLOR_RGB2HSV)
    body = (blue[..., 3] > 128) & (hsv[..., 1] > 80)
    assert np.median(hsv[..., 0][body]) == pytest.approx(113, abs=8)  # blue in OpenCV's hue
    dark_before = ((rgba[..., :3].max(-1) < 70) & (rgba[..., 3] > 128)).sum()
    dark_after = ((blue[..., :3].max(-1) < 70) & (blue[..., 3] > 128)).sum()
    assert dark_after == dark_before  # tyres and outlines stay


def test_a_tarball_whose_checksum_differs_is_refused(tmp_path: Path) -> None:
    member = tmp_path / "package" / "icons.json"
    member.parent.mkdir()
    member.write_text("{}")
    tarball = tmp_path / "tampered.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(member, arcname="package/icons.json")
    with pytest.raises(ConfigError, match="checksum mismatch") as caught:
        install._verify(tarball, install.PACKAGES[0])
    assert caught.value.param == "integrity"


def test_a_missing_library_names_the_command_that_installs_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"python -m reelforge.assets install"):
        load_catalogue(tmp_path / "nowhere")


def test_convex_parts_follow_a_concave_drawing_closer_than_one_hull(catalogue) -> None:
    from reelforge.assets.raster import outline_parts

    horse = catalogue["horse"]
    hull, _ = outline(horse)
    parts = outline_parts(horse)
    assert len(parts) > 4
    for part in parts:  # each part is convex: its own hull keeps all its points
        assert len(cv2.convexHull(part.astype(np.float32))) == len(part)

    def raster(polygons) -> np.ndarray:  # in units of the drawing's height, 200 px a unit
        canvas = np.zeros((260, 300), np.uint8)
        for polygon in polygons:
            px = np.stack([polygon[:, 0] * 200 + 150, 130 - polygon[:, 1] * 200], 1)
            cv2.fillPoly(canvas, [np.round(px).astype(np.int32)], 1)
        return canvas.astype(bool)

    union, whole = raster(parts), raster([hull])
    assert union.sum() < 0.9 * whole.sum()  # the gaps between the legs are left out
    rgba = render_rgba(horse, 128)
    ys, xs = np.nonzero(rgba[..., 3] > 128)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    h = y1 - y0
    ink_x = np.round(((xs - (x0 + x1) / 2) / h) * 200 + 150).astype(int)
    ink_y = np.round(130 + ((ys - (y0 + y1) / 2) / h) * 200).astype(int)
    assert union[ink_y, ink_x].mean() > 0.99  # and the ink is all covered
