"""The version of Transom: one place, imported by the package, the server and the client."""

__version__ = "0.1.0"
