"""Installs the gpa package (dependencies: requirements.txt via tools/setup_env.sh)."""
from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="gpa",
    version="0.1.0",
    description="Generalization-preserving adaptation of vision-language models for open-vocabulary segmentation",
    long_description=(Path(__file__).parent / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(include=["gpa", "gpa.*"]),
    package_data={"gpa": ["**/*.txt", "**/*.json", "**/*.yaml"]},
    include_package_data=True,
)
