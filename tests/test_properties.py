"""Properties (hypothesis) of the parsers not covered elsewhere: times, HTML cleaning, the
GitHub README parsing and URL normalisation's removals.

Identifiers, licences, sizes and access have their own property tests (test_identifiers.py,
test_licences.py, test_sizes.py, test_access.py). Two violations these tests found (an
OverflowError escaping parse_time, clean_text not idempotent on escaped markup) are fixed and
kept as regression examples.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, date, datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sonoharvest.identifiers import bare_doi, is_url, normalize_link, normalize_url
from sonoharvest.records import RawItem, clean_text, parse_time
from sonoharvest.sources import github

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
README = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- parse_time ------------------------------------------------------------------------------

ISO_LIKE = st.from_regex(r"[0-9]{2,4}-[0-9]{1,2}-[0-9]{1,2}([T ][0-9:.]{0,15})?"
                         r"(Z|[+-][0-9]{2}:?[0-9]{2})?", fullmatch=True)
ANY_VALUE = st.one_of(st.none(), st.text(), ISO_LIKE, st.booleans(), st.binary(max_size=20),
                      st.lists(st.integers(), max_size=2), st.dates(), st.datetimes(),
                      st.integers(-10**11, 10**11), st.floats(-1e11, 1e11))
# Within what datetime can hold on every platform.
EPOCHS = st.one_of(st.integers(-(10**10), 2 * 10**10),
                   st.floats(-1e10, 2e10, allow_nan=False))
ZONES = st.builds(lambda minutes: timezone(timedelta(minutes=minutes)),
                  st.integers(-23 * 60 - 59, 23 * 60 + 59))


@FAST
@given(value=ANY_VALUE)
def test_parse_time_raises_only_value_or_type_errors_and_is_aware(value):
    try:
        parsed = parse_time(value)
    except (ValueError, TypeError):
        return
    assert parsed is None or (isinstance(parsed, datetime) and parsed.tzinfo is not None)
    assert parsed is not None or value in (None, "")


@FAST
@given(day=st.dates())
def test_parse_time_round_trips_iso_dates(day):
    parsed = parse_time(day.isoformat())
    assert parsed == datetime(day.year, day.month, day.day, tzinfo=UTC)


@FAST
@given(moment=st.datetimes(timezones=st.one_of(st.none(), st.just(UTC), ZONES)),
       zulu=st.booleans())
def test_parse_time_round_trips_iso_datetimes(moment, zulu):
    text = moment.isoformat()
    if zulu and moment.tzinfo is UTC:
        text = text.replace("+00:00", "Z")
    parsed = parse_time(text)
    assert parsed.tzinfo is not None
    assert parsed == (moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    assert parse_time(parsed.isoformat()) == parsed


@FAST
@given(seconds=EPOCHS)
def test_parse_time_reads_epoch_seconds_as_utc(seconds):
    parsed = parse_time(seconds)
    assert parsed.tzinfo is not None and parsed.utcoffset() == timedelta(0)
    assert abs(parsed.timestamp() - seconds) < 1e-3


# Out-of-range epochs once escaped as OverflowError and failed a whole source.
@pytest.mark.parametrize("value", [1e20, -1e20, float("inf"), 10**20])
def test_parse_time_out_of_range_epochs_raise_value_error(value):
    with pytest.raises((ValueError, TypeError)):
        parse_time(value)


# --- clean_text ------------------------------------------------------------------------------

TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>")
TAG_NAMES = st.sampled_from(["p", "b", "i", "a", "br", "div", "span", "em", "strong", "ul",
                             "li", "h1", "script", "style", "table", "td", "img", "sub"])
WORDS = st.text(st.characters(blacklist_characters="<>&", blacklist_categories=["Cs"]),
                max_size=20)
ATTRS = st.sampled_from(["", ' class="x"', " href='https://example.org/a?b=1&amp;c=2'",
                         ' style="color:red"', " data-x=1", ' title="a > b"'])


@st.composite
def html(draw: st.DrawFn, depth: int = 0) -> str:
    """HTML fragments as APIs send them: nested tags, attributes, entities, comments, text."""
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["text", "tag", "void", "entity", "comment"]))
        if kind == "text":
            parts.append(draw(WORDS))
        elif kind == "tag" and depth < 3:
            name = draw(TAG_NAMES)
            parts.append(f"<{name}{draw(ATTRS)}>{draw(html(depth + 1))}</{name}>")
        elif kind == "void":
            parts.append(f"<{draw(st.sampled_from(['br', 'hr', 'img src=x']))}/>")
        elif kind == "entity":
            parts.append(draw(st.sampled_from(["&amp;", "&nbsp;", "&eacute;", "&#233;",
                                               "&#x3b1;", "&quot;", "&hellip;"])))
        else:
            parts.append(f"<!-- {draw(WORDS)} -->")
    return "".join(parts)


@FAST
@given(text=st.one_of(html(), st.text()))
def test_clean_text_never_raises_and_never_grows(text):
    cleaned = clean_text(text)
    assert isinstance(cleaned, str)
    assert len(cleaned) <= len(text)
    assert cleaned == cleaned.strip() and "  " not in cleaned and "\n" not in cleaned


@FAST
@given(text=html())
def test_clean_text_leaves_no_tags_and_is_idempotent(text):
    cleaned = clean_text(text)
    assert not TAG.search(cleaned), cleaned
    assert clean_text(cleaned) == cleaned


@FAST
@given(words=WORDS, name=TAG_NAMES)
def test_clean_text_keeps_the_words_and_drops_scripts(words, name):
    inner = clean_text(words)
    cleaned = clean_text(f"<{name}>{words}</{name}>")
    if name in ("script", "style"):
        assert cleaned == ""
    else:
        assert cleaned == inner


# Escaped markup once came out as live tags and a second pass changed it again.
@pytest.mark.parametrize("text", ["&lt;b&gt;bold&lt;/b&gt;", "&amp;lt;i&amp;gt;x"])
def test_clean_text_of_escaped_markup_is_stable(text):
    cleaned = clean_text(text)
    assert clean_text(cleaned) == cleaned and not TAG.search(cleaned)


# --- the GitHub README -----------------------------------------------------------------------

OWNER = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,10}", fullmatch=True)
REPO = st.from_regex(r"[A-Za-z0-9_.-]{1,12}", fullmatch=True).filter(
    lambda r: r not in (".", "..") and not r.endswith(".git"))
DOI = st.builds(lambda prefix, suffix: f"10.{prefix}/{suffix}", st.integers(1000, 99999),
                st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,15}[A-Za-z0-9]", fullmatch=True))
ARXIV = st.builds(lambda y, m, n: f"{y:02d}{m:02d}.{n:05d}", st.integers(15, 25),
                  st.integers(1, 12), st.integers(0, 99999))


@st.composite
def readme_piece(draw: st.DrawFn) -> str:
    owner, repo, doi, arxiv = draw(OWNER), draw(REPO), draw(DOI), draw(ARXIV)
    return draw(st.sampled_from([
        f"[![DOI](https://zenodo.org/badge/DOI/10.5281/zenodo.{draw(st.integers(1, 10**8))}"
        f".svg)](https://doi.org/10.5281/zenodo.{draw(st.integers(1, 10**8))})",
        f"Paper: https://arxiv.org/abs/{arxiv}", f"arXiv:{arxiv}v2", f"doi:{doi}",
        f"https://doi.org/{doi}", f"See https://github.com/{owner}/{repo}.",
        f"[weights](https://github.com/{owner}/{repo}/releases/download/v1/model.pth)",
        f"https://huggingface.co/{owner}/{repo}", f"https://drive.google.com/file/d/{repo}/view",
        f"<a href=\"https://www.kaggle.com/datasets/{owner}/{repo}\">data</a>",
        f"```bash\ngit clone https://github.com/{owner}/{repo}\n```",
        "## Pretrained weights\n", f"![img](https://example.org/{repo}.png)",
        f"https://example.org/{repo}?utm_source=x#top", draw(st.text(max_size=30)),
    ]))


READMES = st.one_of(st.text(), st.lists(readme_piece(), max_size=6).map(" \n".join))


def repository(name: str = "someone/echo-net") -> dict[str, object]:
    return {"id": 42, "full_name": name, "name": name.split("/")[1], "description": "A repo",
            "html_url": f"https://github.com/{name}", "owner": {"login": name.split("/")[0]},
            "topics": ["ultrasound"], "created_at": "2021-01-01T00:00:00Z"}


@README
@given(text=READMES)
def test_readme_links_never_raise_and_come_out_normalised(text):
    own = "github:someone/echo-net"
    related, weights, doi = github._links(text, own)
    assert own not in related and len(related) == len(set(related))
    for found in related:
        if is_url(found):
            assert normalize_url(found) == found            # weight links: normalised URLs
        else:
            assert normalize_link(found) == found           # identifiers: canonical
    assert weights == any(is_url(f) for f in related)
    assert doi is None or (bare_doi(doi) == doi and doi.startswith("10.5281/zenodo."))


@README
@given(text=READMES)
def test_readme_excerpt_never_raises_and_is_bounded_prose(text):
    excerpt = github._excerpt(text)
    assert len(excerpt) <= github.README_CHARS
    assert "```" not in excerpt and "\n" not in excerpt and excerpt == excerpt.strip()


@FEW
@given(text=READMES, owner=OWNER, repo=REPO)
def test_repository_with_any_readme_maps_or_is_quarantined(text, owner, repo):
    readme = {"encoding": "base64", "content": base64.b64encode(text.encode()).decode()}
    payload = {"repo": repository(f"{owner}/{repo}"), "readme": readme}
    try:
        record = github.to_record(RawItem("repository", payload))
    except ValueError:          # quarantined with its reason (pydantic errors included)
        return
    assert record.identifiers[0] == f"github:{owner.lower()}/{repo.lower()}"
    assert all(normalize_link(i) == i for i in record.identifiers)
    assert all(normalize_link(r) == r or normalize_url(r) == r for r in record.related)
    assert record.identifiers[0] not in record.related


# --- URL normalisation: what it removes ------------------------------------------------------

HOSTS = st.from_regex(r"[a-z][a-z0-9-]{0,10}\.(org|com|io)", fullmatch=True)
PATHS = st.from_regex(r"(/[A-Za-z0-9._~%-]{1,8}){0,3}/?", fullmatch=True)
USERINFO = st.sampled_from(["", "user@", "user:secret@", "a%40b:p%3Ass@"])
TRACKERS = st.lists(st.sampled_from(["utm_source=x", "utm_medium=y", "fbclid=1", "gclid=2"]),
                    max_size=2)
KEPT = st.lists(st.from_regex(r"[a-z]{1,5}=[a-z0-9]{0,5}", fullmatch=True), max_size=2)


@FAST
@given(scheme=st.sampled_from(["http", "https", "HTTPS"]), userinfo=USERINFO, host=HOSTS,
       port=st.sampled_from(["", ":80", ":443", ":8080"]), path=PATHS, kept=KEPT,
       tracking=TRACKERS, fragment=st.sampled_from(["", "#top", "#L10-L20"]))
def test_normalize_url_drops_credentials_fragments_and_tracking_only(
        scheme, userinfo, host, port, path, kept, tracking, fragment):
    query = "&".join([*kept, *tracking])
    url = f"{scheme}://{userinfo}{host.upper()}{port}{path}{'?' + query if query else ''}" \
          f"{fragment}"
    out = normalize_url(url)
    assert out is not None
    parts = urlsplit(out)
    assert parts.username is None and parts.password is None and "secret" not in out
    assert parts.fragment == "" and "#" not in out
    assert parts.hostname == host and parts.scheme == scheme.lower()
    assert not any(t in out for t in ("utm_", "fbclid", "gclid"))
    assert parts.query == "&".join(kept) and parts.path == path.rstrip("/")
    default = {"http": ":80", "https": ":443"}[scheme.lower()]
    assert (parts.port is None) == (port in ("", default))
    assert normalize_url(out) == out


@FAST
@given(day=st.dates(min_value=date(1900, 1, 1)))
def test_dates_survive_a_record_round_trip(day):
    """What a source maps (parse_time) is what the warehouse stores and reads back."""
    from sonoharvest.records import Record

    record = Record(source="zenodo", source_id="1", title="t",
                    created_at=parse_time(day.isoformat()))
    again = Record.model_validate_json(record.model_dump_json())
    assert again.created_at == record.created_at and again.created_at.tzinfo is not None
