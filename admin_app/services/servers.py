"""The catalogue follows the Ollama servers: a model any server holds is installed, one none holds is
not (pulled or deleted outside OllamaNet included). Run by the `sync_inference` beat task, by
`POST /api/v1/admin/inference/sync/` and by `manage.py sync_catalogue`."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.audit import audit_record
from core.ollama import pool
from models_app import services as catalogue

CATALOGUE_SYNCED = "inference_catalogue_synced"


@dataclass(frozen=True)
class CatalogueSync:
    """The servers as checked, and what the catalogue's install status changed to (names)."""

    servers: list[pool.ServerState]
    synced: bool
    installed: list[str] = field(default_factory=list)
    not_installed: list[str] = field(default_factory=list)


def catalogue_sync(*, force: bool = False, record: bool = False) -> CatalogueSync:
    """Check the servers (those due, or all with `force`), then set the catalogue's install status
    from what they hold. Nothing changes while no server's listing is known (every server down since
    its state was last stored): an outage does not uninstall the catalogue. With `record`, a staff
    action, an audit event lists the changes (each model's change is recorded by the triggers too).
    """
    checked = pool.refresh_servers(force=force)
    names = checked.installed_names()
    if names is None:
        return CatalogueSync(servers=checked.states, synced=False)
    changes = catalogue.aimodel_install_states_sync(installed_names=names)
    if record:
        audit_record(
            action=CATALOGUE_SYNCED,
            target_type="ollama.pool",
            after={"installed": changes.installed, "not_installed": changes.not_installed},
        )
    return CatalogueSync(
        servers=checked.states, synced=True, installed=changes.installed, not_installed=changes.not_installed
    )
