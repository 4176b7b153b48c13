"""Names `vulture` (the unused-code check in `make lint`) cannot see used, because something outside Python's own
calls reaches them. Each line says who uses it; anything else vulture reports is dead code to delete."""

# ruff: noqa: B018  (bare names are how vulture whitelists work)
# mypy: ignore-errors

from cunzhan import models, protocol
from kiosk.accessibility import screen_reader
from kiosk.sync import engine
from tests import proxy
from township import app

models.SessionStatus.CLOSED  # a value the backend sends (SessionStatus("closed"))
protocol._Request.model_config  # pydantic reads model_config
protocol._Request._plain_text  # a pydantic field validator
protocol.PushResult.replayed  # a wire field the kiosk reads by name
engine.SyncEngine._change_service  # dispatched by name: getattr(self, "_change_" + change.entity)
engine.SyncEngine._change_provider
engine.SyncEngine._change_session
engine.SyncEngine._change_booking
engine.SyncEngine._change_lease
engine.SyncEngine._change_notice
screen_reader.screen_reader_enabled  # called by tests/ui/test_atspi.py inside a subprocess script
app.worker_app  # uvicorn's factory, named as a string by `serve --workers N`
proxy.FaultPlan.drop_request  # the faults are read by name from tests/proxy.py's FAULTS list (getattr)
proxy.FaultPlan.drop_response
proxy.FaultPlan.reorder
proxy.FaultPlan.truncate_response
proxy.FaultPlan.corrupt_response
proxy.FaultPlan.truncate_request
proxy.FaultPlan.corrupt_request
proxy.FaultPlan.error_status
