.PHONY: run test lint fmt bench services replica stop

run:  ## install what is missing, start PostgreSQL + Redis under .local/, serve on 127.0.0.1:8000
	@scripts/dev.sh run

test:  ## the same bootstrap, then ruff, checks, migrations check, OpenAPI schema, mypy and pytest
	@scripts/dev.sh test $(ARGS)

services:  ## start the local PostgreSQL + Redis and leave them running
	@scripts/dev.sh bootstrap

replica:  ## create (once) and start a streaming read replica of the local PostgreSQL, on OLLAMANET_REPLICA_PORT
	@scripts/dev.sh replica

stop:  ## stop the local PostgreSQL (and its replica) + Redis
	@scripts/dev.sh stop

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

fmt:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

bench:
	@scripts/dev.sh bench
