"""Which part of a page is its evidence, on markup of many shapes, and what two fetches
seconds apart teach about noise."""

from __future__ import annotations

from crawler.verdicts.fingerprint import Noise, meaning

PROSE = "El comité aprobó el informe de avance del compromiso con observaciones de la sociedad civil."


def parts(html: str) -> tuple[str, str]:
    got = meaning(html.encode("utf-8"), "text/html; charset=utf-8", None)
    return got.text, got.boilerplate


def test_role_main_on_a_div_is_the_content() -> None:
    text, rest = parts(f"<body><div>Banner 12</div><div role='main'><p>{PROSE}</p></div><div>Promo 9</div></body>")
    assert text == PROSE and rest == "Banner 12\nPromo 9"


def test_a_single_article_is_the_content_but_a_list_of_articles_is_not() -> None:
    text, rest = parts(f"<body><p>Hoy: 3 avisos</p><article><p>{PROSE}</p></article></body>")
    assert (text, rest) == (PROSE, "Hoy: 3 avisos")
    text, rest = parts(f"<body><article><p>{PROSE}</p></article><article><p>{PROSE} Otro.</p></article></body>")
    assert rest == "" and text.count("comité") == 2


def test_an_empty_main_does_not_hide_the_page() -> None:
    text, rest = parts(f"<body><main></main><div><p>{PROSE}</p></div></body>")
    assert PROSE in text


def test_a_heading_outside_a_dominant_block_stays_evidence() -> None:
    page = f"<body><h1>Programa vigente</h1><div class='c'><p>{PROSE}</p><p>{PROSE}</p></div><div>Visitas: 48213</div></body>"
    text, rest = parts(page)
    assert text.startswith("Programa vigente\n") and rest == "Visitas: 48213"
    edited, _ = parts(page.replace("vigente", "cancelado"))
    assert edited != text


def test_links_weigh_nothing_so_a_sidebar_of_links_never_dominates() -> None:
    links = "".join(f"<a href='/{i}'>{PROSE}</a>" for i in range(5))
    text, rest = parts(f"<body><div class='side'>{links}</div><div class='c'><p>{PROSE}</p></div></body>")
    assert text == PROSE and rest.count("comité") == 5


def test_a_block_holding_less_than_the_dominant_share_is_not_the_content() -> None:
    text, rest = parts(f"<body><div><p>{PROSE}</p></div><div><p>{PROSE[:60]}</p></div></body>")
    assert rest == "" and text.count("comité") == 2


def test_noise_learns_words_that_differ_and_lines_that_move() -> None:
    first = "Noticias\nAnuncio 566\nUno\nDos\nTres\nTexto fijo del informe"
    second = "Noticias\nAnuncio 799\nTres\nUno\nDos\nTexto fijo del informe"
    noise = Noise().learn(first, second)
    assert noise.is_noise("Anuncio 123") and noise.is_noise("anuncio   4")
    assert noise.is_noise("Tres")
    assert not noise.is_noise("Texto fijo del informe") and not noise.is_noise("Noticias")
    assert not noise.is_noise("Anuncio 566 retirado"), "a template matches word for word"


def test_a_line_that_changed_in_most_words_is_kept_whole_not_as_a_wildcard() -> None:
    noise = Noise().learn("Hoy: inauguran hospital regional", "Hoy: entregan becas escolares")
    assert noise.is_noise("Hoy: entregan becas escolares")
    assert not noise.is_noise("Hoy: cancelan programa social"), "three words of four differed: no wildcard"


def test_an_edit_of_a_number_next_to_noise_in_another_line_is_not_noise() -> None:
    noise = Noise().learn("Visitas: 48213\nSe instalaron 100 medidores", "Visitas: 48290\nSe instalaron 100 medidores")
    assert noise.drop("Visitas: 1\nSe instalaron 40 medidores") == "Se instalaron 40 medidores"
