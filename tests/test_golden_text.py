"""Golden tests of the evidence text: fixed pages, fixed fingerprints.

A fingerprint that changes for the same bytes turns every unchanged page into
``changed`` on the next run. If one of these fails, the extraction rules changed: bump
``TEXT_VERSION`` (and the extractor names in ``crawler/verdicts/fingerprint.py``), so
that captures made under the old rules are re-extracted before they are compared, and
then update the expected values here.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from crawler.verdicts.fingerprint import TEXT_VERSION, Noise, meaning
from tests.pdfs import make_pdf

GOLDEN = Path(__file__).parent / "golden"
WHEN = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
SPANISH_MAIN = (GOLDEN / "spanish-main.html").read_text(encoding="utf-8")
ENGLISH_TABLE = (GOLDEN / "english-table.html").read_text(encoding="utf-8")
UNSTRUCTURED = (GOLDEN / "unstructured.html").read_text(encoding="utf-8")


def page(html: str, noise: Noise | None = None):
    return meaning(html.encode("utf-8"), "text/html; charset=utf-8", None, WHEN, noise=noise)


def test_the_version_is_the_one_these_values_belong_to() -> None:
    assert TEXT_VERSION == "text-v2"


def test_a_marked_main_is_the_evidence_and_the_rest_its_boilerplate() -> None:
    got = page(SPANISH_MAIN)
    assert got.text.splitlines()[0] == "Programa de medición de caudales"
    assert "Anuncio 137" in got.boilerplate and "Anuncio" not in got.text
    assert got.fingerprint == "text-v2:sha256:96abd05d34914a20a707f39e27d9a67db21ebdb0b3280e6f19faf78e45987bd2"
    assert got.boilerplate_fingerprint == "text-v2:sha256:3a6e8f4992082adac65535a875d950a3da439948ba6292f49ac8027ceac11d7d"
    assert got.basis == "html-2;noise=0"


def test_a_dominant_table_cell_is_the_evidence_when_nothing_is_marked() -> None:
    got = page(ENGLISH_TABLE)
    assert "Visitors" not in got.text and "Visitors: 48214" in got.boilerplate
    assert got.fingerprint == "text-v2:sha256:9dd9696fb3a25737a36be323237ec2bb3d170e396cbafe7226124ec9ad54f9a3"
    assert got.boilerplate_fingerprint == "text-v2:sha256:073c6746c5cf9e2f58f5836eecff0dba20ea09984b7f83e7ba95195515a50a83"


def test_a_page_without_structure_is_evidence_as_a_whole() -> None:
    got = page(UNSTRUCTURED)
    assert got.boilerplate == "" and got.boilerplate_fingerprint is None
    assert got.fingerprint == "text-v2:sha256:be68cf4618d8319bcea87738e5d5ecf5db87de9061018c1fe70edc291b23010f"


def test_learned_noise_is_left_out_and_named_in_the_basis() -> None:
    noise = Noise(["aviso del día: \x00 de \x00", "consultas hoy: \x00"])
    got = page(UNSTRUCTURED, noise)
    assert got.fingerprint == "text-v2:sha256:782320af9ade03d551e89abd15f15a00460d3b5fd3b8e73e4b65dd4d07a4eeb5"
    assert got.basis == "html-2;noise=2"
    # the same page with other noise values fingerprints the same
    other = UNSTRUCTURED.replace("pago de predial", "campaña de vacunación").replace("1013", "2044")
    assert page(other, noise).fingerprint == got.fingerprint


def test_pdf_text_and_its_basis_names_pypdf() -> None:
    from pypdf import __version__

    got = meaning(make_pdf(["Informe 2017: 100 medidores", "Consultado el 2 de diciembre de 2026"]), "application/pdf", None, WHEN)
    assert got.text == "Informe 2017: 100 medidores\nConsultado el 2 de diciembre de 2026"
    assert got.fingerprint == "text-v2:sha256:9b4400d55cb86a315f6f0b59d2d7e3799a78425a2783fbe54c7edaf8065f1ef6"
    assert got.basis == f"pdf-2/pypdf-{__version__};noise=0"
