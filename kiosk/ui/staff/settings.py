"""Kiosk settings staff may change: default profile, volume, idle times, private audio, voice model, printer,
township address. Each change is validated, stored with the staff number as the actor and audited."""

from __future__ import annotations

from functools import partial
from typing import Any

from PySide6.QtWidgets import QVBoxLayout

from cunzhan.i18n import N_
from cunzhan.i18n import gettext as _
from kiosk import settings as s
from kiosk.accessibility.profiles import ORDER, PROFILES
from kiosk.staff.accounts import StaffError
from kiosk.staff.desk import STAFF_SETTINGS
from kiosk.ui import widgets
from kiosk.ui.screen import Choice
from kiosk.ui.staff.base import StaffScreen

LABELS: dict[str, str] = {
    s.PROFILE_DEFAULT.key: N_("Starting mode for residents"),
    s.VOLUME.key: N_("Speech volume"),
    s.IDLE_SCALE.key: N_("Idle time limits"),
    s.PRIVATE_AUDIO.key: N_("Private audio (headphones)"),
    s.VOICE_MODEL_PATH.key: N_("Voice command model folder"),
    s.PRINTER.key: N_("Slip printer"),
    s.TOWNSHIP_URL.key: N_("Township address"),
}
VOLUMES = ("0.2", "0.4", "0.6", "0.8", "1.0")
IDLE_SCALES = ("1.0", "1.5", "2.0", "3.0")


def shown_value(setting: s.Setting, value: Any) -> str:
    """A setting's value in plain words."""
    if setting is s.PRIVATE_AUDIO:
        return _("On") if value else _("Off")
    if setting is s.PROFILE_DEFAULT:
        names = [n for n in str(value).split("+") if n in PROFILES]
        return " + ".join(PROFILES[n].label() for n in names) or str(value)
    if setting is s.VOLUME:
        return f"{round(float(value) * 100)}%"
    if setting is s.IDLE_SCALE:
        return _("{n} × the usual times").format(n=value)
    if setting is s.PRINTER and not value:
        return _("The system's default printer")
    return str(value) if value not in ("", None) else _("(not set)")


def _setting(key: str | None) -> s.Setting | None:
    return next((x for x in STAFF_SETTINGS if x.key == key), None)


class StaffSettingsScreen(StaffScreen):
    name = "staff_settings"

    def title(self) -> str:
        return _("Kiosk settings")

    def announcement(self) -> str:
        return _("Touch a setting to change it.")

    def choices(self) -> list[Choice]:
        view = self.state.desk.settings()
        return [
            Choice(
                f"setting_{x.key}",
                _(LABELS[x.key]),
                partial(self._edit, x),
                detail=shown_value(x, view.get(x)),
            )
            for x in STAFF_SETTINGS
        ]

    def _edit(self, setting: s.Setting) -> None:
        state = self.state
        state.setting_key = setting.key
        value = state.desk.settings().get(setting)
        state.setting_text = "" if value is None else s.render(setting, value)
        self.go("staff_setting_edit")


class StaffSettingEditScreen(StaffScreen):
    """One setting: a few big choices for the fixed ones, a text field for folders, printers and addresses."""

    name = "staff_setting_edit"

    def setting(self) -> s.Setting:
        found = _setting(self.state.setting_key)
        return found or s.PROFILE_DEFAULT

    def title(self) -> str:
        return _(LABELS[self.setting().key])

    def announcement(self) -> str:
        return _(self.setting().description)

    def build_body(self, box: QVBoxLayout) -> None:
        setting = self.setting()
        current = self.state.desk.settings().get(setting)
        box.addWidget(
            widgets.label(
                _("Now: {value}").format(value=shown_value(setting, current)),
                kind="notice",
                name="setting_now",
            )
        )
        if setting.type is str and setting is not s.PROFILE_DEFAULT:
            state = self.state
            hint = "https://township.example:8700" if setting is s.TOWNSHIP_URL else ""
            self.text_field(
                box,
                name="setting_text",
                label=_(LABELS[setting.key]),
                value=state.setting_text,
                on_change=lambda t: setattr(state, "setting_text", t),
                placeholder=hint,
            )
            if setting is s.PRINTER:
                printers = available_printers()
                text = (
                    _("Printers on this computer: {names}").format(names=", ".join(printers))
                    if printers
                    else _("No printer is installed on this computer. Slips are saved as PDF.")
                )
                box.addWidget(widgets.label(text, name="printers"))

    def choices(self) -> list[Choice]:
        setting = self.setting()
        if setting is s.PRIVATE_AUDIO:
            return [
                Choice("on", _("On"), lambda: self.save("true")),
                Choice("off", _("Off"), lambda: self.save("false")),
            ]
        if setting is s.PROFILE_DEFAULT:
            return [Choice(f"profile_{n}", PROFILES[n].label(), partial(self.save, n)) for n in ORDER]
        if setting is s.VOLUME:
            return [
                Choice(f"volume_{v}", f"{round(float(v) * 100)}%", partial(self.save, v)) for v in VOLUMES
            ]
        if setting is s.IDLE_SCALE:
            return [Choice(f"idle_{v}", shown_value(setting, v), partial(self.save, v)) for v in IDLE_SCALES]
        out = [Choice("save", _("Save"), lambda: self.save(self.state.setting_text), kind="primary")]
        if setting is s.PRINTER:
            out.append(
                Choice("default_printer", _("Use the system's default printer"), lambda: self.save(""))
            )
        return out

    def save(self, raw: str) -> None:
        setting = self.setting()
        desk = self.state.desk
        try:
            desk.change_setting(setting, raw)
        except StaffError as exc:
            self.show_message(exc.message(), speak=False)
            return
        self.apply(setting)
        self.win.back()
        current = self.win.current
        if current is not None:
            current.show_message(_("Saved: {name}.").format(name=_(LABELS[setting.key])), "ok", speak=False)

    def apply(self, setting: s.Setting) -> None:
        """A saved setting takes effect at once: volume and private audio from the next prompt, idle times from the
        next touch, the printer from the next slip, the starting mode from the next resident, a new voice model as
        soon as it has loaded; the township address is offered at the next enrolment."""
        ctx, win = self.ctx, self.win
        ctx.settings.reload(self.state.real.stored_settings())
        if setting is s.PROFILE_DEFAULT:
            from kiosk.accessibility.profiles import profile

            try:
                ctx.default_profile = profile(str(ctx.settings.get(s.PROFILE_DEFAULT)) or "standard")
            except KeyError:
                pass  # change_setting refuses unknown profiles; a stale environment override keeps the old one
        elif setting is s.VOICE_MODEL_PATH:
            from kiosk.ui.app import make_voice_in

            win.set_voice(make_voice_in(ctx.settings))


def available_printers() -> list[str]:
    """Printer names Qt knows on this computer (empty when none, e.g. offscreen in tests)."""
    try:
        from PySide6.QtPrintSupport import QPrinterInfo
    except ImportError:
        return []
    return [str(n) for n in QPrinterInfo.availablePrinterNames()]
