"""nbgrader configuration of the minioptim course.

Run every ``nbgrader`` command from this folder (the course root), e.g.
``nbgrader generate_assignment adam``. Everything nbgrader writes (release/, submitted/,
autograded/, feedback/, gradebook.db, nbgrader.log) lands next to this file and is git-ignored.
The settings shared with the students' side (the exchange folder, ``$MINIOPTIM_EXCHANGE``;
nbgrader's helper programs found without activating the environment) are in
``minioptim/course.py``.
"""
import os

try:
    from minioptim.course import configure_nbgrader
except ImportError as exc:
    raise ImportError(f"the minioptim course needs minioptim in the Python that runs nbgrader "
                      f"({exc}); install it there: pip install -e '.[course]'") from None

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

HERE = os.path.dirname(os.path.abspath(__file__))

configure_nbgrader(c)
c.CourseDirectory.course_id = "minioptim"
c.CourseDirectory.root = HERE
c.CourseDirectory.source_directory = "source"        # the instructor's notebooks (in git)
c.CourseDirectory.release_directory = "release"      # what students get
c.CourseDirectory.submitted_directory = "submitted"  # submitted/<student>/<assignment>/
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "gradebook.db")

# Autograding runs each notebook headless in a fresh kernel of the notebook's kernelspec
# ("python3": the ipykernel of the Python that runs nbgrader).
c.Execute.timeout = 120                  # seconds per cell; the whole adam notebook takes ~3 s
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# A test cell the student deleted is put back (with a note) and graded, instead of being lost.
c.OverwriteCells.add_missing_cells = True

# Students are created in the gradebook when their first submission is autograded.
c.Autograde.create_student = True
