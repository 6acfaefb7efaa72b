"""Access dates read from the notes that cite URLs: only a date tied to an access phrase."""

from __future__ import annotations

from datetime import date

import pytest

from crawler.citations.accessdates import access_dates, dates_for

TODAY = date(2024, 6, 1)


def found(note: str) -> list[str]:
    return [item.day.isoformat() for item in access_dates(note, TODAY)]


@pytest.mark.parametrize(
    ("note", "day"),
    [
        # Spanish
        ("SFP, Plan de Acción 2016-2018, disponible en: http://gob.mx/plan (consultado el 12 de marzo de 2017).", "2017-03-12"),
        ("INAI, Informe anual. Fecha de consulta: 2017-03-12. https://inai.org.mx/informe", "2017-03-12"),
        ("Disponible en https://www.gob.mx/sfp [Consulta: 12/03/2017]", "2017-03-12"),
        ("Recuperado el 5 de abril del 2018 de https://www.inegi.org.mx/", "2018-04-05"),
        ("https://transparencia.gob.mx, visitado el 30 de sept. de 2016", "2016-09-30"),
        ("Último acceso: 3 de mayo de 2019. http://example.org/x", "2019-05-03"),
        ("Consultado el día lunes 12 de marzo de 2017 en http://x.org", "2017-03-12"),
        ("CONSULTADO EL 12 DE MARZO DE 2017", "2017-03-12"),
        ("consultada el 7 dic. 2015, http://x.org", "2015-12-07"),
        ("Visitado el 12.03.2017", "2017-03-12"),
        ("[consultado: 12/03/17]", "2017-03-12"),
        ("Fecha de acceso: 1º de julio de 2020", "2020-07-01"),
        ("consultado el 12-mar-2017", "2017-03-12"),
        ("accedido el 2 de enero de 2021", "2021-01-02"),
        # English
        ("Department of State, Report, https://state.gov/r (accessed March 12, 2017).", "2017-03-12"),
        ("accessed 12 March 2017", "2017-03-12"),
        ("Retrieved 2017-03-12 from https://example.org", "2017-03-12"),
        ("Retrieved March 12, 2017, from https://example.org/", "2017-03-12"),
        ("Last accessed 3/12/2017.", "2017-03-12"),
        ("last accessed 25/03/2017", "2017-03-25"),
        ("Viewed on 1 Sept. 2020", "2020-09-01"),
        ("Accessed on Monday, March 12th, 2017.", "2017-03-12"),
        ("Last visited Dec. 1, 2019", "2019-12-01"),
        ("Date accessed: 2019-11-30", "2019-11-30"),
        ("consulted on 4 June 2018", "2018-06-04"),
        # Portuguese (ABNT)
        ("BRASIL. Lei 12.527. Disponível em: <http://planalto.gov.br/l12527>. Acesso em: 12 mar. 2017.", "2017-03-12"),
        ("Acesso em 5 set. 2016", "2016-09-05"),
        ("ACESSO EM: 20 OUT. 2018.", "2018-10-20"),
        ("Acessado em 2 de fevereiro de 2019", "2019-02-02"),
        ("Consultado em 10/04/2015", "2015-04-10"),
        # French
        ("Rapport, https://example.fr/r (consulté le 12 mars 2017)", "2017-03-12"),
        ("Page consultée le 1er févr. 2020", "2020-02-01"),
        ("Date de consultation : 03/04/2018", "2018-04-03"),
        ("dernière consultation le 15 août 2019", "2019-08-15"),
    ],
)
def test_an_access_date_in_a_note_is_found(note: str, day: str) -> None:
    assert found(note) == [day]


@pytest.mark.parametrize(
    "note",
    [
        "Informe 2016, https://example.org/informe",
        "Publicado el 3 de mayo de 2016. Disponible en: https://example.org/",
        "Consulta pública del 12 de marzo de 2016, https://example.org/consulta",
        "Resultados de la consulta 12 de marzo de 2016",
        "Ley de acceso a la información pública del 4 de mayo de 2015",
        "Recuperado de https://example.org/ el 12 de marzo",
        "Retrieved from https://example.org/2017/03/12/story",
        "consultado el 31 de febrero de 2017",  # no such day
        "accessed 13/13/2017",
        "accessed March 2017",  # a month is not a day
        "consultado el 12 de marzo de 1985",  # before the web
        "accessed 12 March 2030",  # after today
        "Published March 12, 2017; updated 2018-01-04.",
        "El 12 de marzo de 2017 se consultó a la población.",
        "SFP, Oficio 12/03/2017, https://example.org/oficio",
    ],
)
def test_no_access_phrase_no_date(note: str) -> None:
    assert found(note) == []


def test_numbers_after_an_english_phrase_are_month_first_and_day_first_otherwise() -> None:
    assert found("accessed 04/05/2018") == ["2018-04-05"]
    assert found("consultado el 04/05/2018") == ["2018-05-04"]
    assert found("acesso em 04/05/2018") == ["2018-05-04"]
    assert found("consulté le 04/05/2018") == ["2018-05-04"]


def spans(note: str, *urls: str) -> list[tuple[int, int]]:
    return [(note.index(url), note.index(url) + len(url)) for url in urls]


def days(note: str, *urls: str) -> list[str | None]:
    return [d.isoformat() if d else None for d in dates_for(note, spans(note, *urls), TODAY)]


def test_one_date_dates_every_url_of_its_note() -> None:
    note = "Véanse https://a.example/x y https://b.example/y, consultados el 12 de marzo de 2017."
    assert days(note, "https://a.example/x", "https://b.example/y") == ["2017-03-12", "2017-03-12"]


def test_each_url_takes_the_date_after_it_where_dates_follow_urls() -> None:
    note = (
        "https://a.example/x (consultado el 1 de marzo de 2017); https://b.example/y (consultado el 5 de abril de 2018);"
        " https://c.example/z."
    )
    assert days(note, "https://a.example/x", "https://b.example/y", "https://c.example/z") == [
        "2017-03-01", "2018-04-05", "2018-04-05",
    ]


def test_each_url_takes_the_date_before_it_where_dates_precede_urls() -> None:
    note = "Retrieved March 1, 2017, from https://a.example/x; retrieved April 5, 2018, from https://b.example/y"
    assert days(note, "https://a.example/x", "https://b.example/y") == ["2017-03-01", "2018-04-05"]


def test_a_note_without_an_access_date_dates_nothing() -> None:
    note = "Informe 2016, publicado el 3 de mayo de 2016: https://a.example/x"
    assert days(note, "https://a.example/x") == [None]
