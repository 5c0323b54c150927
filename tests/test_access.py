"""Access classification: source fields, text cues, the rubric file's checks, then properties."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sonoharvest import access as access_module
from sonoharvest.access import ACCESS_LEVELS, Access, classify_access, plain_text

RUBRIC = access_module.DEFAULT_PATH
STRICTNESS = {level: i for i, level in enumerate(ACCESS_LEVELS[:-1])}

# Record.access as the mappers set it, with no text: (source, access, level, reason)
FIELD_CASES = [
    ("zenodo", "open", "open download", "zenodo access_right=open"),
    ("zenodo", "embargoed", "controlled", "zenodo access_right=embargoed"),
    ("zenodo", "restricted", "on request", "zenodo access_right=restricted"),
    ("zenodo", "closed", "controlled", "zenodo access_right=closed"),
    ("zenodo", None, "unknown", "zenodo access_right not given"),
    ("github", "open", "open download", "github access=open"),
    ("github", None, "open download", "github default (access not given)"),
    ("huggingface", "open", "open download", "huggingface access=open"),
    ("huggingface", "registration", "registration", "huggingface access=registration"),
    ("huggingface", "on request", "on request", "huggingface access=on request"),
    ("huggingface", "restricted", "controlled", "huggingface access=restricted"),
    ("kaggle", "open", "registration", "kaggle access=open"),
    ("kaggle", "restricted", "controlled", "kaggle access=restricted"),
    ("papers", None, "unknown", "papers default (access not given)"),
    # any other source: the generic values; case and separators are folded
    ("figshare", "OPEN", "open download", "figshare access=open"),
    ("Zenodo", "Embargoed", "controlled", "zenodo access_right=embargoed"),
    ("huggingface", "on_request", "on request", "huggingface access=on request"),
    ("figshare", "mystery", "unknown", "figshare access='mystery' is not mapped in access.yaml"),
]


@pytest.mark.parametrize(("source", "value", "level", "reason"), FIELD_CASES)
def test_source_fields(source, value, level, reason):
    assert classify_access(source, value) == Access(level, reason)


# Text cues; descriptions taken from or modelled on the demo payloads.
TEXT_CASES = [
    # stricter text wins over the field
    ("zenodo", "open",
     "<p>The data are available upon reasonable request from the corresponding author.</p>",
     "on request", "text: 'available upon reasonable request', "
                   "stricter than zenodo access_right=open"),
    ("zenodo", "open", "Data available from the corresponding author on reasonable request.",
     "on request", "text: 'available from the corresponding author on reasonable request', "
                   "stricter than zenodo access_right=open"),
    ("zenodo", "open", "Please contact the authors (j.doe@uni.edu) to obtain the dataset.",
     "on request", None),
    ("github", "open", "Pretrained weights: sign up on our website to get them.",
     "registration", "text: 'sign up', stricter than github access=open"),
    ("huggingface", "registration", "Access requires a data use agreement.",
     "controlled", None),
    ("zenodo", "restricted", "Available to credentialed users on PhysioNet.",
     "controlled", "text: 'credentialed users', stricter than zenodo access_right=restricted"),
    # the field gives nothing (Papers with Code): any cue decides
    ("papers", None, "Echocardiograms for semi-supervised learning research.\n"
     "Access requires a data use agreement: https://tmed.cs.tufts.edu/",
     "controlled", "text: 'data use agreement'"),
    ("papers", None, "Kidney ultrasound with image quality labels. "
     "Access requires registration (research use only).",
     "registration", "text: 'requires registration'"),
    ("papers", None, "Paired low/high quality images, part of MICCAI 2023.\n"
     "Register at https://ultrasoundenhance2023.grand-challenge.org/ to download the data.",
     "registration", "text: 'Register at https://'"),
    ("papers", None, "Join the challenge on grand-challenge.org to get the images.",
     "registration", None),
    ("papers", None, "This collection is TCIA restricted.",
     "controlled", "text: 'TCIA restricted'"),
    ("papers", None, "Access to the data is via a data access committee.", "controlled", None),
    ("papers", None, "Images are shared upon request.", "on request", None),
    ("papers", None, "The dataset is freely available for download.",
     "open download", "text: 'freely available'"),
    ("papers", None, "No registration is required; download the archive.",
     "open download", "text: 'No registration is required'"),
    # a laxer or equal cue never loosens the field
    ("huggingface", "on request", "The model is freely available.", "on request",
     "huggingface access=on request"),
    ("kaggle", "open", "You need a Kaggle account to download.", "registration",
     "kaggle access=open"),
    # negations and image registration are not access cues
    ("zenodo", "open", "No registration is required to download the files.",
     "open download", "zenodo access_right=open"),
    ("zenodo", "open", "Deformable registration of ultrasound with MRI, evaluated after "
     "registration of the volumes; registration is required of all frames.",
     "open download", "zenodo access_right=open"),
    ("papers", None, "We propose a registration network for ultrasound to CT registration.",
     "unknown", "papers default (access not given)"),
    ("zenodo", "open", "For questions, contact the authors. Code is on GitHub.",
     "open download", "zenodo access_right=open"),
    ("zenodo", "open", "", "open download", "zenodo access_right=open"),
]


@pytest.mark.parametrize(("source", "value", "text", "level", "reason"), TEXT_CASES)
def test_text_cues(source, value, text, level, reason):
    result = classify_access(source, value, text)
    assert result.level == level
    if reason is not None:
        assert result.reason == reason
    elif level != "unknown":
        assert result.reason.startswith("text: ")


def test_plain_text_drops_html():
    assert plain_text("<p>Data&nbsp;available\n<b>upon</b> request</p>") == \
        "Data available upon request"


# --- the rubric file ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "entry"), [
    ("version: 1\nbogus: {}\n", "bogus"),
    ("version: 1\nvalues: {open: free}\n", "values['open']"),
    ("version: 1\nsources:\n  zenodo: {values: {open: wide open}}\n",
     "sources['zenodo'].values['open']"),
    ("version: 1\nsources:\n  zenodo: {default: maybe}\n", "sources['zenodo'].default"),
    ("version: 1\nsources:\n  zenodo: {colour: red}\n", "sources['zenodo']"),
    ("version: 1\ncues:\n  on request: ['(unclosed']\n", "cues['on request'][0]"),
    ("version: 1\ncues:\n  unknown: ['x']\n", "cues['unknown']"),
    ("version: 1\ncues:\n  controlled: 'not a list'\n", "cues['controlled']"),
    ("version: 1\nnegations: ['']\n", "negations[0]"),
    ("[1, 2]\n", "expected a mapping"),
    ("cues: {a: [\n", "not valid YAML"),
])
def test_invalid_rubric_names_file_and_entry(tmp_path, text, entry):
    path = tmp_path / "bad-access.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="bad-access.yaml") as err:
        classify_access("zenodo", "open", path=path)
    assert entry in str(err.value)


def test_missing_rubric_says_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="file not found; restore"):
        classify_access("zenodo", "open", path=tmp_path / "absent.yaml")


def test_behaviour_comes_from_the_rubric(tmp_path):
    path = tmp_path / "access.yaml"
    path.write_text("version: 1\nsources:\n  zenodo: {field: access_right, values: "
                    "{open: registration}}\ncues:\n  controlled: ['top secret']\n",
                    encoding="utf-8")
    assert classify_access("zenodo", "open", path=path) == \
        Access("registration", "zenodo access_right=open")
    assert classify_access("zenodo", "open", "Top  secret!", path=path).level == "controlled"


# --- properties --------------------------------------------------------------------------------

PROPS = settings(max_examples=300, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow,
                                        HealthCheck.function_scoped_fixture])
SOURCES = st.one_of(st.sampled_from(["zenodo", "github", "huggingface", "kaggle", "papers"]),
                    st.text(max_size=12))
VALUES = st.one_of(st.none(), st.sampled_from(["open", "embargoed", "restricted", "closed",
                                               "registration", "on request"]), st.text())
CUE_WORDS = ["available upon request", "data use agreement", "registration", "sign up",
             "contact the authors", "no registration required", "freely available", "<b>",
             "TCIA", "credentialed", "grand-challenge.org", ".", " ", "request", "&amp;"]
TEXTS = st.one_of(st.text(), st.lists(st.sampled_from(CUE_WORDS), max_size=8).map(" ".join))


@PROPS
@given(source=SOURCES, value=VALUES, text=TEXTS)
def test_never_raises_and_level_is_allowed(source, value, text):
    result = classify_access(source, value, text)
    assert result.level in ACCESS_LEVELS
    assert result.reason


@PROPS
@given(source=SOURCES, value=VALUES, text=TEXTS)
def test_text_only_ever_tightens_a_known_field(source, value, text):
    field = classify_access(source, value)
    result = classify_access(source, value, text)
    if field.level != "unknown":
        assert STRICTNESS[result.level] >= STRICTNESS[field.level]
        if result.level == field.level:
            assert result == field


@PROPS
@given(source=SOURCES, value=VALUES, text=TEXTS)
def test_deterministic_and_html_insensitive(source, value, text):
    result = classify_access(source, value, text)
    assert classify_access(source, value, text) == result
    if "<" not in text and ">" not in text:
        assert classify_access(source, value, f"<div>{text}</div>").level == result.level
