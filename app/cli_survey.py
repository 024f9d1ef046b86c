"""``childpact survey``: import a survey file (YAML or XLSForm) as a draft, write a survey
back as an XLSForm, and export its responses as CSV or XLSX."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot import surveys
from bot.config import Settings
from bot.secretariat.audit import record
from bot.storage.db import Database
from bot.storage.models import Survey
from bot.surveys import results as surveys_results
from bot.surveys import xlsform
from bot.surveys.format import SurveyFormatError

VIA = "command line"  # how the audit log names this front end


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    verbs = sub.add_parser("survey", help="surveys: import, XLSForm, results").add_subparsers(
        dest="action", required=True
    )
    load = verbs.add_parser(
        "import", help="a YAML file or an XLSForm (.xlsx, .xls, .csv, .md) as a new draft"
    )
    load.add_argument("file", type=Path)
    load.add_argument("--country", help="a coordinator's survey, for this country only")
    load.add_argument("--check", action="store_true", help="say what is wrong, save nothing")
    form = verbs.add_parser("xlsform", help="write a survey as an XLSForm (.xlsx)")
    form.add_argument("id", type=int)
    form.add_argument("-o", "--output", type=Path, required=True)
    export = verbs.add_parser("export", help="the responses, one row each, as CSV or XLSX")
    export.add_argument("id", type=int)
    export.add_argument("-o", "--output", type=Path, required=True, help="a .csv or .xlsx file")
    export.add_argument("--values", choices=("labels", "names"), default="labels",
                        help="answers as their labels or as the choices' names")  # fmt: skip


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "import":
        try:
            definition = xlsform.load(args.file.read_bytes(), args.file.name)
        except OSError as exc:
            print(f"cannot read {args.file}: {exc.strerror}", file=sys.stderr)
            return 1
        except SurveyFormatError as exc:
            print(f"{args.file.name} cannot be imported; nothing was saved:", file=sys.stderr)
            for problem in exc.problems:
                print(f"  - {problem}", file=sys.stderr)
            return 1
        if args.check:
            print(f"{args.file.name}: {len(definition.questions)} questions, ready to import")
            return 0
    return asyncio.run(_run(args, settings, definition if args.action == "import" else None))


async def _run(args: argparse.Namespace, settings: Settings, definition: object) -> int:
    db = Database(settings.database_url)
    await db.migrate()
    try:
        if args.action == "import":
            async with db.session() as session, session.begin():
                s = await surveys.create(session, definition, author=None,  # type: ignore[arg-type]
                                         country=args.country)  # fmt: skip
                await record(session, None, "survey.create", f"survey:{s.id}",
                             source=args.file.suffix.lstrip(".").lower() or "file", via=VIA)  # fmt: skip
                print(f"survey {s.id} imported as a draft: {s.name}")
            return 0
        async with db.session() as session:
            s = await session.get(Survey, args.id)
            if s is None:
                print(f"there is no survey {args.id}", file=sys.stderr)
                return 1
            if args.action == "xlsform":
                questions = await surveys.questions_of(session, s.id)
                body = xlsform.workbook(surveys.definition_of(s, questions),
                                        form_id=f"childpact_survey_{s.id}")  # fmt: skip
            else:
                filters = surveys_results.Filters()
                header, rows, questions = await surveys_results.table(
                    session, s, filters, labels=args.values == "labels"
                )
                if args.output.suffix.lower() == ".xlsx":
                    body = surveys_results.to_xlsx(s, header, rows, questions)
                else:
                    body = surveys_results.to_csv(header, rows)
                await record(session, None, "survey.export", f"survey:{s.id}", via=VIA,
                             format=args.output.suffix.lstrip(".").lower(), rows=len(rows))  # fmt: skip
                await session.commit()
        args.output.write_bytes(body)
        print(f"written: {args.output}")
        return 0
    finally:
        await db.dispose()
