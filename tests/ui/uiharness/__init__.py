"""Browser-test harness: offline Jupyter servers, notebooks, and a Playwright notebook driver."""

from .notebook_page import NotebookPage
from .notebooks import copy_lessons, find_lesson, lesson_page, write_notebook
from .servers import JupyterServer, jupyter_server

__all__ = ["JupyterServer", "NotebookPage", "copy_lessons", "find_lesson", "jupyter_server", "lesson_page",
           "write_notebook"]
