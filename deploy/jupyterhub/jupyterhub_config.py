"""JupyterHub configuration for the course hub (nbgrader's multi-course setup).

Who is who, as nbgrader's JupyterHub documentation lays it out:

- group ``nbgrader-<course>``: the course's students (and its instructors), who see the course in
  nbgrader's assignment list;
- group ``formgrade-<course>``: the course's graders, who may open the course's formgrader;
- one hub service per course, named after the course: a single-user server run by the course's
  grader account, in the course folder, with the formgrader. Graders reach it at
  ``/services/<course>/``.

Everything that differs between machines comes from a settings file (JSON, its path in
``COURSE_HUB_SETTINGS``) written by ``python -m tools.hub`` (``make hub``) and by the tests; the
keys are those of :class:`tools.hub.settings.HubSettings`. A real deployment writes the same file
once (README.md in this folder says what to choose).
"""

import json
import os
import pwd
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Unicode

c = get_config()  # noqa: F821 - provided by JupyterHub

settings = json.loads(Path(os.environ["COURSE_HUB_SETTINGS"]).read_text())
course = settings["course_id"]
state = Path(settings["state_dir"])
homes = Path(settings["homes_dir"])
env = Path(settings["singleuser_env"])

# -- network: the hub and its proxy on one address, the hub's API on a private port ----------------
c.JupyterHub.bind_url = f"http://{settings['ip']}:{settings['port']}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings["hub_port"]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings['proxy_api_port']}"
c.ConfigurableHTTPProxy.command = [settings["proxy_command"]]
c.ConfigurableHTTPProxy.should_start = True

# -- the hub's own state, never in a home directory -------------------------------------------------
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every single-user server and the proxy
c.JupyterHub.cleanup_proxy = True

# -- who may log in ---------------------------------------------------------------------------------
if settings.get("demo_password"):
    # The demo only: one shared password, no PAM. A real hub sets its campus authenticator here.
    c.JupyterHub.authenticator_class = "dummy"
    c.DummyAuthenticator.password = settings["demo_password"]
c.Authenticator.allowed_users = set(settings["students"]) | set(settings["instructors"])
c.Authenticator.admin_users = set(settings["instructors"])

# -- groups and roles (nbgrader's names: they are how its extensions find a user's courses) ----------
c.JupyterHub.load_groups = {
    f"nbgrader-{course}": {"users": sorted(set(settings["students"]) | set(settings["instructors"]))},
    f"formgrade-{course}": {"users": sorted(settings["instructors"])},
}
c.JupyterHub.load_roles = [
    # a single-user server may ask the hub who its user is and which groups it is in
    {"name": "server", "scopes": ["inherit"]},
    {"name": f"formgrade-{course}", "groups": [f"formgrade-{course}"], "scopes": [f"access:services!service={course}"]},
    {"name": f"nbgrader-{course}", "groups": [f"nbgrader-{course}"],
     "scopes": ["list:services", f"read:services!service={course}"]},
    # the course service reads groups to know the course's students
    {"name": f"{course}-service", "services": [course], "scopes": ["read:users", "read:groups", "list:users"]},
]

# -- the course's formgrader, one service per course --------------------------------------------------
grader = settings["grader"]
c.JupyterHub.services = [
    {
        "name": course,
        "url": f"http://127.0.0.1:{settings['service_port']}",
        "command": [str(env / "bin" / "jupyterhub-singleuser"), f"--ServerApp.root_dir={settings['course_dir']}"],
        "user": grader,
        "cwd": settings["course_dir"],
        "environment": {
            # the account has no home of its own: Jupyter's state goes to the one the hub prepared
            "HOME": str(homes / grader),
            "JUPYTER_DATA_DIR": str(homes / grader / ".local" / "share" / "jupyter"),
            "JUPYTER_RUNTIME_DIR": str(homes / grader / ".local" / "share" / "jupyter" / "runtime"),
            "IPYTHONDIR": str(homes / grader / ".ipython"),
            "MPLCONFIGDIR": str(homes / grader / ".config" / "matplotlib"),
            "JUPYTERHUB_DEFAULT_URL": "/lab",
            "COURSE_EXCHANGE_ROOT": settings["exchange_root"],
            "COURSE_ID": course,
            # the grader's server is the course's formgrader: nbgrader's instructor extensions on
            "JUPYTER_CONFIG_DIR": str(Path(settings["course_dir"]) / ".jupyter"),
            "PATH": f"{env / 'bin'}:/usr/bin:/bin",
        },
        "oauth_no_confirm": True,
    }
]


# -- single-user servers: the user's own system account, in a home the hub prepares ------------------
class CourseSpawner(LocalProcessSpawner):
    """LocalProcessSpawner whose users' homes live under ``homes_dir`` (made 0700 and owned by the user
    before the first start), so a demo or a test never touches the accounts' real home folders."""

    home_template = Unicode("", config=True, help="the user's home; {username} is replaced").tag(config=True)

    def _home(self) -> str:
        return self.home_template.format(username=self.user.name) if self.home_template else pwd.getpwnam(self.user.name).pw_dir

    def make_preexec_fn(self, name):
        switch = super().make_preexec_fn(name)
        home = self._home()

        def preexec():
            switch()
            os.chdir(home)

        return preexec

    def user_env(self, env):
        env = super().user_env(env)
        env["HOME"] = self._home()
        env["COURSE_ASSIGNMENT_DIR"] = str(Path(self._home()) / settings["assignment_dir"])
        return env

    async def start(self):
        home = Path(self._home())
        account = pwd.getpwnam(self.user.name)
        home.mkdir(parents=True, exist_ok=True)
        os.chown(home, account.pw_uid, account.pw_gid)
        home.chmod(0o700)  # a student's files (and nbgrader's submission cache) are theirs alone
        self.notebook_dir = str(home)
        return await super().start()


c.JupyterHub.spawner_class = CourseSpawner
c.CourseSpawner.home_template = str(homes / "{username}")
c.Spawner.cmd = [str(env / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.http_timeout = 120  # a cold JupyterLab on a busy machine
c.Spawner.start_timeout = 180
c.Spawner.environment = {
    "PATH": f"{env / 'bin'}:/usr/bin:/bin",
    "COURSE_EXCHANGE_ROOT": settings["exchange_root"],
    "COURSE_ID": course,
    "NBGITPULLER_APP": "lab",
}
