"""The coaching log: sessions and manual entries by date, client, type, paid or pro bono,
with totals in hours, as coaches report them for their credentials."""
