"""Dates and times as the site writes them ("4 Dec 2026, 13:05"), for what Django formats itself (the
admin's lists and forms): its British defaults use the 12-hour clock ("1:05 p.m.")."""

DATETIME_FORMAT = "j M Y, H:i"
TIME_FORMAT = "H:i"
SHORT_DATETIME_FORMAT = "d/m/Y H:i"
