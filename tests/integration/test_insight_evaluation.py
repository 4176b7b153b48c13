"""The third-party evaluation export (issue 18, township.insight.evaluation): no name, ID number, phone, booking code,
internal id, comment or free-text reason in any byte of the CSV, the XLSX or the dictionary; village and age band
only, small groups generalised; a new pseudonym per export. Both databases, fixed dates."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.integration.conftest import Backend
from tests.integration.insight_world import W1, W2, World, build

pytestmark = pytest.mark.usefixtures("keyring_ready")

END = W2 + dt.timedelta(days=6)


@pytest.fixture(scope="module")
def world(any_backend: Backend) -> Iterator[World]:
    yield build(any_backend.database)


def _all_bytes(paths: list[Path]) -> bytes:
    """Every byte written, with the XLSX unzipped (its text lives in compressed XML parts)."""
    out = b""
    for path in paths:
        data = path.read_bytes()
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(io.BytesIO(data)) as book:
                out += b"".join(book.read(name) for name in book.namelist())
        else:
            out += data
    return out


def test_the_export_holds_no_personal_data_or_internal_ids(
    any_backend: Backend, world: World, tmp_path: Path
) -> None:
    from township import db
    from township.insight.evaluation import export_files
    from township.insight.scope import Scope

    with any_backend.database.read() as conn:
        paths = export_files(conn, Scope.county(world.county), W1, END, tmp_path / any_backend.kind)
        internal = [
            str(x)
            for table in (db.sessions, db.services, db.providers, db.townships, db.villages)
            for x in conn.execute(sa.select(table.c.id)).scalars()
        ]
    assert [p.name for p in paths] == ["evaluation.csv", "evaluation.xlsx", "dictionary.csv", "dictionary.md"]
    written = _all_bytes(paths)
    forbidden = [*world.secrets, *internal, "自由文本理由", "乙镇的评论"]
    assert len(world.secrets) > 40
    leaks = [value for value in forbidden if value.encode("utf-8") in written]
    assert leaks == []
    assert "上坪村".encode() in written  # the export is not simply empty


def test_rows_are_generalised_and_pseudonymous(any_backend: Backend, world: World, tmp_path: Path) -> None:
    import csv

    from township.insight.evaluation import COLUMNS, evaluation_data, write_csv, write_xlsx
    from township.insight.scope import Scope

    county = Scope.county(world.county)
    with any_backend.database.read() as conn:
        data = evaluation_data(conn, county, W1, END)
        again = evaluation_data(conn, county, W1, END)
        mine = evaluation_data(conn, Scope.township(world.a), W1, END)
    rows = [dict(zip([c.code for c in COLUMNS], row, strict=True)) for row in data.rows]
    assert len(rows) == 10 and len(mine.rows) == 9
    assert {row[1] for row in mine.rows} == {"甲镇"}  # the township column
    # 上坪村: six residents aged 71–76 stay; 河口村's two 46-year-olds and 乙镇's one resident are generalised.
    groups = {(r["township"], r["village"], r["age_band"]) for r in rows}
    assert groups == {("甲镇", "上坪村", "70-79"), ("甲镇", "其他", "*"), ("乙镇", "其他", "*")}
    low = next(r for r in rows if r["rating"] == "1" and r["township"] == "甲镇")
    iso = W1.isocalendar()
    assert (low["week"], low["weekday"], low["time_band"], low["status"]) == (
        f"{iso.year}-W{iso.week:02d}", "2", "morning", "attended",
    )  # fmt: skip
    assert low["reasons"] == "I waited too long; other"
    assert (low["service_kind"], low["service"]) == ("clinic", "慢病随访")
    # One pseudonym per resident within an export, none shared with another export.
    by_pseudonym = [r["resident"] for r in rows]
    assert len(set(by_pseudonym)) == 9  # nine residents booked
    assert not set(by_pseudonym) & {row[0] for row in again.rows}

    out = io.BytesIO()
    write_csv(data, out)
    assert out.getvalue().startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"))))
    assert table[0][2] == "村 village" and len(table) == 11
    book = io.BytesIO()
    write_xlsx(data, book)
    with zipfile.ZipFile(io.BytesIO(book.getvalue())) as xlsx:
        workbook = xlsx.read("xl/workbook.xml").decode("utf-8")
    assert "数据 data" in workbook and "数据字典 dictionary" in workbook
