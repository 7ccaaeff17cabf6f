"""The build's one compiled part, optional: everything else is in pyproject.toml.

``trailsmith.ingestion._fastdecode`` (the compiled decoder of plain CloudTrail log files) is built where a C
compiler and Python's headers exist; where they do not, ``optional=True`` lets the install go on without it
and ingest reads every file with the Python decoder, with the same result.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "trailsmith.ingestion._fastdecode",
            ["engine/ingestion/_fastdecode.c"],
            extra_compile_args=["-O2", "-std=c11"],
            optional=True,
        )
    ]
)
