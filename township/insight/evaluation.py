"""The third-party evaluation export (第三方评估): an anonymised data set of bookings and ratings for an outside
evaluator, as CSV (UTF-8 with a BOM, so Excel reads Chinese) and XLSX, with a data dictionary in Chinese and English
(a second sheet, and `dictionary.csv` / `dictionary.md`).

One row per booking of a session in the period. What it holds: a pseudonym per resident, random for each export
(two exports cannot be joined, and none leads back to a resident), the township, the village and the age band (from
the birth year in the resident's ID number, decrypted once per resident), the service's kind and name, the session's
ISO week, weekday and time band, the booking's status, the rating and the fixed reasons ticked. What it never holds:
names, ID numbers, phones, booking codes, internal ids, exact dates or birth dates, and no free text (comments are
left out; a reason that is not one of the kiosk's fixed phrases becomes `other`).

Small groups are generalised (k-anonymity on village × age band): a village and age band with fewer than `K`
residents in the export becomes village 其他 (other); if 其他 × that age band is still fewer than `K`, its age band is
suppressed too (`*`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import secrets
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cunzhan.fieldcrypto import field_ref
from cunzhan.i18n import catalog
from cunzhan.models import FEEDBACK_REASONS
from township import db, keys
from township.insight.scope import Scope, band_of, local, towns, week_bounds

K = 5
OTHER_VILLAGE = "其他"
UNKNOWN = "未知"
SUPPRESSED = "*"
# The fixed feedback reasons (cunzhan.models.FEEDBACK_REASONS, their msgids), with their Chinese text.
FIXED_REASONS = {reason: catalog("zh_CN").gettext(reason) for reason in FEEDBACK_REASONS}
OTHER_REASON = "other"
AGE_BANDS = ((0, 17, "0-17"), (18, 39, "18-39"), (40, 59, "40-59"), (60, 69, "60-69"), (70, 79, "70-79"))
OLDEST_BAND = "80+"


@dataclass(frozen=True, slots=True)
class Column:
    """A column of the export and its entry in the data dictionary."""

    code: str
    zh: str
    en: str
    zh_note: str
    en_note: str

    @property
    def header(self) -> str:
        return f"{self.zh} {self.code}"


COLUMNS = (
    Column(
        "resident",
        "居民代号",
        "resident",
        "本次导出随机生成的代号，每位居民一个；不同导出之间不相同，无法对应到真人",
        "A random pseudonym per resident, new for each export: not comparable between exports, leads to no one",
    ),
    Column("township", "乡镇", "township", "服务所在乡镇", "The township that ran the service"),
    Column(
        "village",
        "村",
        "village",
        f"居民所在村；同村同年龄段不足 {K} 人时记为“{OTHER_VILLAGE}”；未填为“{UNKNOWN}”",
        f"The resident's village; '{OTHER_VILLAGE}' (other) when fewer than {K} residents share its village and age "
        f"band; '{UNKNOWN}' when not given",
    ),
    Column(
        "age_band",
        "年龄段",
        "age band",
        f"按身份证出生年份计算的服务当年年龄段；无法计算为“{UNKNOWN}”，小组隐去为“{SUPPRESSED}”",
        f"Age in the year of the service, from the birth year in the ID number; '{UNKNOWN}' when unknown, "
        f"'{SUPPRESSED}' when suppressed for a small group",
    ),
    Column("service_kind", "服务类别", "service kind", "clinic 医疗；school 教育", "clinic or school"),
    Column("service", "服务名称", "service", "服务名称", "The service's name"),
    Column("week", "周", "week", "服务所在的 ISO 周，如 2026-W49", "ISO week of the session, e.g. 2026-W49"),
    Column("weekday", "星期", "weekday", "1 周一 … 7 周日", "1 Monday … 7 Sunday"),
    Column(
        "time_band",
        "时段",
        "time band",
        "morning 上午（12 点前）；afternoon 下午（18 点前）；evening 晚上",
        "morning (before 12:00), afternoon (before 18:00), evening (local time)",
    ),
    Column(
        "status",
        "预约状态",
        "status",
        "pending_review 待审核；confirmed 已确认；waitlisted 候补；checked_in 已签到；attended 已到；no_show 未到；"
        "cancelled 已取消；rejected 未通过",
        "pending_review, confirmed, waitlisted, checked_in, attended, no_show, cancelled, rejected",
    ),
    Column(
        "rating",
        "评分",
        "rating",
        "居民满意度评分 1（很差）至 5（很好）；空为未评",
        "Satisfaction 1 (very bad) to 5 (very good); empty: not rated",
    ),
    Column(
        "reasons",
        "评价原因",
        "reasons",
        "居民勾选的固定原因（英文代码，以“; ”分隔）："
        + "；".join(f"{en} = {zh}" for en, zh in FIXED_REASONS.items())
        + f"；{OTHER_REASON} = 其他",
        "The fixed reasons the resident ticked, '; '-separated: "
        + "; ".join(FIXED_REASONS)
        + f"; {OTHER_REASON} = anything else",
    ),
)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The anonymised rows (one tuple of strings per booking, in `COLUMNS` order) and the period they cover."""

    start: dt.date
    end: dt.date
    rows: list[tuple[str, ...]]
    columns: tuple[Column, ...] = COLUMNS


