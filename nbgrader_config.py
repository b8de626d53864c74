"""nbgrader settings for generating the student release from source/ (the course root is here).

Grading a class uses its own course folder and gradebook (see autograder/); this file only
serves `make release`, whose throwaway gradebook lives under .state/.
"""

from pathlib import Path

c = get_config()  # noqa: F821 - provided by nbgrader

here = Path(__file__).resolve().parent
c.CourseDirectory.root = str(here)
c.CourseDirectory.course_id = "optimizers"
(here / ".state").mkdir(exist_ok=True)
c.CourseDirectory.db_url = f"sqlite:///{here / '.state' / 'release-gradebook.db'}"
# Released notebooks carry no outputs: nothing computed by a solution reaches students.
c.ClearOutput.enabled = True
