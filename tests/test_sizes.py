"""Dataset sizes read from free text: table-driven cases from real descriptions, properties."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sonoharvest.sizes import DEFAULT_PATH, Size, extract_sizes, load_rubric

# (text, expected counts per unit). Most texts are real phrasing from Zenodo, GitHub, Kaggle
# and Hugging Face descriptions (demo data); the rest are the traps those texts contain.
CASES: list[tuple[str, dict[str, int]]] = [
    # --- counts as real descriptions state them ---
    ("BUS-BRA contains 1875 anonymised breast ultrasound images from 1064 female patients "
     "acquired with four scanners", {"images": 1875, "patients": 1064}),
    ("780 breast ultrasound images of 600 women aged 25–75, collected in 2018 at Baheya "
     "Hospital, Cairo.", {"images": 780, "patients": 600}),
    ("EchoNet-Dynamic: 10,030 apical-4-chamber echocardiography videos with EF labels",
     {"videos": 10030}),
    ("1,875 images", {"images": 1875}),
    ("Images were acquired in two hospitals, a total of 2,100 B-mode images.", {"images": 2100}),
    ("12k frames of lung ultrasound", {"frames": 12000}),
    ("pre-trained on 1.2 million images", {"images": 1_200_000}),
    ("USFM is pretrained on the 3M-US database (over two million images from 12 organs)",
     {"images": 2_000_000}),
    ("SonoDINO: self-supervised pretraining on 4.1M multi-organ ultrasound frames",
     {"frames": 4_100_000}),
    ("A cohort of over 500 patients", {"patients": 500}),
    ("500+ patients from three centres", {"patients": 500}),
    ("n = 100 subjects underwent scanning", {"patients": 100}),
    ("Longitudinal B-mode carotid artery ultrasound images of 1,088 subjects",
     {"patients": 1088}),
    ("breast ultrasound images (n=8,000) with masks", {"images": 8000}),
    ("3 812 images", {"images": 3812}),
    ("3\u2009812 images and 1\u202f200 videos", {"images": 3812, "videos": 1200}),
    ("Scans from 12.400 images were kept", {"images": 12400}),
    ("two hundred patients and twenty volunteers", {"patients": 200}),
    ("1,588 fetal abdominal ultrasound images from 169 pregnant women",
     {"images": 1588, "patients": 169}),
    ("Open-access benchmark dataset of lung ultrasound imaging data (242 videos, 29,651 "
     "processed images)", {"videos": 242, "images": 29651}),
    ("242 lung ultrasound videos (29,651 frames) curated from 8 sources",
     {"videos": 242, "frames": 29651}),
    ("242 point-of-care ultrasound (POCUS) videos", {"videos": 242}),
    ("MedMNIST+: 708,069 2D images and 9,998 3D images", {"images": 708069, "volumes": 9998}),
    ("3D transthoracic echocardiography volumes of 45 patients", {"patients": 45}),
    ("Trained on 120 volumes from the μ-RegPro challenge", {"volumes": 120}),
    ("TransUNet on micro-ultrasound images. The dataset of 75 patients (2,060 slices)",
     {"patients": 75, "images": 2060}),
    ("Copy of the BrEaST-Lesions_USG collection (256 breast ultrasound scans of 256 patients)",
     {"images": 256, "patients": 256}),
    ("DDTI (99 cases / 134 images, XML annotations)", {"cases": 99, "images": 134}),
    ("TMED-2 contains 577 fully labelled and 5,486 unlabelled transthoracic echocardiogram "
     "studies", {"studies": 5486}),
    ("2,140 transthoracic echocardiography clips (A4C, A2C, PLAX)", {"videos": 2140}),
    ("1,250 B-mode ultrasound sequences of the gastrocnemius", {"videos": 1250}),
    ("7,200 still frames of transthoracic echocardiography", {"frames": 7200}),
    ("The number of patients is 600 female patients. The dataset consists of 780 images.",
     {"patients": 600, "images": 780}),
    ("Number of images: 780", {"images": 780}),
    ("| Videos | 10,030 |", {"videos": 10030}),
    ("We release 3,100 annotated endoscopic ultrasound (EUS) frames", {"frames": 3100}),
    ("(Data in Brief 28, 2020, doi:10.1016/j.dib.2019.104863 ). 780 PNG images",
     {"images": 780}),
    ("It contains 1334 two-dimensional ultrasound images of the fetal head (HC18)",
     {"images": 1334}),
    ("trained on 1,032,975 echocardiogram videos and reports", {"videos": 1_032_975}),
    ("SA-Med2D-20M, 4.6M images and 19.7M masks", {"images": 4_600_000}),
    ("1,5 million images", {"images": 1_500_000}),
    ("2019 images were selected", {"images": 2019}),
    # --- several counts for one unit: the total wins, else the largest ---
    ("5,635 training images of the neck and 5,508 test images.", {"images": 5635}),
    ("We screened 3,000 patients; a total of 1,200 patients were included.",
     {"patients": 1200}),
    ("We screened 3,000 patients; 1,200 patients in total were included.",
     {"patients": 1200}),
    ("The test set has 3,000 images. Total images: 2,100", {"images": 2100}),
    ("Trained on 850 images from 140 patients; 10 images per patient.",
     {"images": 850, "patients": 140}),
    # --- not counts ---
    ("In 2019 images were collected at two hospitals.", {}),
    ("Between 2015 and 2019 patients were enrolled.", {}),
    ("the 2019 MICCAI challenge images", {}),
    ("All 512x512 images, resized from 256 × 256 pixels; 512 x 512 images", {}),
    ("80% of the images are for training, 20 % images for testing", {}),
    ("images 1-100 are used for training; 1-100 images", {}),
    ("between 100 and 200 images; from 100 to 200 patients", {}),
    ("Model v2 images; version 3 videos; Figure 2 images; class 4 images", {}),
    ("Ten images per patient. It runs at 60 frames per second, 30 frames/s.", {}),
    ("16 frames from each video, 5 images each, 12 images/patient", {}),
    ("Segments lumen in 20 MHz IVUS frames", {}),
    ("COVID-19 patients and COVID 19 patients", {}),
    ("the two images below show three videos", {}),
    ("0 images, 1.2 billion images, 150,000,000 images", {}),
    ("3 classes of images", {}),
    ("TN3K images and HC18 videos", {}),
    ("2.5 images", {}),
    ("Images: 1,000,000,000", {}),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[t[:50] for t, _ in CASES])
def test_cases(text: str, expected: dict[str, int]) -> None:
    found = extract_sizes(text)
    assert {unit: size.count for unit, size in found.items()} == expected
    for size in found.values():
        assert size.phrase in text


@pytest.mark.parametrize(("text", "unit", "phrase"), [
    ("Images were acquired, a total of 2,100 B-mode images.", "images",
     "a total of 2,100 B-mode images"),
    ("breast ultrasound images (n=8,000) with masks", "images", "ultrasound images (n=8,000)"),
    ("n = 100 subjects underwent scanning", "patients", "n = 100 subjects"),
    ("A cohort of over 500 patients", "patients", "over 500 patients"),
    ("780 images from 600 female patients", "patients", "600 female patients"),
    ("12k frames", "frames", "12k frames"),
])
def test_phrase_is_the_evidence(text: str, unit: str, phrase: str) -> None:
    assert extract_sizes(text)[unit].phrase == phrase


def test_empty_text() -> None:
    assert extract_sizes("") == {}


def test_units_come_in_rubric_order() -> None:
    found = extract_sizes("600 patients, 20 videos, 780 images")
    assert list(found) == ["images", "videos", "patients"]


# --- the rubric ---------------------------------------------------------------------------------

def test_shipped_rubric() -> None:
    rubric = load_rubric()
    assert rubric.path == DEFAULT_PATH
    assert set(rubric.units) == {"images", "videos", "patients", "volumes", "frames", "cases",
                                 "studies"}
    assert load_rubric() is rubric  # loaded and compiled once


def _write_rubric(tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    path = tmp_path / "sizes.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(("changes", "key"), [
    ({"max_count": "lots"}, "max_count"),
    ({"max_count": None}, "max_count"),
    ({"units": {"images": []}}, "units.images"),
    ({"units": {"images": ["images"], "videos": ["clips", "Images"]}}, "units.videos"),
    ({"units": {"Images!": ["images"]}}, "units.Images!"),
    ({"qualifiers": ["over", True]}, "qualifiers.1"),
    ({"year_range": [2035, 1950]}, "year_range"),
    ({"colour": "blue"}, "colour"),
])
def test_invalid_rubric_names_file_and_key(tmp_path: Path, changes: dict[str, object],
                                           key: str) -> None:
    path = _write_rubric(tmp_path, **changes)
    with pytest.raises(ValueError, match=re.escape(key)) as info:
        load_rubric(path)
    assert str(path) in str(info.value)


def test_unparseable_rubric(tmp_path: Path) -> None:
    path = tmp_path / "sizes.yaml"
    path.write_text("units: [images\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid YAML") as info:
        load_rubric(path)
    assert str(path) in str(info.value)


def test_rubric_path_argument(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    path = _write_rubric(tmp_path, units={**data["units"], "lesions": ["lesions", "nodules"]})
    text = "192 biopsy-confirmed nodules from 167 patients"
    assert extract_sizes(text, path)["lesions"] == Size(192, "192 biopsy-confirmed nodules")
    assert "lesions" not in extract_sizes(text)


def test_empty_word_lists_veto_nothing(tmp_path: Path) -> None:
    path = _write_rubric(tmp_path, qualifiers=[], not_modifiers=[], not_after=[],
                         not_before=[], year_context=[])
    found = extract_sizes("780 images from 600 female patients, 10 videos per case", path)
    assert {u: s.count for u, s in found.items()} == {"images": 780, "videos": 10,
                                                       "patients": 600}


# --- properties ---------------------------------------------------------------------------------

_VOCAB = ["images", "patients", "videos", "frames", "3D", "volumes", "cases", "n", "=", "(",
          ")", "n=", "1,875", "12 400", "3\u2009812", "2019", "in", "over", "a total of",
          "total", "in total", "per", "each", "x", "×", "%", "-", "1-100", "12k", "4.1M",
          "1.2", "million", "two", "hundred", "twenty", "version", "v2", "B-mode", "of",
          "from", "Images:", "|", "\n", "0", "100000000", "999,999,999", "ſix", "K"]
_TEXTS = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(st.sampled_from(_VOCAB), st.text(max_size=4)), max_size=40).map(
        " ".join),
    st.lists(st.sampled_from(_VOCAB), max_size=40).map("".join),
)


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXTS)
def test_never_raises_and_phrases_are_evidence(text: str) -> None:
    rubric = load_rubric()
    for unit, size in extract_sizes(text).items():
        assert unit in rubric.units
        assert size.phrase in text
        assert isinstance(size.count, int)
        assert 1 <= size.count <= rubric.max_count


_SYNONYMS = sorted({word for words in yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))[
    "units"].values() for word in words})


@settings(deadline=None, max_examples=300)
@given(
    n=st.integers(min_value=1, max_value=100_000_000),
    separator=st.sampled_from([",", ".", " ", "\u00a0", "\u2009", "\u202f"]),
    prefix=st.sampled_from(["", "The dataset contains ", "We collected ", "(", "a total of ",
                            "Images were acquired from "]),
    modifiers=st.sampled_from(["", "anonymised ", "2D B-mode ", "fetal ultrasound (US) "]),
    synonym=st.sampled_from(_SYNONYMS),
    suffix=st.sampled_from(["", ".", " from three centres.", ", with masks", " in total"]),
)
def test_thousands_separators_do_not_change_the_count(
        n: int, separator: str, prefix: str, modifiers: str, synonym: str, suffix: str) -> None:
    # A bare year-like number with words before the unit is a year by design ("the 2019
    # MICCAI challenge images"); "2,019" is not. See year_range in rubrics/sizes.yaml.
    low, high = load_rubric().year_range
    assume(not (modifiers and low <= n <= high))
    plain = f"{prefix}{n} {modifiers}{synonym}{suffix}"
    grouped = f"{prefix}{format(n, ',').replace(',', separator)} {modifiers}{synonym}{suffix}"
    counts = [{u: s.count for u, s in extract_sizes(t).items()} for t in (plain, grouped)]
    assert counts[0] == counts[1]
    assert list(counts[0].values()) == [n]
