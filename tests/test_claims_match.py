"""Finding pinned passages in page text (crawler/claims): holds, partial, lost, and the quoted
passages proposed as pins from notes."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from crawler.claims import Match, Page, find, quotes
from crawler.claims.words import words
from crawler.exceptions import ClaimError

PAGE_ES = (
    "Tercer Plan de Acción 2016-2018\n"
    "Compromiso 7: Agua potable en Puebla\n"
    "Durante 2017 la Comisión Estatal del Agua instaló 100 medidores inteligentes en colonias "
    "de la capital, con una inversión de 1.250.000 pesos.\n"
    "El 12 de marzo de 2017 se publicó el primer informe de avance, que reporta 26 compromisos.\n"
)


def at(text: str, match: Match) -> str:
    assert match.found is not None
    assert text[match.found.start:match.found.end] == match.found.text
    return match.found.text


def test_spanish_passage_holds_with_or_without_accents() -> None:
    for pin in ("instaló 100 medidores inteligentes", "INSTALO 100 MEDIDORES inteligentes", "la Comision Estatal del Agua"):
        match = find(pin, PAGE_ES)
        assert match.status == "holds", pin
        assert match.score == 1.0
        assert at(PAGE_ES, match).lower().replace("ó", "o") == pin.lower().replace("ó", "o")


def test_english_sentence_across_whitespace_and_punctuation() -> None:
    page = "The Ministry said:   “the  portal   will publish\nall contracts — every one — by June 2018.”\nOther news."
    match = find('the portal will publish all contracts, every one, by June 2018', page)
    assert match.status == "holds"
    assert at(page, match) == "the  portal   will publish\nall contracts — every one — by June 2018"


def test_pdf_hyphenation_at_line_ends_is_undone_but_real_hyphens_kept() -> None:
    page = "En el periodo 2016-2018 se instalaron 100 medi-\ndores en la co-creación del plan"
    match = find("se instalaron 100 medidores", page)
    assert match.status == "holds"
    assert at(page, match) == "se instalaron 100 medi-\ndores"
    assert find("periodo 2016-2018", page).status == "holds"
    assert find("periodo 20162018", page).status != "holds"  # a range is not one number
    # A compound broken at its own hyphen is found either way.
    assert find("la co-creación del plan", "en la co-\ncreación del plan").status == "holds"
    # A line that starts in capitals is a new word, not the rest of a hyphenated one.
    assert [w for w in words("Ciudad de México-\nGobierno").words] == ["ciudad", "de", "mexico", "gobierno"]
    assert words("medi\u00addores").words == ["medidores"]  # soft hyphen


def test_page_break_with_a_short_header_between_holds() -> None:
    page = (
        "El gobierno se comprometió a instalar 100 medidores\n"
        "Informe Sombra 2017 — página 12\n"
        "en colonias de la capital antes de diciembre.\n"
    )
    match = find("se comprometió a instalar 100 medidores en colonias de la capital", page)
    assert match.status == "holds"
    assert "página 12" in at(page, match)


def test_long_or_inline_noise_is_not_a_page_break() -> None:
    long_header = " ".join(["palabra"] * 13)
    page = f"se comprometió a instalar 100 medidores\n{long_header}\nen colonias de la capital"
    assert find("se comprometió a instalar 100 medidores en colonias de la capital", page).status == "partial"
    inline = "se comprometió a instalar 100 medidores nunca en colonias de la capital"
    assert find("se comprometió a instalar 100 medidores en colonias de la capital", inline).status == "partial"
    # A short pin never holds across a line of other text.
    assert find("100 medidores", "100\nCancelado\nmedidores").status != "holds"


def test_changed_number_is_partial_naming_both() -> None:
    page = PAGE_ES.replace("100 medidores", "40 medidores")
    match = find("instaló 100 medidores inteligentes", page)
    assert match.status == "partial"
    assert at(page, match) == "instaló 40 medidores inteligentes"
    assert [(d.pinned, d.found, d.number) for d in match.differences] == [("100", "40", True)]
    # Even a two-word pin.
    short = find("100 medidores", page)
    assert short.status == "partial" and short.score == 0.5
    assert [(d.pinned, d.found) for d in short.differences] == [("100", "40")]


def test_thousands_separators_and_decimal_marks() -> None:
    for written in ("1,250,000", "1.250.000", "1\u00a0250\u00a0000", "1\u2009250\u2009000", "1250000", "1 250 000"):
        assert find(f"una inversión de {written} pesos", PAGE_ES).status == "holds", written
    page = "La tasa fue de 1,5 por ciento y de 1.000 personas."
    assert find("de 1.5 por ciento", page).status == "holds"
    assert find("de 15 por ciento", page).status == "partial"
    assert find("de 1000 personas", page).status == "holds"
    changed = find("de 1.001 personas", page)
    assert changed.status == "partial" and changed.differences[0].pinned == "1.001"
    assert changed.differences[0].found == "1.000"
    # Groups written apart are reported as one number.
    spaced = find("una inversión de 1 300 000 pesos", PAGE_ES)
    assert spaced.status == "partial"
    assert [(d.pinned, d.found) for d in spaced.differences] == [("1 300 000", "1.250.000")]


def test_changed_date_is_partial() -> None:
    page = PAGE_ES.replace("12 de marzo de 2017", "12 de marzo de 2018")
    match = find("El 12 de marzo de 2017 se publicó el primer informe", page)
    assert match.status == "partial"
    assert [(d.pinned, d.found, d.number) for d in match.differences] == [("2017", "2018", True)]


def test_moved_passage_holds_at_its_new_place() -> None:
    first = find("reporta 26 compromisos", PAGE_ES)
    lines = PAGE_ES.splitlines()
    moved = "\n".join([lines[0], lines[3], lines[1], lines[2]])
    second = find("reporta 26 compromisos", moved)
    assert first.status == second.status == "holds"
    assert first.found is not None and second.found is not None
    assert second.found.start < first.found.start
    assert second.found.text == "reporta 26 compromisos"


def test_removed_passage_is_lost_with_the_nearest_passage() -> None:
    page = PAGE_ES.replace("El 12 de marzo de 2017 se publicó el primer informe de avance, que reporta 26 compromisos.", "")
    match = find("se publicó el primer informe de avance", page)
    assert match.status == "lost"
    assert match.found is None
    page = "Ayer se anunció el calendario de pagos y obras para 2019.\n"
    match = find("se publicó el primer informe de avance", page)
    assert match.status == "lost"
    assert match.nearest is not None and match.nearest.text.startswith("se anunció el calendario de")
    assert 0 < match.score < 0.6
    assert find("medidores inteligentes", "Nada que ver aquí.").nearest is None


def test_reworded_sentence_is_partial_with_a_score() -> None:
    page = "El programa entregó 26 compromisos y publicó el primer informe de seguimiento en marzo."
    match = find("publicó el primer informe de avance en marzo", page)
    assert match.status == "partial"
    assert 0.6 <= match.score < 1
    assert [(d.pinned, d.found) for d in match.differences] == [("avance", "seguimiento")]
    assert at(page, match) == "publicó el primer informe de seguimiento en marzo"
    dropped = find("el programa entregó 26 compromisos y publicó el primer informe", page.replace("26 compromisos y ", ""))
    assert dropped.status == "partial"


def test_typographic_quotes_dashes_ellipses_and_ligatures() -> None:
    page = "Según el documento, «la meta —ambiciosa— es l’eﬁciencia…» y ‘nada más’."
    assert find('"la meta - ambiciosa - es l\'eficiencia..." y \'nada mas\'', page).status == "holds"
    assert find("l'eficiencia", page).status == "holds"
    # Footnote marks are not words of the passage.
    assert find("instaló 100 medidores inteligentes", "instaló 100 medidores² inteligentes").status == "holds"


def test_empty_text_and_passage_longer_than_text() -> None:
    assert find("100 medidores", "") == Match("lost", 0.0)
    match = find("Durante 2017 la Comisión Estatal del Agua instaló 100 medidores inteligentes en colonias", "100 medidores")
    assert match.status == "lost"
    assert match.nearest is not None and match.nearest.text == "100 medidores"


def test_passage_without_words_is_refused() -> None:
    for passage in ("", "   ", "¡¿...!?» — “”", "²³"):
        with pytest.raises(ClaimError):
            find(passage, PAGE_ES)


def test_hostile_page_of_one_repeated_word() -> None:
    # How long it takes is bench/pins.py's to measure, against a plain search.
    text = "palabra " * 650_000  # 5 MB
    page = Page(text)
    assert page.find("palabra palabra palabra").status == "holds"
    other = page.find("otra cosa con palabra distinta")
    assert other.status == "lost"
    assert other.nearest is not None and set(other.nearest.text.split()) == {"palabra"}


def pdf_like_text() -> tuple[str, list[str]]:
    """A 2 MB PDF-like text (a small vocabulary, numbers with thousands separators) and
    twenty pins: eighteen present, one absent, one with a word altered (bench/pins.py too)."""
    rng = random.Random(21)
    vocab = ("gobierno abierto compromiso medidores instalación participación ciudadana transparencia "
             "de la el en los que por con para acción plan México información pública datos").split()
    lines: list[str] = []
    size = 0
    while size < 2_000_000:
        line = " ".join(rng.choice(vocab) if rng.random() > 0.08 else f"{rng.randint(1, 99_999):,}" for _ in range(rng.randint(6, 14)))
        lines.append(line)
        size += len(line) + 1
    pins = [" ".join(" ".join(lines[i:i + 2]).split()[2:12]) for i in (rng.randrange(len(lines) - 2) for _ in range(18))]
    pins += ["esta frase no figura en ningún lado", pins[0].replace(pins[0].split()[1], "alterada")]
    return "\n".join(lines), pins


def test_two_megabyte_pdf_text_with_twenty_pins() -> None:
    # How long it takes is bench/pins.py's to measure, against a plain search.
    text, pins = pdf_like_text()
    page = Page(text)
    found = [page.find(pin) for pin in pins]
    assert [m.status for m in found[:18]] == ["holds"] * 18
    assert found[18].status == "lost" and found[19].status == "partial"


def test_one_page_many_pins_same_answers_as_find() -> None:
    page = Page(PAGE_ES)
    for pin in ("100 medidores", "40 medidores", "26 compromisos", "nada de esto"):
        assert page.find(pin) == find(pin, PAGE_ES)


# Property tests: random pages of words, numbers and punctuation.
WORD = st.text(alphabet="abcdeñáéíóúüçABCÉ", min_size=1, max_size=8).filter(lambda w: w[0].isalpha())
NUMBER = st.one_of(
    st.integers(0, 10**7).map(str),
    st.integers(1000, 10**7).map(lambda n: f"{n:,}"),
    st.integers(1000, 10**7).map(lambda n: f"{n:,}".replace(",", ".")),
    st.tuples(st.integers(0, 999), st.integers(1, 99)).map(lambda p: f"{p[0]},{p[1]}"),
)
PIECE = st.one_of(WORD, WORD, NUMBER)
PUNCT = st.sampled_from([",", ".", "—", "«", "»", "“", "”", "(", ")", "…", "¿", "?", ";", "²"])
SEPARATOR = st.sampled_from([" ", " ", " ", "\n", "  ", " \n "])
MARK = "zqxunico"


@st.composite
def cut_page(draw: st.DrawFn) -> tuple[str, str, int, int]:
    """A page and a passage cut from it at word boundaries, holding a word found nowhere else,
    with where it starts and ends on the page."""
    pieces = draw(st.lists(st.one_of(PIECE, PIECE, PUNCT), min_size=3, max_size=60))
    first = draw(st.integers(0, len(pieces) - 1))
    last = draw(st.integers(first, min(len(pieces) - 1, first + 25)))
    pieces[first] = draw(PIECE)
    pieces[last] = draw(PIECE)
    pieces.insert(draw(st.integers(first + 1, last + 1)), MARK)
    last += 1
    separators = [draw(SEPARATOR) for _ in pieces]
    text = ""
    start = end = 0
    for index, (piece, separator) in enumerate(zip(pieces, separators, strict=True)):
        if index == first:
            start = len(text)
        text += piece
        if index == last:
            end = len(text)
        text += separator
    return text, text[start:end], start, end


@settings(max_examples=300, deadline=None)
@given(cut_page())
def test_a_passage_cut_from_the_text_holds_where_it_was_cut(case: tuple[str, str, int, int]) -> None:
    text, passage, start, end = case
    match = find(passage, text)
    assert match.status == "holds"
    assert match.found is not None and (match.found.start, match.found.end) == (start, end)


@settings(max_examples=300, deadline=None)
@given(cut_page(), st.data())
def test_changing_one_digit_never_holds(case: tuple[str, str, int, int], data: st.DataObject) -> None:
    text, passage, _, _ = case
    digits = [m.start() for m in re.finditer(r"\d", passage)]
    assume(digits)
    where = data.draw(st.sampled_from(digits))
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != passage[where]]))
    changed = passage[:where] + digit + passage[where + 1:]
    match = find(changed, text)
    assert match.status == "partial"
    # What differs is numbers only: a changed one, or one standing where the other was.
    assert match.differences and all(re.fullmatch(r"[\d.,\s]+", d.pinned + d.found) for d in match.differences)


# Quotes proposed as pins.


def test_quotes_in_spanish_notes() -> None:
    note = (
        "12. Gobierno de la República, «Tercer Plan de Acción de México 2016-2018», p. 14, donde se "
        "compromete a «instalar ‘100 medidores’ en colonias de Puebla» y a publicar \"26 compromisos\". "
        "Véase también „Informe de avance“ (fecha de consulta: 12 de marzo de 2017). Lo llamó 'histórico'."
    )
    assert quotes(note) == [
        "Tercer Plan de Acción de México 2016-2018",
        "instalar ‘100 medidores’ en colonias de Puebla",
        "100 medidores",
        "26 compromisos",
        "Informe de avance",
    ]


def test_quotes_in_english_notes() -> None:
    note = (
        "[3] The Ministry’s report states that “the portal will publish all contracts by June 2018” and "
        "calls it a ‘landmark reform’; see 'Open Government Partnership: Mexico' (OGP, 2017). "
        "The so-called “reforms” don't count, nor does a stray \" mark."
    )
    assert quotes(note) == [
        "the portal will publish all contracts by June 2018",
        "landmark reform",
        "Open Government Partnership: Mexico",
    ]


def test_quotes_in_portuguese_notes() -> None:
    note = (
        "O governo prometeu «reduzir em 30% as emissões até 2030» no documento “Plano de Ação\n"
        "Nacional”, e o relatório ‹Transparência Já› afirma que „foram cumpridos 12 compromissos“. "
        "O termo «2019» aparece só uma vez."
    )
    assert quotes(note) == [
        "reduzir em 30% as emissões até 2030",
        "Plano de Ação Nacional",
        "Transparência Já",
        "foram cumpridos 12 compromissos",
        "2019",
    ]


def test_quotes_without_quotations() -> None:
    assert quotes("") == []
    assert quotes("L’État d’urgence et l'accord de 1980's; 5' 10\" tall.") == []
    assert quotes("«»  “ ”  '' \"\"") == []
