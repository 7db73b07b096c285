"""The class and run colours are told apart by colour-blind readers and stand out against white.

The references are written here from their published definitions, not taken from the code under test: WCAG 2.x's
relative luminance and contrast ratio, CIEDE2000 (Sharma, Wu & Dalal 2005, checked on their published test pairs)
and the colour-vision-deficiency simulation of Machado, Oliveira & Fernandes 2009 (severity 1.0).
"""

from __future__ import annotations

import itertools
import math

import pytest

from explorer.plots import PALETTE, SYMBOLS, tint

# Machado et al. 2009, severity 1.0, applied to linear sRGB
MACHADO = {
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216), (-0.003882, -0.048116, 1.051998)),
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413), (-0.011820, 0.042940, 0.968881)),
    "tritanopia": ((1.255528, -0.076749, -0.178779), (-0.078411, 0.930809, 0.147602), (0.004733, 0.691367, 0.303900)),
}
MIN_CONTRAST = 3.0  # WCAG 1.4.11: graphical objects that carry meaning
MIN_DISTANCE = 12.0  # CIEDE2000; about 2.3 is a just-noticeable difference, side by side


def _linear(hex_colour: str) -> tuple[float, float, float]:
    rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    return tuple(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb)


def _contrast_on_white(hex_colour: str) -> float:
    r, g, b = _linear(hex_colour)
    return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)


def _lab(rgb: tuple[float, float, float]) -> tuple[float, float, float]:
    r, g, b = (min(1.0, max(0.0, c)) for c in rgb)
    xyz = (0.4124 * r + 0.3576 * g + 0.1805 * b, 0.2126 * r + 0.7152 * g + 0.0722 * b, 0.0193 * r + 0.1192 * g + 0.9505 * b)
    f = [
        t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116
        for t in (xyz[0] / 0.95047, xyz[1], xyz[2] / 1.08883)
    ]
    return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])


def _ciede2000(lab1: tuple[float, ...], lab2: tuple[float, ...]) -> float:
    (l1, a1, b1), (l2, a2, b2) = lab1, lab2
    c_bar = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(c_bar**7 / (c_bar**7 + 25**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p = math.degrees(math.atan2(b1, a1p)) % 360 if c1p else 0.0
    h2p = math.degrees(math.atan2(b2, a2p)) % 360 if c2p else 0.0
    dh = 0.0 if c1p * c2p == 0 else (h2p - h1p + 180) % 360 - 180
    d_big_h = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dh / 2))
    l_bar, cp_bar = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        h_bar = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        h_bar = (h1p + h2p) / 2
    else:
        h_bar = (h1p + h2p + 360) / 2 if h1p + h2p < 360 else (h1p + h2p - 360) / 2
    t = (
        1
        - 0.17 * math.cos(math.radians(h_bar - 30))
        + 0.24 * math.cos(math.radians(2 * h_bar))
        + 0.32 * math.cos(math.radians(3 * h_bar + 6))
        - 0.20 * math.cos(math.radians(4 * h_bar - 63))
    )
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / math.sqrt(20 + (l_bar - 50) ** 2)
    s_c, s_h = 1 + 0.045 * cp_bar, 1 + 0.015 * cp_bar * t
    r_t = (
        -2 * math.sqrt(cp_bar**7 / (cp_bar**7 + 25**7)) * math.sin(math.radians(60 * math.exp(-(((h_bar - 275) / 25) ** 2))))
    )
    dl, dc, dh_ = (l2 - l1) / s_l, (c2p - c1p) / s_c, d_big_h / s_h
    return math.sqrt(dl**2 + dc**2 + dh_**2 + r_t * dc * dh_)


def _seen(hex_colour: str, vision: str) -> tuple[float, float, float]:
    rgb = _linear(hex_colour)
    if vision == "normal":
        return _lab(rgb)
    return _lab(tuple(sum(m * c for m, c in zip(row, rgb)) for row in MACHADO[vision]))


@pytest.mark.parametrize(
    ("lab1", "lab2", "expected"),
    [  # Sharma, Wu & Dalal (2005), table 1, pairs 1, 7, 17, 25
        ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
        ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
        ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
        ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ],
)
def test_the_reference_colour_difference_matches_the_published_pairs(lab1, lab2, expected):
    assert _ciede2000(lab1, lab2) == pytest.approx(expected, abs=1e-4)


def test_the_reference_contrast_matches_wcags_known_greys():
    assert _contrast_on_white("#000000") == pytest.approx(21.0)
    assert _contrast_on_white("#767676") == pytest.approx(4.54, abs=0.01)  # the lightest grey at 4.5:1


def test_every_class_colour_is_at_least_3_to_1_against_white():
    assert len(PALETTE) == len(SYMBOLS) == 10
    weak = {c: round(_contrast_on_white(c), 2) for c in PALETTE if _contrast_on_white(c) < MIN_CONTRAST}
    assert not weak, f"under {MIN_CONTRAST}:1 on white: {weak}"


@pytest.mark.parametrize("vision", ["normal", *MACHADO])
def test_every_pair_of_class_colours_stays_apart_for_colour_blind_readers(vision):
    close = [
        (a, b, round(_ciede2000(_seen(a, vision), _seen(b, vision)), 1))
        for a, b in itertools.combinations(PALETTE, 2)
        if _ciede2000(_seen(a, vision), _seen(b, vision)) < MIN_DISTANCE
    ]
    assert not close, f"colours too close for {vision}: {close}"


def test_the_old_palette_would_have_failed_the_same_checks():  # the checks can fail: Tableau's orange and green
    assert _ciede2000(_seen("#ff7f0e", "protanopia"), _seen("#2ca02c", "protanopia")) < 2.5


def test_a_see_through_fill_keeps_the_colour():
    assert tint("#c30000", 0.45) == "rgba(195,0,0,0.45)"
