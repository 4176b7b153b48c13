"""Accessibility: profiles (modes), speech out, voice in, spoken numbers, announcements. Never imports kiosk.ui."""
