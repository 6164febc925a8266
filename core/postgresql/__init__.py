"""The project's PostgreSQL database backend (`ENGINE = "core.postgresql"`); see `base`."""
