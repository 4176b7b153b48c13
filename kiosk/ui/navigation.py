"""Navigation between screens: which screen is on show, the way back (返回), and the screens themselves.

Screens are registered by name (`register`, or `register_lazy` to import the class the first time it is shown) and
built on first show, one widget each in the window's stack. Showing a screen remembers the one it replaces, unless
told not to, so 返回 comes back to it with everything entered still there.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QStackedWidget

from kiosk.ui.screen import Screen


class Navigation:
    """The screens of one window and the way between them.

    `build(cls)` makes a screen object; `draw(announce)` draws the screen on show (the window's frame around it);
    `arriving_home()` runs each time home is about to be shown (the window ends a visit there)."""

    def __init__(
        self,
        stack: QStackedWidget,
        *,
        build: Callable[[type[Screen]], Screen],
        draw: Callable[[bool], None],
        arriving_home: Callable[[], None],
    ) -> None:
        self.stack = stack
        self._build = build
        self._draw = draw
        self._arriving_home = arriving_home
        self._classes: dict[str, type[Screen]] = {}
        self._loaders: dict[str, Callable[[str], type[Screen]]] = {}
        self._screens: dict[str, Screen] = {}
        self._history: list[str] = []
        self.current: Screen | None = None

    def register(self, screen_class: type[Screen]) -> None:
        """Make a screen reachable by its `name` (built the first time it is shown)."""
        if not screen_class.name:
            raise ValueError("a screen needs a name")
        self._classes[screen_class.name] = screen_class

    def register_lazy(self, name: str, loader: Callable[[str], type[Screen]]) -> None:
        """Make a screen reachable by `name`; `loader(name)` imports its class the first time it is shown."""
        self._loaders[name] = loader

    def screen_named(self, name: str) -> Screen:
        """The screen object for `name` (built on first use)."""
        if name not in self._classes and name in self._loaders:
            self._classes[name] = self._loaders[name](name)
        if name not in self._screens:
            built = self._build(self._classes[name])
            self._screens[name] = built
            self.stack.addWidget(built)
        return self._screens[name]

    def built_screens(self) -> list[Screen]:
        """The screens built so far."""
        return list(self._screens.values())

    def show(self, name: str, *, remember: bool = True, announce: bool = True) -> Screen:
        """Show the screen `name`; `remember` lets 返回 come back to the current one."""
        target = self.screen_named(name)
        if name == "home":
            self._arriving_home()
            remember = False
        if self.current is not None and remember and self.current is not target:
            self._history.append(self.current.name)
        if self.current is not target:
            target.page = 0
            target.message = ""
            self._leave()
        self.current = target
        target.on_enter()
        self._draw(announce)
        return target

    def home(self) -> None:
        """Home, with no way back."""
        self.reset()
        self.show("home", remember=False)

    def reset(self) -> None:
        """No screen on show and no way back (the next screen shown starts afresh)."""
        self._history.clear()
        self._leave()
        self.current = None

    def back(self) -> None:
        """返回: the previous screen, with everything entered still there (home, when there is none)."""
        if self.current is None or not self.current.show_back:
            return
        name = self._history.pop() if self._history else "home"
        if name == "home":
            self.home()  # back to home is home: what arriving home does happens as it does by 首页
            return
        self._return_to(name, announce=True)

    def back_to(self, name: str, *, announce: bool = True) -> Screen:
        """Go back to the earlier screen `name` (dropping the ones after it), everything entered kept."""
        if name == "home":
            self.home()
            assert self.current is not None
            return self.current
        while self._history and self._history[-1] != name:
            self._history.pop()
        if self._history:
            self._history.pop()
        return self._return_to(name, announce=announce)

    def _return_to(self, name: str, *, announce: bool) -> Screen:
        target = self.screen_named(name)
        target.message = ""
        if self.current is not target:
            self._leave()
        self.current = target
        target.on_enter()
        self._draw(announce)
        return target

    def _leave(self) -> None:
        if self.current is not None:
            self.current.on_leave()

    def clear_history(self) -> None:
        self._history.clear()
