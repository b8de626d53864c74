"""nbgrader on the course hub, for every user of the students' environment (its etc/jupyter).

The multi-course setup of nbgrader's JupyterHub documentation: courses come from JupyterHub groups
(``nbgrader-<course>`` for students, ``formgrade-<course>`` for graders) through the JupyterHub
auth plugin, and the exchange lives on storage every single-user server sees.

Where a student's assignment folder is: the course is distributed with nbgitpuller, which clones
the student repository into ``~/<repository>``, so a chapter is ``~/<repository>/release/<chapter>``.
``Exchange.assignment_dir`` points there (the hub passes ``COURSE_ASSIGNMENT_DIR``) and the path
does not repeat the course id (``path_includes_course``): the repository folder already keeps
each course apart, and the assignment list submits exactly the notebook the student worked in.
"""

import os

from nbgrader.auth import JupyterHubAuthPlugin

c = get_config()  # noqa: F821 - provided by nbgrader

c.Authenticator.plugin_class = JupyterHubAuthPlugin
c.Exchange.root = os.environ.get("COURSE_EXCHANGE_ROOT", "/srv/nbgrader/exchange")
c.Exchange.path_includes_course = False
if os.environ.get("COURSE_ASSIGNMENT_DIR"):
    c.Exchange.assignment_dir = os.environ["COURSE_ASSIGNMENT_DIR"]
if os.environ.get("COURSE_ID"):
    c.CourseDirectory.course_id = os.environ["COURSE_ID"]
