"""carepath: care pathways for a maternity hospital's pregnancy school and prenatal care."""

__version__ = "0.1.0"
