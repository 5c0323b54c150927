"""Licence normalisation: real source values, the rubric file's checks, then properties."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sonoharvest import licences
from sonoharvest.licences import LICENSE_CLASSES, License, clean, normalize_license, spdx_class

DEMO = Path(licences.__file__).parent / "demo" / "data"
RUBRIC = licences.DEFAULT_PATH

# (raw value as our sources put it in Record.license, spdx, label, class)
CASES = [
    # Zenodo metadata.license.id (lower-cased by the mapper) and legacy Open Definition ids
    ("cc-by-4.0", "CC-BY-4.0", "CC-BY-4.0", "open"),
    ("CC-BY-4.0", "CC-BY-4.0", "CC-BY-4.0", "open"),
    ("cc-zero", "CC0-1.0", "CC0-1.0", "open"),
    ("cc-by-nc-sa-4.0", "CC-BY-NC-SA-4.0", "CC-BY-NC-SA-4.0", "open-nc"),
    ("lgpl-3.0-or-later", "LGPL-3.0-or-later", "LGPL-3.0-or-later", "open"),
    ("agpl-3.0-only", "AGPL-3.0-only", "AGPL-3.0-only", "open"),
    ("other-open", None, "other (open)", "open"),
    ("other-at", None, "other (attribution)", "open"),
    ("other-closed", None, "all rights reserved", "restricted"),
    ("cc-by", None, "CC-BY", "open"),
    ("cc-nc", None, "CC-BY-NC", "open-nc"),
    ("notspecified", None, "unknown", "unknown"),
    # GitHub license.key / spdx_id
    ("MIT", "MIT", "MIT", "open"),
    ("mit", "MIT", "MIT", "open"),
    ("Apache-2.0", "Apache-2.0", "Apache-2.0", "open"),
    ("bsd-3-clause", "BSD-3-Clause", "BSD-3-Clause", "open"),
    ("gpl-3.0", "GPL-3.0-only", "GPL-3.0-only", "open"),
    ("agpl-3.0", "AGPL-3.0-only", "AGPL-3.0-only", "open"),
    ("lgpl-3.0", "LGPL-3.0-only", "LGPL-3.0-only", "open"),
    ("NOASSERTION", None, "other", "unknown"),
    ("other", None, "other", "unknown"),
    # Hugging Face cardData.license / license: tags
    ("cc-by-nc-4.0", "CC-BY-NC-4.0", "CC-BY-NC-4.0", "open-nc"),
    ("cc-by-nc-nd-4.0", "CC-BY-NC-ND-4.0", "CC-BY-NC-ND-4.0", "restricted"),
    ("cc-by-sa-4.0", "CC-BY-SA-4.0", "CC-BY-SA-4.0", "open"),
    ("cc0-1.0", "CC0-1.0", "CC0-1.0", "open"),
    ("apache-2.0", "Apache-2.0", "Apache-2.0", "open"),
    ("openrail", None, "OpenRAIL", "restricted"),
    ("creativeml-openrail-m", None, "OpenRAIL", "restricted"),
    ("bigscience-bloom-rail-1.0", None, "OpenRAIL", "restricted"),
    ("msrla", None, "research-only", "restricted"),
    ("unknown", None, "unknown", "unknown"),
    ("cc", None, "Creative Commons (unspecified)", "unknown"),
    ("odbl", "ODbL-1.0", "ODbL-1.0", "open"),
    ("llama3.1", None, "Llama licence", "restricted"),
    # Kaggle licenseName
    ("CC0: Public Domain", "CC0-1.0", "CC0-1.0", "open"),
    ("CC BY 4.0", "CC-BY-4.0", "CC-BY-4.0", "open"),
    ("CC BY-NC-SA 4.0", "CC-BY-NC-SA-4.0", "CC-BY-NC-SA-4.0", "open-nc"),
    ("CC BY-SA 4.0", "CC-BY-SA-4.0", "CC-BY-SA-4.0", "open"),
    ("Apache 2.0", "Apache-2.0", "Apache-2.0", "open"),
    ("Attribution 4.0 International (CC BY 4.0)", "CC-BY-4.0", "CC-BY-4.0", "open"),
    ("Attribution-NonCommercial 4.0 International (CC BY-NC 4.0)",
     "CC-BY-NC-4.0", "CC-BY-NC-4.0", "open-nc"),
    ("GNU Affero General Public License 3.0", "AGPL-3.0-only", "AGPL-3.0-only", "open"),
    ("Database: Open Database, Contents: Database Contents", "ODbL-1.0", "ODbL-1.0", "open"),
    ("Database: Open Database, Contents: © Original Authors",
     None, "ODbL-1.0 (contents all rights reserved)", "restricted"),
    ("Data files © Original Authors", None, "all rights reserved", "restricted"),
    ("Community Data License Agreement - Permissive - Version 1.0",
     "CDLA-Permissive-1.0", "CDLA-Permissive-1.0", "open"),
    ("ODC Public Domain Dedication and Licence (PDDL)", "PDDL-1.0", "PDDL-1.0", "open"),
    ("ODC Attribution License (ODC-By)", "ODC-By-1.0", "ODC-By-1.0", "open"),
    ("U.S. Government Works", None, "public domain", "open"),
    ("GPL 2", "GPL-2.0-only", "GPL-2.0-only", "open"),
    ("Other (specified in description)", None, "other", "unknown"),
    ("Unknown", None, "unknown", "unknown"),
    # Papers with Code license_name and free text
    ("stanford-university-dataset-research-use-agreement", None, "research-only", "restricted"),
    ("udiat-research-agreement", None, "research-only", "restricted"),
    ("Creative Commons Attribution 4.0 International", "CC-BY-4.0", "CC-BY-4.0", "open"),
    ("Creative Commons Attribution-NonCommercial-ShareAlike 4.0 International",
     "CC-BY-NC-SA-4.0", "CC-BY-NC-SA-4.0", "open-nc"),
    ("Creative Commons Attribution-NoDerivatives 4.0", "CC-BY-ND-4.0", "CC-BY-ND-4.0",
     "restricted"),
    ("Creative Commons Attribution", None, "CC-BY", "open"),
    ("research use only", None, "research-only", "restricted"),
    ("For research purposes only", None, "research-only", "restricted"),
    ("custom data use agreement", None, "data use agreement", "restricted"),
    ("The MIT License", "MIT", "MIT", "open"),
    ("Apache License, Version 2.0", "Apache-2.0", "Apache-2.0", "open"),
    ("BSD 3-Clause", "BSD-3-Clause", "BSD-3-Clause", "open"),
    # SPDX expressions: AND takes the strictest part, OR the most open one
    ("MIT OR Apache-2.0", "MIT OR Apache-2.0", "MIT OR Apache-2.0", "open"),
    ("mit and cc-by-nc-4.0", "MIT AND CC-BY-NC-4.0", "MIT AND CC-BY-NC-4.0", "open-nc"),
    ("CC-BY-NC-4.0 OR MIT", "CC-BY-NC-4.0 OR MIT", "CC-BY-NC-4.0 OR MIT", "open"),
    ("gpl-2.0 with classpath-exception-2.0", "GPL-2.0-only WITH Classpath-exception-2.0",
     "GPL-2.0-only WITH Classpath-exception-2.0", "open"),
    # nothing to go on
    (None, None, "unknown", "unknown"),
    ("", None, "unknown", "unknown"),
    ("   ", None, "unknown", "unknown"),
    ("  Some   bespoke terms ", None, "Some bespoke terms", "unknown"),
    ("LicenseRef-my-own", None, "LicenseRef-my-own", "unknown"),
]


@pytest.mark.parametrize(("raw", "spdx", "label", "license_class"), CASES)
def test_real_values(raw, spdx, label, license_class):
    assert normalize_license(raw) == License(spdx, label, license_class)


@pytest.mark.parametrize(("spdx_id", "expected"), [
    ("CC-BY-NC-SA-3.0-IGO", "open-nc"),   # rule -NC
    ("CC-BY-ND-4.0", "restricted"),       # rule -ND, checked before -NC
    ("ODbL-1.0", "open"),
    ("OGL-UK-3.0", "open"),               # not named by a rule: ScanCode category Permissive
    ("EPL-2.0", "open"),
    ("not-an-spdx-id", "unknown"),
])
def test_spdx_class(spdx_id, expected):
    assert spdx_class(spdx_id) == expected


def _demo_licences() -> set[str]:
    """Every licence string in the demo payloads, in the fields the mappers read."""
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("license", "licenseName", "license_name") and isinstance(value, str):
                    found.add(value)
                elif key == "license" and isinstance(value, dict):
                    found.update(str(value[k]) for k in ("id", "key", "spdx_id") if value.get(k))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for path in sorted(DEMO.glob("*.json")):
        payload = json.loads(path.read_text(encoding="utf-8"))
        walk(payload)
        found.update(t.split(":", 1)[1] for t in _strings(payload) if t.startswith("license:"))
    return found


def _strings(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def test_every_demo_licence_is_recognised():
    values = _demo_licences()
    assert len(values) > 20
    unrecognised = sorted(v for v in values if v.lower() not in ("other", "unknown")
                          and normalize_license(v) == License(None, clean(v), "unknown"))
    assert unrecognised == [], "add these to rubrics/licences.yaml (aliases or patterns)"


# --- the rubric file ---------------------------------------------------------------------------


def _rubric(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "licences.yaml"
    path.write_text(RUBRIC.read_text(encoding="utf-8") + text, encoding="utf-8")
    return path


# The index an entry appended to the shipped `patterns` list gets.
NEXT_PATTERN = f"patterns[{len(yaml.safe_load(RUBRIC.read_text(encoding='utf-8'))['patterns'])}]"


@pytest.mark.parametrize(("extra", "entry"), [
    ("\nbogus: 1\n", "bogus"),
    ("  - regex: '(unclosed'\n    target: MIT\n", NEXT_PATTERN),
    ("  - regex: 'foo'\n    target: NOT-A-LICENCE\n", NEXT_PATTERN),
    ("  - regex: 'foo'\n    target: 'CC-\\2'\n", NEXT_PATTERN),
])
def test_invalid_rubric_names_file_and_entry(tmp_path, extra, entry):
    path = _rubric(tmp_path, extra)
    with pytest.raises(ValueError) as err:
        normalize_license("MIT", path=path)
    assert str(path) in str(err.value)
    assert entry in str(err.value)


@pytest.mark.parametrize(("text", "entry"), [
    ("version: 1\nnamed:\n  unknown: {class: unknown}\naliases:\n  foo: NOPE\n",
     "aliases['foo']"),
    ("version: 1\nnamed:\n  unknown: {class: maybe}\n", "named['unknown']"),
    ("version: 1\nnamed:\n  x: {class: open}\n", "named"),
    ("version: 1\nspdx_classes:\n  - {match: '[', class: open}\n"
     "named:\n  unknown: {class: unknown}\n", "spdx_classes[0]"),
    ("- just\n- a list\n", "expected a mapping"),
    ("named: [unclosed\n", "not valid YAML"),
])
def test_invalid_small_rubrics(tmp_path, text, entry):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="bad.yaml") as err:
        normalize_license("MIT", path=path)
    assert entry in str(err.value)


def test_missing_rubric_says_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="file not found; restore"):
        normalize_license("MIT", path=tmp_path / "absent.yaml")


def test_a_minimal_rubric_still_uses_the_spdx_index(tmp_path):
    path = tmp_path / "mini.yaml"
    path.write_text("version: 1\nnamed:\n  unknown: {class: unknown}\n"
                    "scancode_categories: {Permissive: open, Source-available: restricted}\n",
                    encoding="utf-8")
    assert normalize_license("cc-by-4.0", path=path) == License("CC-BY-4.0", "CC-BY-4.0", "open")
    assert normalize_license("CC-BY-NC-4.0", path=path).license_class == "restricted"
    assert normalize_license("GPL-3.0", path=path).license_class == "unknown"  # no rule for it
    assert normalize_license("openrail", path=path) == License(None, "openrail", "unknown")


# --- properties --------------------------------------------------------------------------------

PROPS = settings(max_examples=300, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow,
                                        HealthCheck.function_scoped_fixture])
REAL = st.sampled_from([raw for raw, *_ in CASES if raw])
LICENCE_LIKE = st.builds(
    lambda a, sep, b: f"{a}{sep}{b}",
    st.sampled_from(["cc", "CC BY", "mit", "apache", "gpl", "Attribution", "open", "(", "AND"]),
    st.sampled_from([" ", "-", "_", ": ", " OR ", " and ", "("]),
    st.sampled_from(["4.0", "NC", "SA 3.0", "2.0", "rail", ")", "with", "", "©"]),
)
ANY = st.one_of(st.text(), st.text(alphabet="abcCBY-_ .:()0123456789&/©"), REAL, LICENCE_LIKE)


@PROPS
@given(raw=st.one_of(st.none(), ANY))
def test_never_raises_and_class_is_allowed(raw):
    result = normalize_license(raw)
    assert result.license_class in LICENSE_CLASSES
    assert result.label and result.label == result.label.strip()


@PROPS
@given(raw=ANY)
def test_idempotent_on_spdx_and_label(raw):
    result = normalize_license(raw)
    if result.spdx is not None:
        assert normalize_license(result.spdx) == result
    assert normalize_license(result.label) == result


@PROPS
@given(raw=REAL, case=st.sampled_from([str.upper, str.lower, str.title]),
       pad=st.sampled_from(["", " ", "\t", "  \n"]))
def test_case_and_spacing_do_not_change_the_class(raw, case, pad):
    assert (normalize_license(pad + case(raw) + pad).license_class
            == normalize_license(raw).license_class)
