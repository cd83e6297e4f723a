"""The secrets key: the Fernet key that block secrets are encrypted with where they are stored.

The key is the storing side's: the server's (a client sends and reads secrets in plaintext over
the API, as Prefect's does), or the process's own for the embedded database. It is
TRANSOM_SECRETS_KEY when set, else TRANSOM_HOME/secrets.key, made on the first save of a secret
(readable by its owner only: `platform.private_files`). A malformed, missing or changed key is
SecretsKeyError: one sentence, never a traceback.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from transom.exceptions import SecretsKeyError
from transom.platform.private_files import create_private_file
from transom.platform.system import current_platform
from transom.settings import Settings

__all__ = ["KEY_FILE", "SecretBox"]

KEY_FILE = "secrets.key"


class SecretBox:
    """Encrypts and decrypts JSON values with the key of one backend's settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._fernet: Fernet | None = None

    def _where(self) -> str:
        return ("TRANSOM_SECRETS_KEY" if self.settings.secrets_key
                else str(self.settings.home / KEY_FILE))

    def _key(self, *, create: bool) -> Fernet:
        if self._fernet is not None:
            return self._fernet
        raw = self.settings.secrets_key
        if not raw:
            path = self.settings.home / KEY_FILE
            try:
                raw = path.read_text(encoding="ascii").strip()
            except FileNotFoundError:
                if not create:
                    raise SecretsKeyError(
                        f"no secrets key at {path} (nor TRANSOM_SECRETS_KEY): the stored "
                        "secrets cannot be read without the key they were saved with") from None
                try:
                    create_private_file(path, Fernet.generate_key() + b"\n",
                                        platform=current_platform())
                except OSError as exc:
                    raise SecretsKeyError(f"cannot make the secrets key {path} "
                                          f"({exc.strerror or exc}); set TRANSOM_SECRETS_KEY "
                                          "or make TRANSOM_HOME writable") from None
                raw = path.read_text(encoding="ascii").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise SecretsKeyError(f"cannot read the secrets key {path} "
                                      f"({getattr(exc, 'strerror', None) or exc})") from None
        try:
            self._fernet = Fernet(raw.encode("ascii", "replace"))
        except ValueError:
            raise SecretsKeyError(f"the secrets key of {self._where()} is not a Fernet key "
                                  "(32 url-safe base64-encoded bytes; make one with "
                                  "`python -c \"from cryptography.fernet import Fernet; "
                                  "print(Fernet.generate_key().decode())\"`)") from None
        return self._fernet

    def encrypt(self, value: Any) -> str:
        """`value` as JSON, encrypted (a Fernet token: text)."""
        data = json.dumps(value, allow_nan=False).encode("ascii")  # (lone surrogates escaped)
        return self._key(create=True).encrypt(data).decode("ascii")

    def decrypt(self, token: str, what: str) -> Any:
        """The JSON value of `token`; SecretsKeyError if this key did not encrypt it."""
        try:
            data = self._key(create=False).decrypt(token.encode("ascii"))
        except InvalidToken:
            raise SecretsKeyError(
                f"the secrets of {what} cannot be decrypted with the key of {self._where()}: "
                "it is not the key they were saved with (restore that key, or save the "
                "block again)") from None
        return json.loads(data.decode("utf-8"))

