"""`evidence import` on real documents: dry runs, JSON, errors, and what lands in the database."""

from __future__ import annotations

import json
import sqlite3

from tests.conftest import Workspace
from tests.mockserver import MockServer
from tests.reports import BODY_FONT, PdfPage, Piece, draw_pdf, seed_docx, seed_pdf, superscript
from tests.test_citations import SEED_PAIRS


def error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_dry_run_prints_each_citation_and_writes_nothing(workspace: Workspace):
    pdf = seed_pdf(workspace.path / "informe.pdf")
    result = workspace.run("import", "--dry-run", str(pdf))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "  [1]      p.1    https://www.opengovpartnership.org/documents/mexico-first-national-action-plan-2012-13"
    assert lines[-2] == "  [16]     p.2    http://aga.funcionpublica.gob.mx/aga/Home/Documento?doc=Guion%20comentado.pdf"
    assert lines[-1] == f"{pdf}: 18 citations in 16 footnotes, 18 distinct URLs, 0 skipped (dry run: nothing recorded)"
    assert [line.split()[-1] for line in lines[:-1]] == [url for _, url in SEED_PAIRS]
    assert not workspace.db.exists()
    assert not workspace.archive.exists()


def test_json_lists_documents_with_their_citations(workspace: Workspace):
    pdf = seed_pdf(workspace.path / "informe.pdf")
    docx = seed_docx(workspace.path / "informe.docx")
    result = workspace.run("import", "--dry-run", "--json", str(pdf), str(docx))
    assert result.returncode == 0, result.stderr
    documents = json.loads(result.stdout)
    assert [(d["source"], d["type"], d["recorded"]) for d in documents] == [(str(pdf), "pdf", False), (str(docx), "docx", False)]
    first = documents[0]["citations"][0]
    assert set(first) == {
        "footnote", "page", "url", "normalized", "visible", "context", "line", "cited_at", "cited_at_source", "quotes",
    }
    assert (first["footnote"], first["page"], first["visible"]) == ("1", 1, None)
    assert [(c["footnote"], c["url"]) for c in documents[0]["citations"]] == SEED_PAIRS
    assert all(c["page"] is None for c in documents[1]["citations"])
    assert documents[1]["problems"] == []
    assert not workspace.db.exists()


def test_import_records_pages_and_normalized_urls(workspace: Workspace):
    pdf = seed_pdf(workspace.path / "informe.pdf")
    result = workspace.run("import", str(pdf))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"{pdf}: 18 citations in 16 footnotes, 18 distinct URLs, 0 skipped"
    with sqlite3.connect(workspace.db) as connection:
        rows = connection.execute("SELECT footnote, page, url_as_written, normalized_url FROM citations ORDER BY position").fetchall()
    assert [(footnote, url) for footnote, _, url, _ in rows] == SEED_PAIRS
    assert [page for _, page, _, _ in rows] == [1] * 9 + [2] * 9
    assert all(normalized == url for _, _, url, normalized in rows)


def test_spellings_of_one_url_share_one_target(workspace: Workspace):
    first = workspace.path / "first.md"
    first.write_text("1 See HTTP://Example.ORG/informe#p3\n2 Again http://example.org:80/informe\n", encoding="utf-8")
    second = workspace.path / "second.md"
    second.write_text("1 See http://EXAMPLE.org/informe and https://example.org/informe\n", encoding="utf-8")
    result = workspace.run("import", str(first), str(second))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "  [1]      HTTP://Example.ORG/informe#p3",
        "  [2]      http://example.org:80/informe",
        f"{first}: 2 citations in 2 footnotes, 1 distinct URLs, 0 skipped",
        "  [1]      http://EXAMPLE.org/informe",
        "  [1]      https://example.org/informe",
        f"{second}: 2 citations in 1 footnotes, 2 distinct URLs, 0 skipped",
    ]
    with sqlite3.connect(workspace.db) as connection:
        targets = connection.execute("SELECT url FROM targets ORDER BY id").fetchall()
        cited = connection.execute("SELECT url_as_written, normalized_url, target_id FROM citations ORDER BY id").fetchall()
    # The first spelling is the one fetched; http and https stay two addresses.
    assert targets == [("HTTP://Example.ORG/informe#p3",), ("https://example.org/informe",)]
    assert [target for _, _, target in cited] == [1, 1, 1, 2]
    assert [normalized for _, normalized, _ in cited][:3] == ["http://example.org/informe"] * 3


