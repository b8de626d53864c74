"""The course hub: a real JupyterHub for the course, for ``make hub`` and the browser tests.

The hub's configuration is ``deploy/jupyterhub/`` (what an administrator deploys); this package
prepares what it needs on this machine and runs it: system accounts (:mod:`.accounts`), the
exchange with its permissions (:mod:`.exchange`), the settings file the configuration reads
(:mod:`.settings`), and the hub process itself (:mod:`.run`).
"""

from .settings import HubSettings

__all__ = ["HubSettings"]