def age_band(birth_year: int | None, year: int) -> str:
    if birth_year is None:
        return UNKNOWN
    age = year - birth_year
    if age < 0:
        return UNKNOWN
    for low, high, label in AGE_BANDS:
        if low <= age <= high:
            return label
    return OLDEST_BAND


def _birth_year(id_number: str | None) -> int | None:
    if not id_number or len(id_number) != 18 or not id_number[6:10].isdigit():
        return None
    return int(id_number[6:10])


def evaluation_data(
    conn: Connection, scope: Scope, start: dt.date, end: dt.date, *, k: int = K
) -> Evaluation:
    """The anonymised data set of bookings for sessions on local days [start, end] in the scope's townships."""
    covered = towns(conn, scope)
    b, s, sv, r, f = db.bookings, db.sessions, db.services, db.residents, db.feedback
    cipher = keys.cipher_for(conn)
    raw: list[dict[str, Any]] = []
    births: dict[str, int | None] = {}  # resident id → birth year (decrypted once each)
    pseudonyms: dict[str, str] = {}
    for town in covered:
        lo = week_bounds(start, town.tz)[0]  # local midnight of `start` (a week's start is a day's start)
        hi = week_bounds(end + dt.timedelta(days=1), town.tz)[0]
        rows = conn.execute(
            sa.select(
                b.c.id,
                b.c.resident_id,
                b.c.status,
                sa.func.coalesce(r.c.village, b.c.contact_village, "").label("village"),
                r.c.id_number_enc,
                s.c.starts_at,
                sv.c.kind,
                sv.c.name,
            )
            .select_from(
                b.join(s, s.c.id == b.c.session_id)
                .join(sv, sv.c.id == s.c.service_id)
                .join(r, r.c.id == b.c.resident_id)
            )
            .where(b.c.township_id == town.id, s.c.starts_at >= lo, s.c.starts_at < hi)
            .order_by(s.c.starts_at, sv.c.name)
        ).all()
        rated: dict[str, tuple[int, Any]] = {}
        ids = [row.id for row in rows]
        for chunk in range(0, len(ids), 500):
            for fb in conn.execute(
                sa.select(f.c.booking_id, f.c.rating, f.c.reasons)
                .where(f.c.booking_id.in_(ids[chunk : chunk + 500]))
                .order_by(f.c.created_at)
            ):
                rated[str(fb.booking_id)] = (int(fb.rating), fb.reasons)  # the latest wins
        for row in rows:
            resident = str(row.resident_id)
            if resident not in births:
                number = (
                    cipher.decrypt(row.id_number_enc, where=field_ref("residents", "id_number_enc", resident))
                    if row.id_number_enc
                    else None
                )
                births[resident] = _birth_year(number)
                pseudonyms[resident] = _pseudonym(set(pseudonyms.values()))
            when = local(row.starts_at, town.tz)
            iso = when.isocalendar()
            rating, reasons = rated.get(str(row.id), (None, None))
            raw.append(
                {
                    "resident": resident,
                    "township": town.name,
                    "village": str(row.village).strip() or UNKNOWN,
                    "age_band": age_band(births[resident], when.year),
                    "service_kind": str(row.kind),
                    "service": str(row.name),
                    "week": f"{iso.year}-W{iso.week:02d}",
                    "weekday": str(iso.weekday),
                    "time_band": band_of(when),
                    "status": str(row.status),
                    "rating": "" if rating is None else str(rating),
                    "reasons": "; ".join(_fixed(reasons)),
                }
            )
    _generalise(raw, k)
    out = [tuple([pseudonyms[x["resident"]], *(x[c.code] for c in COLUMNS[1:])]) for x in raw]
    return Evaluation(start, end, out)


def _pseudonym(taken: set[str]) -> str:
    while True:
        value = "R" + secrets.token_hex(5).upper()
        if value not in taken:
            return value


