"""The county's view (issue 18): levels and scopes, unmet demand, the weekly dashboard, satisfaction, the needs
profile and the third-party evaluation export. Pure functions over a SQLAlchemy connection, for both databases;
every query takes a `Scope`, so a township account never reads another township's rows."""
