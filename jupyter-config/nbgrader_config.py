"""nbgrader settings of the minioptim course for everyone using this environment.

Installing minioptim (a regular install, not ``-e``) puts this file into the environment as
``<env>/etc/jupyter/nbgrader_config.py``, so that every nbgrader of the environment (a student's
``nbgrader fetch_assignment adam --course minioptim``, JupyterLab's Assignments tab) uses the
course's exchange folder (``$MINIOPTIM_EXCHANGE``; see ``minioptim/course.py``) with no extra
flags.
"""
try:
    from minioptim.course import configure_nbgrader
except ImportError:         # minioptim was removed from this environment: nothing to set
    pass
else:
    configure_nbgrader(get_config())  # noqa: F821 (provided by traitlets when it loads this file)