def _fixed(reasons: Any) -> list[str]:
    if not isinstance(reasons, list):
        return []
    out: list[str] = []
    for reason in reasons:
        value = str(reason) if str(reason) in FIXED_REASONS else OTHER_REASON
        if value not in out:
            out.append(value)
    return out


def _generalise(rows: list[dict[str, Any]], k: int) -> None:
    """Village × age band groups of fewer than `k` residents → village 其他; then still-small 其他 groups lose
    their age band."""

    def sizes() -> dict[tuple[str, str, str], set[str]]:
        groups: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        for x in rows:
            groups[(x["township"], x["village"], x["age_band"])].add(x["resident"])
        return groups

    small = {key for key, members in sizes().items() if len(members) < k}
    for x in rows:
        if (x["township"], x["village"], x["age_band"]) in small:
            x["village"] = OTHER_VILLAGE
    small = {key for key, members in sizes().items() if len(members) < k and key[1] == OTHER_VILLAGE}
    for x in rows:
        if (x["township"], x["village"], x["age_band"]) in small:
            x["age_band"] = SUPPRESSED


# --- writing -------------------------------------------------------------------------------------------------------


def _cell(value: str) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def write_csv(data: Evaluation, out: IO[bytes]) -> None:
    """The rows as CSV, UTF-8 with a BOM, bilingual headers."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow([c.header for c in data.columns])
    writer.writerows([_cell(v) for v in row] for row in data.rows)
    out.write(b"\xef\xbb\xbf" + text.getvalue().encode("utf-8"))


def dictionary_rows(data: Evaluation) -> list[list[str]]:
    head = ["列 column", "中文名", "English name", "说明", "Description"]
    return [head, *([c.header, c.zh, c.en, c.zh_note, c.en_note] for c in data.columns)]


def write_dictionary_csv(data: Evaluation, out: IO[bytes]) -> None:
    text = io.StringIO(newline="")
    csv.writer(text).writerows(dictionary_rows(data))
    out.write(b"\xef\xbb\xbf" + text.getvalue().encode("utf-8"))


def dictionary_markdown(data: Evaluation) -> str:
    lines = [
        f"# 数据字典 Data dictionary — {data.start.isoformat()} … {data.end.isoformat()}",
        "",
        "匿名化评估数据：不含姓名、身份证号、电话、预约码、内部编号、具体日期和自由文本；"
        f"同村同年龄段不足 {K} 人的记录已归并。",
        "",
        "Anonymised evaluation data: no names, ID numbers, phones, booking codes, internal ids, exact dates or free "
        f"text; village × age band groups of fewer than {K} residents are generalised.",
        "",
    ]
    rows = dictionary_rows(data)
    lines.append("| " + " | ".join(rows[0]) + " |")
    lines.append("|" + "---|" * len(rows[0]))
    lines.extend("| " + " | ".join(v.replace("|", "\\|") for v in row) + " |" for row in rows[1:])
    return "\n".join(lines) + "\n"


def write_xlsx(data: Evaluation, out: IO[bytes]) -> None:
    """The rows on sheet 数据 data, the dictionary on sheet 数据字典 dictionary."""
    import xlsxwriter

    book = xlsxwriter.Workbook(
        out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    bold = book.add_format({"bold": True})
    sheet = book.add_worksheet("数据 data")
    for col, column in enumerate(data.columns):
        sheet.write_string(0, col, column.header, bold)
    for line, row in enumerate(data.rows, start=1):
        for col, value in enumerate(row):
            sheet.write_string(line, col, value)
    sheet.freeze_panes(1, 0)
    words = book.add_worksheet("数据字典 dictionary")
    for line, entry in enumerate(dictionary_rows(data)):
        for col, value in enumerate(entry):
            words.write_string(line, col, value, bold if line == 0 else None)
    book.close()


def export_files(conn: Connection, scope: Scope, start: dt.date, end: dt.date, folder: Path) -> list[Path]:
    """Write evaluation.csv, evaluation.xlsx, dictionary.csv and dictionary.md into `folder`; returns their paths."""
    data = evaluation_data(conn, scope, start, end)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / n for n in ("evaluation.csv", "evaluation.xlsx", "dictionary.csv", "dictionary.md")]
    with paths[0].open("wb") as out:
        write_csv(data, out)
    with paths[1].open("wb") as out:
        write_xlsx(data, out)
    with paths[2].open("wb") as out:
        write_dictionary_csv(data, out)
    paths[3].write_text(dictionary_markdown(data), encoding="utf-8")
    return paths
