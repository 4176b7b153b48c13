"""A small county with fixed dates for the insight tests (issue 18): written straight into a backend's database so
that every figure is known in advance and nothing depends on today's date or the time of day.

County 测试县 holds townships A (甲镇) and B (乙镇); the demo township stays outside it. Times are local
(Asia/Shanghai); the weeks are W1 = Monday 2026-10-05 and W2 = Monday 2026-10-12.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from tests.integration.conftest import valid_id_number

ZONE = ZoneInfo("Asia/Shanghai")
W1 = dt.date(2026, 10, 5)
W2 = dt.date(2026, 10, 12)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """A local time as the naive UTC the tables store."""
    return (
        dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)
        .astimezone(dt.UTC)
        .replace(tzinfo=None)
    )


@dataclass
class World:
    county: str
    a: str
    b: str
    service: dict[str, str] = field(default_factory=dict)  # name → id
    provider: dict[str, str] = field(default_factory=dict)
    session: dict[str, str] = field(default_factory=dict)  # label → id
    resident: dict[str, str] = field(default_factory=dict)  # label → id
    booking: dict[str, str] = field(default_factory=dict)  # label → id
    secrets: list[str] = field(
        default_factory=list
    )  # every name, ID number, phone, code and internal id written
    counter: int = 0

    def add_service(self, conn: sa.Connection, township: str, name: str, kind: str = "clinic") -> str:
        from township import db

        ident = str(uuid.uuid4())
        conn.execute(
            sa.insert(db.services).values(
                id=ident, township_id=township, kind=kind, name=name, updated_at=db.naive(db.now_utc())
            )
        )
        self.service[name] = ident
        return ident

    def add_provider(self, conn: sa.Connection, township: str, name: str) -> str:
        from township import db

        ident = str(uuid.uuid4())
        conn.execute(
            sa.insert(db.providers).values(
                id=ident, township_id=township, name=name, updated_at=db.naive(db.now_utc())
            )
        )
        self.provider[name] = ident
        return ident

    def add_session(
        self,
        conn: sa.Connection,
        label: str,
        township: str,
        service: str,
        provider: str,
        *,
        starts: dt.datetime,
    ) -> str:
        from township import db

        ident = str(uuid.uuid4())
        conn.execute(
            sa.insert(db.sessions).values(
                id=ident,
                township_id=township,
                service_id=self.service[service],
                provider_id=self.provider[provider],
                starts_at=starts,
                ends_at=starts + dt.timedelta(hours=1),
                capacity=10,
                status="open",
                updated_at=db.naive(db.now_utc()),
            )
        )
        self.session[label] = ident
        return ident

    def add_resident(
        self, conn: sa.Connection, label: str, township: str, village: str | None, born: str = "19500101"
    ) -> str:
        from cunzhan.fieldcrypto import field_ref
        from township import db, keys

        self.counter += 1
        ident = str(uuid.uuid4())
        cipher = keys.cipher_for(conn)
        number = valid_id_number(self.counter, born=born)
        name = f"居民{label}"
        phone = f"139{self.counter:08d}"
        now = db.naive(db.now_utc())
        conn.execute(
            sa.insert(db.residents).values(
                id=ident,
                township_id=township,
                id_blind=cipher.lookup_hash(number),
                id_number_enc=cipher.encrypt(number, where=field_ref("residents", "id_number_enc", ident)),
                id_mask=number[:4] + "*" * 10 + number[-4:],
                name_enc=cipher.encrypt(name, where=field_ref("residents", "name_enc", ident)),
                phone_enc=cipher.encrypt(phone, where=field_ref("residents", "phone_enc", ident)),
                village=village,
                created_at=now,
                updated_at=now,
            )
        )
        self.resident[label] = ident
        self.secrets += [ident, number, name, phone, number[:6] + number[6:14]]
        return ident

    def add_booking(
        self,
        conn: sa.Connection,
        label: str,
        session: str,
        resident: str,
        status: str,
        *,
        rating: int | None = None,
        reasons: list[str] | None = None,
        comment: str | None = None,
        rated_at: dt.datetime | None = None,
    ) -> str:
        from township import db

        row = conn.execute(
            sa.select(db.sessions.c.township_id).where(db.sessions.c.id == self.session[session])
        ).one()
        village = conn.execute(
            sa.select(db.residents.c.village).where(db.residents.c.id == self.resident[resident])
        ).scalar_one()
        ident = str(uuid.uuid4())
        code = f"Q{uuid.uuid4().int % 10**8:08d}"
        now = db.naive(db.now_utc())
        conn.execute(
            sa.insert(db.bookings).values(
                id=ident,
                township_id=row.township_id,
                session_id=self.session[session],
                resident_id=self.resident[resident],
                code=code,
                status=status,
                contact_village=village,
                created_at=now,
                updated_at=now,
            )
        )
        self.booking[label] = ident
        self.secrets += [ident, code]
        if rating is not None:
            feedback_id = str(uuid.uuid4())
            conn.execute(
                sa.insert(db.feedback).values(
                    id=feedback_id,
                    township_id=row.township_id,
                    booking_id=ident,
                    rating=rating,
                    reasons=reasons or [],
                    comment=comment,
                    created_at=rated_at or now,
                )
            )
            self.secrets.append(feedback_id)
            if comment:
                self.secrets.append(comment)
        return ident


def build(database: object) -> World:
    """The county, its two townships, and W1/W2 of township A with known outcomes (see the tests)."""
    from township import db
    from township.insight.scope import assign_township, create_county
    from township.services import create_township

    assert isinstance(database, db.Database)
    a = create_township(database, "insight-a", "甲镇")
    b = create_township(database, "insight-b", "乙镇")
    with database.write() as conn:
        county = create_county(conn, "test-county", "测试县")
        assign_township(conn, a, county)
        assign_township(conn, b, county)
        world = World(county, a, b)
        world.add_service(conn, a, "慢病随访")
        world.add_service(conn, a, "课后辅导", kind="school")
        world.add_provider(conn, a, "李医生")
        world.add_provider(conn, a, "王老师")
        world.add_service(conn, b, "乙镇体检")
        world.add_provider(conn, b, "乙镇医生")
        # W1: Tuesday 09:00 慢病随访 with 李医生; W2: Wednesday 15:00 the same, and Thursday 19:00 课后辅导.
        world.add_session(conn, "a1", a, "慢病随访", "李医生", starts=at(W1 + dt.timedelta(days=1), 9))
        world.add_session(conn, "a2", a, "慢病随访", "李医生", starts=at(W2 + dt.timedelta(days=2), 15))
        world.add_session(conn, "a3", a, "课后辅导", "王老师", starts=at(W2 + dt.timedelta(days=3), 19))
        world.add_session(conn, "b1", b, "乙镇体检", "乙镇医生", starts=at(W1 + dt.timedelta(days=1), 10))
        for n in range(6):
            world.add_resident(conn, f"up{n}", a, "上坪村", born=f"19{50 + n}0101")  # ages 76 … 71 in 2026
        for n in range(2):
            world.add_resident(conn, f"river{n}", a, "河口村", born="19800101")  # 46: a group of 2
        world.add_resident(conn, "b0", b, "乙村")
        # a1 (W1): 4 seated (2 attended, 1 checked in, 1 no-show), 1 cancelled, 1 waitlisted.
        world.add_booking(conn, "a1-0", "a1", "up0", "attended", rating=5, reasons=["The staff were helpful"])
        world.add_booking(
            conn,
            "a1-1",
            "a1",
            "up1",
            "attended",
            rating=1,
            reasons=["I waited too long", "自由文本理由"],
            comment="医生迟到了一个小时",
            rated_at=at(W1 + dt.timedelta(days=2), 10),
        )
        world.add_booking(conn, "a1-2", "a1", "river0", "checked_in", rating=4)
        world.add_booking(conn, "a1-3", "a1", "up2", "no_show")
        world.add_booking(conn, "a1-4", "a1", "up3", "cancelled")
        world.add_booking(conn, "a1-5", "a1", "up4", "waitlisted")
        # a2 (W2): 2 confirmed (one rated 2), a3 (W2): 1 attended rated 3.
        world.add_booking(
            conn,
            "a2-0",
            "a2",
            "up5",
            "confirmed",
            rating=2,
            reasons=["The sound was hard to hear"],
            rated_at=at(W2 + dt.timedelta(days=2), 18),
        )
        world.add_booking(conn, "a2-1", "a2", "river1", "confirmed")
        world.add_booking(conn, "a3-0", "a3", "up0", "attended", rating=3)
        # Township B, W1: one no-show rated 1 (low), to be invisible from A's scope.
        world.add_booking(
            conn,
            "b1-0",
            "b1",
            "b0",
            "no_show",
            rating=1,
            reasons=["The video kept stopping"],
            comment="乙镇的评论",
            rated_at=at(W1 + dt.timedelta(days=2), 11),
        )
    return world
