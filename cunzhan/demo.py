"""The demo township: 青山镇 (Qingshan township) with four villages, two weeks of remote clinic and school sessions.

Used by `python -m township serve --demo` (seeding the backend) and by `python -m kiosk run --demo` when no backend
is reachable (seeding the kiosk's catalogue). Ids are stable (uuid5), so the two agree.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from dataclasses import dataclass

from cunzhan.models import Provider, Service, ServiceKind, Session

_NS = uuid.UUID("5b0c7a52-2f7e-4c1b-9d55-0c0a7e1c1a11")
TOWNSHIP_SLUG = "demo"
TOWNSHIP_NAME = "青山镇"
VILLAGES = ("上坪村", "河口村", "石桥村", "竹林村")
ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")


def stable_id(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "/".join(parts)))


@dataclass(frozen=True, slots=True)
class _Plan:
    """A weekly pattern: the service runs on these weekdays (0 = Monday) at these local times, with a provider."""

    service: str
    provider: str
    weekdays: tuple[int, ...]
    times: tuple[tuple[int, int], ...]
    minutes: int
    capacity: int
    room: str


SERVICES: tuple[Service, ...] = (
    Service(
        stable_id("service", "gp"),
        ServiceKind.CLINIC,
        "全科门诊",
        "乡镇卫生院全科医生远程问诊：头疼发热、身体不适，先问问医生。",
        False,
        "身份证、医保卡、正在吃的药",
    ),
    Service(
        stable_id("service", "chronic"),
        ServiceKind.CLINIC,
        "慢病随访（高血压、糖尿病）",
        "县医院医生远程复查血压、血糖，调整用药。",
        True,
        "身份证、医保卡、血压血糖记录本、药盒",
    ),
    Service(
        stable_id("service", "tcm"),
        ServiceKind.CLINIC,
        "中医问诊",
        "中医师远程看舌象、问病情，开调理方子。",
        False,
        "身份证、医保卡",
    ),
    Service(
        stable_id("service", "mch"),
        ServiceKind.CLINIC,
        "妇幼保健",
        "孕产妇、儿童保健医生远程咨询：产检、疫苗、喂养。",
        True,
        "身份证、母子健康手册",
    ),
    Service(
        stable_id("service", "math"),
        ServiceKind.SCHOOL,
        "课后辅导：数学",
        "县城学校老师远程辅导小学数学作业。",
        False,
        "作业本、铅笔",
    ),
    Service(
        stable_id("service", "chinese"),
        ServiceKind.SCHOOL,
        "课后辅导：语文",
        "县城学校老师远程辅导语文阅读和写字。",
        False,
        "语文书、作业本",
    ),
    Service(
        stable_id("service", "phone"),
        ServiceKind.SCHOOL,
        "长辈智能手机课",
        "手把手教长辈用手机：视频通话、扫码、防诈骗。",
        False,
        "自己的手机（充好电）",
    ),
    Service(
        stable_id("service", "farming"),
        ServiceKind.SCHOOL,
        "农技课堂",
        "农技专家远程讲种植、养殖和病虫害防治。",
        False,
        "想问的问题，可以带叶子或照片",
    ),
)

PROVIDERS: tuple[Provider, ...] = (
    Provider(stable_id("provider", "wang"), "王建国", "全科主治医师", "青山镇卫生院"),
    Provider(stable_id("provider", "li"), "李秀兰", "内科副主任医师", "平安县人民医院"),
    Provider(stable_id("provider", "zhao"), "赵明", "心内科主治医师", "平安县人民医院"),
    Provider(stable_id("provider", "chen"), "陈淑芬", "中医师", "平安县中医院"),
    Provider(stable_id("provider", "liu"), "刘芳", "妇幼保健医师", "平安县妇幼保健院"),
    Provider(stable_id("provider", "zhang"), "张老师（张丽）", "小学数学教师", "平安县实验小学"),
    Provider(stable_id("provider", "huang"), "黄老师（黄文静）", "小学语文教师", "平安县实验小学"),
    Provider(stable_id("provider", "sun"), "孙志强", "社区教育讲师", "平安县老年大学"),
    Provider(stable_id("provider", "zhou"), "周国平", "农艺师", "平安县农业技术推广站"),
)


def _sid(name: str) -> str:
    return stable_id("service", name)


def _pid(name: str) -> str:
    return stable_id("provider", name)


PLANS: tuple[_Plan, ...] = (
    _Plan("gp", "wang", (0, 1, 2, 3, 4), ((9, 0), (10, 0), (14, 30)), 30, 6, "远程诊室一"),
    _Plan("chronic", "li", (1, 3), ((9, 0), (10, 30)), 40, 5, "远程诊室二"),
    _Plan("chronic", "zhao", (4,), ((14, 0),), 40, 5, "远程诊室二"),
    _Plan("tcm", "chen", (2, 5), ((9, 30),), 30, 4, "远程诊室一"),
    _Plan("mch", "liu", (0, 3), ((15, 0),), 40, 4, "妇幼咨询室"),
    _Plan("math", "zhang", (0, 2, 4), ((16, 30),), 60, 12, "远程教室"),
    _Plan("chinese", "huang", (1, 3), ((16, 30),), 60, 12, "远程教室"),
    _Plan("phone", "sun", (2,), ((9, 30),), 90, 15, "活动室"),
    _Plan("farming", "zhou", (5,), ((14, 0),), 90, 30, "活动室"),
)


def demo_sessions(start: dt.date, days: int = 14) -> list[Session]:
    """Sessions for `days` days from `start` (local dates in Asia/Shanghai)."""
    sessions = []
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        for plan in PLANS:
            if day.weekday() not in plan.weekdays:
                continue
            for hour, minute in plan.times:
                local = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)
                starts = local.astimezone(dt.UTC)
                ident = stable_id("session", plan.service, plan.provider, local.isoformat())
                video = f"https://meet.qingshan.example/{plan.service}-{day:%m%d}-{hour:02d}{minute:02d}"
                sessions.append(
                    Session(
                        id=ident,
                        service_id=_sid(plan.service),
                        provider_id=_pid(plan.provider),
                        starts_at=starts,
                        ends_at=starts + dt.timedelta(minutes=plan.minutes),
                        capacity=plan.capacity,
                        seats_left=plan.capacity,
                        room=plan.room,
                        video_url=video,
                    )
                )
    return sessions


def today_local() -> dt.date:
    return dt.datetime.now(ZONE).date()
