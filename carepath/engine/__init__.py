"""The pure domain core: importable without Flask or a database, never reads the wall clock."""
