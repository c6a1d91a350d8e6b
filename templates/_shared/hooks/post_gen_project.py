"""Removes the parts of the project that were not asked for."""

import shutil

if "{{ cookiecutter.include_notebook }}" != "yes":
    shutil.rmtree("notebooks")
if "{{ cookiecutter.include_tuning_job }}" != "yes":
    shutil.rmtree("tuning")
