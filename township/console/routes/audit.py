"""The staff audit trail: a township's (its administrators), or a county's (its administrators: what the county's
accounts did, in the county and its townships, #18)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cunzhan.i18n import N_
from township.console import queries
from township.console.deps import PREFIX, AccountsAdmin, ConsoleDep
from township.console.web import tr

router = APIRouter(prefix=PREFIX, include_in_schema=False)

ACTION_LABELS: dict[str, str] = {
    "login_failed": N_("Wrong password at sign-in"),
    "login_locked": N_("Account locked after wrong passwords"),
    "sign_out": N_("Signed out"),
    "sms_settings_changed": N_("Text message settings changed"),
    "session_created": N_("Session created"),
    "session_edited": N_("Session changed"),
    "session_cancelled": N_("Session cancelled"),
    "service_saved": N_("Service saved"),
    "provider_saved": N_("Provider saved"),
    "holiday_added": N_("Holiday added"),
    "holiday_removed": N_("Holiday removed"),
    "notice_posted": N_("Notice published"),
    "notice_withdrawn": N_("Notice withdrawn"),
    "enrollment_code_created": N_("Enrolment code created"),
    "device_enrolled": N_("Kiosk enrolled"),
    "rating_invited": N_("Rating invitation given to a kiosk"),
    "device_revoked": N_("Kiosk revoked"),
    "staff_created": N_("Staff account created"),
    "staff_disabled": N_("Staff account disabled"),
    "staff_enabled": N_("Staff account enabled again"),
    "staff_password_reset": N_("Staff account's password set"),
    "staff_role_changed": N_("Staff account's role changed"),
    "township_created": N_("Township created"),
    "township_changed": N_("Township changed"),
    "evaluation_exported": N_("Evaluation data exported"),
    "booking_confirmed": N_("Confirmed"),
    "booking_rejected": N_("Rejected"),
    "booking_reassigned": N_("Moved to another session"),
    "booking_cancelled": N_("Cancelled at the resident's request"),
    "attendance_marked": N_("Attendance recorded"),
    "reveal_numbers": N_("Viewed full ID and phone number"),
    "duplicate_lease_booking": N_(
        "Same person booked this session twice (kept: confirmed offline on a kiosk)"
    ),
    "kiosk_other": N_("Other kiosk action"),
    "residents_erased": N_("Residents' personal data erased (retention period over)"),
    "resident_viewed": N_("Resident's personal data viewed"),
    "resident_exported": N_("Resident's personal data exported"),
    "resident_erased": N_("Resident's personal data erased on request"),
}


@router.get("/audit")
def audit_trail(
    request: Request, console: ConsoleDep, who: AccountsAdmin, who_filter: str = "", day: str = ""
) -> Response:
    tid = who.staff.township_id
    with console.db.read() as conn:
        if who.staff.county_id is not None:
            rows = queries.county_audit_rows(
                conn, who.staff.county_id, zone=who.zone, who=who_filter, day=day
            )
            names = {}
        else:
            rows = queries.audit_rows(conn, tid, zone=who.zone, who=who_filter, day=day)
            names = queries.target_names(conn, tid, [r["target"] for r in rows], who.zone)
    for row in rows:
        row["action_label"] = tr(ACTION_LABELS.get(row["action"], row["action"]), request)
        row["target_name"] = names.get(row["target"], row["target"])
    return console.page(
        request,
        who,
        "audit.html",
        {"rows": rows, "who_filter": who_filter, "day": day, "county": who.staff.is_county_admin},
        title=tr(N_("Staff actions"), request),
        nav="audit",
    )
