"""The workspace's credentials: personal access tokens and their ACL, service principals' OAuth secrets and the
access tokens issued for them (and who a request authenticates as), storage credentials and external locations."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta

from auditor_sandbox.entities import (
    NO_CREDENTIAL,
    AclEntry,
    Connection,
    ExternalLocation,
    Identity,
    OAuthSecret,
    SandboxError,
    StorageCredential,
    Token,
)
from auditor_sandbox.state.clock import Clock
from auditor_sandbox.state.clock import name_key as _key
from auditor_sandbox.state.directory import Directory


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Credentials:
    """Secrets that authenticate principals, and the cloud credentials Unity Catalog governs."""

    def __init__(
        self, lock: threading.RLock, clock: Clock, directory: Directory, *, oauth_token_lifetime_seconds: int
    ) -> None:
        self.lock = lock
        self._clock = clock
        self._directory = directory
        self.oauth_token_lifetime_seconds = oauth_token_lifetime_seconds
        self.token_acl: tuple[AclEntry, ...] = ()
        self._storage_credentials: dict[str, StorageCredential] = {}
        self._external_locations: dict[str, ExternalLocation] = {}
        self._connections: dict[str, Connection] = {}
        self._tokens: dict[str, Token] = {}  # by token id
        self._tokens_by_value: dict[str, str] = {}
        self._oauth_secrets: dict[str, OAuthSecret] = {}  # by secret id
        self._access_tokens: dict[str, tuple[str, datetime]] = {}  # value -> (application id, expiry)

    # -- storage credentials and external locations ---------------------------------------------------------

    def add_storage_credential(self, credential: StorageCredential) -> StorageCredential:
        """Add a storage credential (its `id` may be empty: one is assigned)."""
        with self.lock:
            key = _key(credential.name)
            if key in self._storage_credentials:
                raise SandboxError("STORAGE_CREDENTIAL_ALREADY_EXISTS", f"'{credential.name}' exists.", 409)
            if not credential.id:
                credential = replace(credential, id=self._clock.new_id("storage_credential", key))
            self._storage_credentials[key] = credential
            return credential

    def add_external_location(self, location: ExternalLocation) -> ExternalLocation:
        """Add an external location; its credential must exist."""
        with self.lock:
            key = _key(location.name)
            if key in self._external_locations:
                raise SandboxError("EXTERNAL_LOCATION_ALREADY_EXISTS", f"'{location.name}' exists.", 409)
            if _key(location.credential_name) not in self._storage_credentials:
                raise SandboxError.not_found(f"Storage credential '{location.credential_name}' does not exist.")
            if not location.id:
                location = replace(location, id=self._clock.new_id("external_location", key))
            self._external_locations[key] = location
            return location

    def storage_credential(self, name: str) -> StorageCredential | None:
        """The storage credential of that name, or None."""
        with self.lock:
            return self._storage_credentials.get(_key(name))

    def external_location(self, name: str) -> ExternalLocation | None:
        """The external location of that name, or None."""
        with self.lock:
            return self._external_locations.get(_key(name))

    def list_storage_credentials(self) -> list[StorageCredential]:
        """Every storage credential, in creation order."""
        with self.lock:
            return list(self._storage_credentials.values())

    def list_external_locations(self) -> list[ExternalLocation]:
        """Every external location, in creation order."""
        with self.lock:
            return list(self._external_locations.values())

    def add_connection(self, connection: Connection) -> Connection:
        """Add a foreign connection."""
        with self.lock:
            key = _key(connection.name)
            if key in self._connections:
                raise SandboxError("CONNECTION_ALREADY_EXISTS", f"Connection '{connection.name}' already exists.", 409)
            self._connections[key] = connection
            return connection

    def connection(self, name: str) -> Connection | None:
        """The connection of that name, or None."""
        with self.lock:
            return self._connections.get(_key(name))

    def list_connections(self) -> list[Connection]:
        """Every connection, in creation order."""
        with self.lock:
            return list(self._connections.values())

    def set_owner(self, kind: str, name: str, owner: str) -> bool:
        """Transfer an external location's or storage credential's ownership; False if there is no such one."""
        key = _key(name)
        with self.lock:
            if kind == "EXTERNAL_LOCATION" and key in self._external_locations:
                self._external_locations[key] = replace(self._external_locations[key], owner=owner)
            elif kind == "STORAGE_CREDENTIAL" and key in self._storage_credentials:
                self._storage_credentials[key] = replace(self._storage_credentials[key], owner=owner)
            else:
                return False
            return True

    def display_name(self, kind: str, key: str) -> str | None:
        """The stored name of the external location, storage credential or connection with that key, or None."""
        if kind == "EXTERNAL_LOCATION" and key in self._external_locations:
            return self._external_locations[key].name
        if kind == "STORAGE_CREDENTIAL" and key in self._storage_credentials:
            return self._storage_credentials[key].name
        if kind == "CONNECTION" and key in self._connections:
            return self._connections[key].name
        return None

    # -- tokens and OAuth secrets ---------------------------------------------------------------------------

    def add_token(
        self,
        owner: str,
        value: str,
        *,
        comment: str | None = None,
        expiry_time: datetime | None = None,
        creation_time: datetime | None = None,
        token_id: str | None = None,
    ) -> Token:
        """Add a personal access token owned by a user or service principal."""
        with self.lock:
            if not self._directory.principal_exists(owner):
                raise SandboxError.not_found(f"Principal {owner} does not exist.")
            if value in self._tokens_by_value:
                raise SandboxError("RESOURCE_ALREADY_EXISTS", "A token with that value already exists.", 409)
            token_id = token_id or hashlib.sha256(f"token:{owner}:{self._clock.sequence()}".encode()).hexdigest()
            token = Token(token_id, owner, value, comment, creation_time or self._clock.anchor, expiry_time)
            self._tokens[token_id] = token
            self._tokens_by_value[value] = token_id
            return token

    def list_tokens(self) -> list[Token]:
        """Every personal access token that is not revoked."""
        with self.lock:
            return [t for t in self._tokens.values() if not t.revoked]

    def revoke_token(self, token_id: str) -> None:
        """Revoke a personal access token: it no longer authenticates nor lists."""
        with self.lock:
            found = self._tokens.get(token_id)
            if found is None:
                raise SandboxError("RESOURCE_DOES_NOT_EXIST", f"Token {token_id} does not exist.", 404)
            self._tokens[token_id] = replace(found, revoked=True)

    def set_token_expiry(self, token_id: str, expiry_time: datetime | None) -> None:
        """Change a token's expiry (None: never expires)."""
        with self.lock:
            found = self._tokens.get(token_id)
            if found is None:
                raise SandboxError("RESOURCE_DOES_NOT_EXIST", f"Token {token_id} does not exist.", 404)
            self._tokens[token_id] = replace(found, expiry_time=expiry_time)

    def add_oauth_secret(
        self,
        application_id: str,
        value: str,
        *,
        expire_time: datetime | None = None,
        status: str = "ACTIVE",
        create_time: datetime | None = None,
    ) -> OAuthSecret:
        """Add an OAuth secret to a service principal."""
        with self.lock:
            if self._directory.service_principal_by_app_id(application_id) is None:
                raise SandboxError.not_found(f"Service principal {application_id} does not exist.")
            secret_id = hashlib.sha256(f"secret:{application_id}:{self._clock.sequence()}".encode()).hexdigest()[:32]
            created = create_time or self._clock.anchor
            secret = OAuthSecret(secret_id, application_id, value, created, created, expire_time, status)
            self._oauth_secrets[secret_id] = secret
            return secret

    def oauth_secrets(self, application_id: str) -> list[OAuthSecret]:
        """A service principal's OAuth secrets."""
        with self.lock:
            return [s for s in self._oauth_secrets.values() if _key(s.application_id) == _key(application_id)]

    def listed_oauth_secrets(self, application_id: str) -> list[OAuthSecret]:
        """The secrets the listing API returns: expired ones left out. Terraform provider
        `tokens/resource_service_principal_secret.go:124`: "in practice API just doesn't return expired tokens"."""
        with self.lock:
            now = self._clock.now()
            return [s for s in self.oauth_secrets(application_id) if s.expire_time is None or s.expire_time > now]

    def issue_access_token(
        self, client_id: str, client_secret: str, *, issuer: str = "sandbox", scope: str = "all-apis"
    ) -> tuple[str, int]:
        """OAuth client-credentials: a JWT-shaped access token and its lifetime in seconds, or 401."""
        with self.lock:
            now = self._clock.now()
            valid = any(
                secrets.compare_digest(s.value, client_secret)
                and s.status == "ACTIVE"
                and (s.expire_time is None or s.expire_time > now)
                for s in self.oauth_secrets(client_id)
            )
            sp = self._directory.service_principal_by_app_id(client_id)
            if not valid or sp is None or not sp.active:
                raise SandboxError("invalid_client", "Client authentication failed.", 401)
            lifetime = self.oauth_token_lifetime_seconds
            expires = now + timedelta(seconds=lifetime)
            header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
            wall = int(time.time())  # clients compare `exp` with their own clock, not the sandbox's
            claims = {
                "iss": issuer,
                "sub": client_id,
                "aud": issuer,
                "scope": scope,
                "iat": wall,
                "exp": wall + lifetime,
                "jti": secrets.token_hex(8),
            }
            token = f"{header}.{_b64(json.dumps(claims).encode())}.{_b64(secrets.token_bytes(16))}"
            self._access_tokens[token] = (client_id, expires)
            return token, lifetime

    def expire_access_tokens(self) -> None:
        """Make every OAuth access token issued so far expired (clients must fetch a new one)."""
        with self.lock:
            past = self._clock.now() - timedelta(seconds=1)
            self._access_tokens = {t: (who, past) for t, (who, _) in self._access_tokens.items()}

    def authenticate(self, authorization_header: str | None) -> Identity:
        """Who a `Bearer` PAT or OAuth access token belongs to. Raises `SandboxError` 401 otherwise."""
        if not authorization_header:
            raise SandboxError.unauthenticated(NO_CREDENTIAL)
        scheme, _, credential = authorization_header.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise SandboxError.unauthenticated(NO_CREDENTIAL)
        with self.lock:
            now = self._clock.now()
            token_id = self._tokens_by_value.get(credential)
            if token_id is not None:
                token = self._tokens[token_id]
                if token.revoked:
                    raise SandboxError.unauthenticated("Invalid access token.")
                if token.expiry_time is not None and token.expiry_time <= now:
                    raise SandboxError.unauthenticated("Token is expired.")
                return self._identity(token.owner, "pat")
            issued = self._access_tokens.get(credential)
            if issued is None:
                raise SandboxError.unauthenticated("Invalid access token.")
            client_id, expires = issued
            if expires <= now:
                raise SandboxError.unauthenticated("Token is expired.")
            return self._identity(client_id, "oauth")

    def _identity(self, principal: str, via: str) -> Identity:
        ref = self._directory.member_ref(principal)
        if ref is None or ref.kind == "group":
            raise SandboxError.unauthenticated("Invalid access token.")
        if ref.kind == "user":
            user = self._directory.user_by_id(ref.id)
            assert user is not None  # member_ref resolved it
            active, name, display = user.active, user.user_name, user.display_name
        else:
            sp = self._directory.service_principal_by_id(ref.id)
            assert sp is not None  # member_ref resolved it
            active, name, display = sp.active, sp.application_id, sp.display_name
        if not active:
            raise SandboxError.unauthenticated(f"User {name} is not active.")
        admin = self._directory.is_admin(name)
        return Identity(name, ref.kind, ref.id, display, admin, "oauth" if via == "oauth" else "pat")