def test_encrypted_and_textless_pdfs_exit_2_naming_the_file(workspace: Workspace):
    locked = seed_pdf(workspace.path / "locked.pdf", encrypt="secret")
    result = workspace.run("import", str(locked))
    assert result.returncode == 2
    assert error_line(result) == (
        f"Error: {locked} is encrypted; decrypt it first, e.g. qpdf --decrypt --password=PASSWORD {locked} decrypted.pdf"
    )
    blank = draw_pdf(workspace.path / "blank.pdf", [PdfPage()])
    result = workspace.run("import", "--dry-run", str(blank))
    assert result.returncode == 2
    assert error_line(result) == f"Error: {blank} has no text layer (scanned?); run OCR first, e.g. ocrmypdf {blank} ocr.pdf"
    assert not workspace.db.exists()


def test_one_unreadable_document_imports_none(workspace: Workspace):
    good = seed_pdf(workspace.path / "informe.pdf")
    (workspace.path / "empty.html").write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
    result = workspace.run("import", str(good), "empty.html")
    assert result.returncode == 2
    assert error_line(result) == "Error: empty.html is an HTML page without text; give the saved page that holds the report"
    assert not workspace.db.exists()


def test_crawl_fetches_each_address_of_a_pdf_once(workspace: Workspace, site: MockServer):
    plan = site.url("/plan")
    shouted = plan.replace("http://", "HTTP://") + "#page=2"
    pdf = draw_pdf(workspace.path / "informe.pdf", [PdfPage(
        body=[[Piece("The plan", BODY_FONT), superscript("1"), Piece(" and its annex", BODY_FONT), superscript("2"),
               Piece(".", BODY_FONT)]],
        notes=[[Piece(f"1 Available at: {plan}")], [Piece("2 Available at: "), Piece(shouted, link=shouted)]],
    )])
    result = workspace.crawl(str(pdf))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("run 1 finished: 1 URLs checked (1 ok)")
    rows = json.loads(workspace.run("status", "--json").stdout)
    assert [(row["footnote"], row["url"], row["state"]) for row in rows] == [("1", plan, "ok"), ("2", plan, "ok")]


def test_import_reads_a_url_cut_inside_its_scheme_or_host_whole(workspace: Workspace):
    # As Word prints a justified footnote: "<htt" ends one line, "ps://..." starts the next.
    pdf = draw_pdf(workspace.path / "oficio.pdf", [PdfPage(
        body=[[Piece("La Fiscalía publicó el informe", BODY_FONT), superscript("1"), Piece(" y el plan", BODY_FONT),
               superscript("2"), Piece(".", BODY_FONT)]],
        notes=[[Piece("1 Disponible en: <htt")], [Piece("ps://aplicaciones.pgr.gob.mx/informes/2019/anual.pdf>")],
               [Piece("2 Véase https://www.")], [Piece("gob.mx/sfp/documentos/plan-de-accion")]],
    )])
    result = workspace.run("import", "--json", str(pdf))
    assert result.returncode == 0, result.stderr
    (document,) = json.loads(result.stdout)
    assert [(c["footnote"], c["url"]) for c in document["citations"]] == [
        ("1", "https://aplicaciones.pgr.gob.mx/informes/2019/anual.pdf"),
        ("2", "https://www.gob.mx/sfp/documentos/plan-de-accion"),
    ]
    assert document["problems"] == []
    with sqlite3.connect(workspace.db) as connection:
        assert [url for (url,) in connection.execute("SELECT url_as_written FROM citations ORDER BY position")] == [
            c["url"] for c in document["citations"]]
