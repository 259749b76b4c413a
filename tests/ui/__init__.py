"""Browser tests (JupyterLab 4 / Notebook 7 in headless Chromium); a package so its module names stay unique."""
