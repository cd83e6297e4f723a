"""Helpers of scripts/windows-lane: the Windows test lane under Wine (see that script)."""

__all__: list[str] = []
