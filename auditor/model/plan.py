"""What one target's configured rules need collected: the contract between packs and collectors."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from auditor.model.facts import FactFamily, SecurableType


class SecurableRef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: SecurableType
    full_name: str


class CollectionPlan(BaseModel):
    """The facts the bound rules of one target read, and nothing more.

    Collectors read grants on every securable in ``securables`` *and on its ancestors* (grants are
    inherited catalog -> schema -> table), existence and metadata of the same, and every grant in
    each of ``watched_catalogs`` with bulk reads (one statement per view, not one call per object).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    families: frozenset[FactFamily] = frozenset()
    securables: frozenset[SecurableRef] = frozenset()
    watched_catalogs: frozenset[str] = frozenset()
    # every grant to these principals anywhere in the metastore (GRANTS scope ``principal:<name>``),
    # for excess-privilege checks: one statement per information_schema view on the SQL path
    grant_sweep_principals: frozenset[str] = frozenset()
    warehouses: frozenset[str] = frozenset()
    principals: frozenset[str] = frozenset()
    storage_credentials: frozenset[str] = frozenset()
    external_locations: frozenset[str] = frozenset()
    role_arns: frozenset[str] = frozenset()  # roles named explicitly; roles behind credentials are added
    workspace_conf_keys: frozenset[str] = frozenset()
    needs_hive_metastore: bool = False  # some securable lives in hive_metastore: only SQL can read it

    def merge(self, other: CollectionPlan) -> CollectionPlan:
        return CollectionPlan(
            families=self.families | other.families,
            securables=self.securables | other.securables,
            watched_catalogs=self.watched_catalogs | other.watched_catalogs,
            grant_sweep_principals=self.grant_sweep_principals | other.grant_sweep_principals,
            warehouses=self.warehouses | other.warehouses,
            principals=self.principals | other.principals,
            storage_credentials=self.storage_credentials | other.storage_credentials,
            external_locations=self.external_locations | other.external_locations,
            role_arns=self.role_arns | other.role_arns,
            workspace_conf_keys=self.workspace_conf_keys | other.workspace_conf_keys,
            needs_hive_metastore=self.needs_hive_metastore or other.needs_hive_metastore,
        )
