"""The reviewer's spreadsheet: `childpact catalogs export LOCALE FILE` writes one locale's
texts as CSV, `childpact catalogs import FILE` takes the reviewed file back or refuses it with
the rows to correct, leaving the catalog as it was."""

from __future__ import annotations

import csv
import shutil

import pytest

from app.cli import main
from bot.i18n import LOCALES_DIR, catalogs


@pytest.fixture
def copy(tmp_path):
    target = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, target)
    return target


def _rows(path):
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _write(path, rows):
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _set(rows, key, text, form=""):
    row = next(r for r in rows if r["key"] == key and r["form"] == form)
    row["text"] = text


def test_a_reviewer_exports_corrects_and_imports_a_locale(copy, tmp_path, capsys):
    sheet = tmp_path / "ro.csv"
    assert main(["catalogs", "export", "ro", str(sheet), "--locales", str(copy)]) == 0
    rows = _rows(sheet)
    settings = next(r for r in rows if r["key"] == "Settings")
    assert (settings["english"], settings["text"], settings["limit"]) == (
        "Settings",
        "Setări",
        "33",
    )
    plural = [r for r in rows if r["key"] == "{n} message in our chat."]
    assert [r["form"] for r in plural] == ["0", "1", "2"]  # Romanian's three forms, one row each
    assert not any(r["context"] == "command" for r in rows)  # typed words are not for review

    _set(rows, "Settings", "Setările")
    _set(rows, "{n} message in our chat.", "{n} de mesaje din chatul nostru.", form="2")
    _write(sheet, rows)
    assert main(["catalogs", "import", str(sheet), "--locales", str(copy)]) == 0
    catalog = catalogs.load(catalogs.MEMBERS, "ro", copy)
    assert catalog.get("Settings").string == "Setările"
    assert catalog.get("{n} message in our chat.").string[2] == "{n} de mesaje din chatul nostru."
    assert not catalogs.check(catalogs.MEMBERS, directory=copy)


def test_an_import_with_mistakes_is_refused_row_by_row_and_changes_nothing(copy, tmp_path, capsys):
    sheet = tmp_path / "ro.csv"
    main(["catalogs", "export", "ro", str(sheet), "--locales", str(copy)])
    before = catalogs.po_path(catalogs.MEMBERS, "ro", copy).read_bytes()
    rows = _rows(sheet)
    _set(rows, "Settings", "Setări")  # unchanged rows are fine
    _set(rows, "Currently: {zone}", "Acum: {fus}")
    _set(rows, "Change country", "Schimbaţi ţara")
    _set(rows, "Back", "Înapoi la meniul principal al conversației cu noi")
    _set(rows, "Menu", "")
    _write(sheet, rows)
    assert main(["catalogs", "import", str(sheet), "--locales", str(copy)]) == 1
    err = capsys.readouterr().err
    line = {r["key"]: n for n, r in enumerate(rows, start=2)}
    assert f"row {line['Currently: {zone}']}: placeholders or markup differ" in err
    assert f"row {line['Change country']}: Romanian cedilla" in err
    assert f"row {line['Back']}: longer than 33 characters" in err
    assert f"row {line['Menu']}: empty text" in err
    assert "nothing imported: 4 rows to correct" in err
    assert catalogs.po_path(catalogs.MEMBERS, "ro", copy).read_bytes() == before


def test_an_import_is_held_to_the_buttons_register_and_the_coalitions_words(copy, tmp_path, capsys):
    sheet = tmp_path / "tr.csv"
    main(["catalogs", "export", "tr", str(sheet), "--locales", str(copy)])
    rows = _rows(sheet)
    events = next(r for r in rows if r["key"] == "Events" and r["context"] == "topic")
    assert events["limit"] == "31"  # a news topic's button starts with its mark
    _set(rows, "Send", "Gönderin")
    _set(rows, "Surveys", "Sorular")
    _write(sheet, rows)
    assert main(["catalogs", "import", str(sheet), "--locales", str(copy)]) == 1
    err = capsys.readouterr().err
    line = {(r["key"], r["context"]): n for n, r in enumerate(rows, start=2)}
    assert f"row {line['Send', '']}: button in the «siz» imperative" in err
    assert f"row {line['Surveys', '']}: glossary: 'survey' is said 'anket'" in err


def test_serbian_latin_follows_an_imported_serbian_cyrillic(copy, tmp_path):
    sheet = tmp_path / "sr.csv"
    main(["catalogs", "export", "sr", str(sheet), "--locales", str(copy)])
    rows = _rows(sheet)
    _set(rows, "Thank you!", "Хвала Вам!")
    _write(sheet, rows)
    assert main(["catalogs", "import", str(sheet), "--locales", str(copy)]) == 0
    assert catalogs.load(catalogs.MEMBERS, "sr_Latn", copy).get("Thank you!").string == "Hvala Vam!"


def test_a_file_for_no_known_locale_or_with_lost_columns_is_refused(copy, tmp_path, capsys):
    assert main(["catalogs", "export", "xx", str(tmp_path / "xx.csv"), "--locales", str(copy)]) == 2
    sheet = tmp_path / "bad.csv"
    sheet.write_text("key,text\nSettings,Setări\n", encoding="utf-8")
    assert main(["catalogs", "import", str(sheet), "--locales", str(copy)]) == 1
    assert "columns missing: context, english, form, limit, locale" in capsys.readouterr().err


def test_serbian_latin_is_rewritten_from_serbian_cyrillic_on_request(copy, capsys):
    from bot.i18n import style

    knowledge = copy / "sr" / "knowledge.yaml"
    text = knowledge.read_text(encoding="utf-8")
    knowledge.write_text(
        text.replace("answer: Поздрав! Питајте", "answer: Добар дан! Питајте"), "utf-8"
    )
    po = catalogs.po_path(catalogs.MEMBERS, "sr", copy)
    po.write_text(po.read_text("utf-8").replace('msgstr "Хвала!"', 'msgstr "Хвала Вам!"'), "utf-8")
    assert {f.where for f in style.check_serbian_latin(copy)} == {
        "Thank you!",
        "smalltalk.greeting.answer",
    }
    assert main(["catalogs", "serbian-latin", "--locales", str(copy)]) == 0
    assert "2 texts changed" in capsys.readouterr().out
    assert not style.check_serbian_latin(copy)
    latin = (copy / "sr_Latn" / "knowledge.yaml").read_text(encoding="utf-8")
    assert "answer: Dobar dan! Pitajte" in latin
    assert catalogs.load(catalogs.MEMBERS, "sr_Latn", copy).get("Thank you!").string == "Hvala Vam!"
