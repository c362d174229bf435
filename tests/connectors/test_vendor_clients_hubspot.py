"""HubSpot's own Python client (`hubspot-api-client`) against the HubSpot emulator.

Every endpoint syncer's HubSpot connector calls (connectors/hubspot/fields.py, tasks.py, schema.py)
is driven through HubSpot's generated API classes, so the emulator's request and response shapes
must parse into HubSpot's models (which validate required fields and enums client-side). If a
model can't read an answer, the emulator is wrong, not the model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from hubspot.crm.associations.v4.schema.models import CollectionResponseAssociationSpecWithLabelNoPaging
from hubspot.crm.companies import ApiException
from hubspot.crm.companies.models import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    BatchResponseSimplePublicObject,
    BatchResponseSimplePublicUpsertObject,
    BatchResponseSimplePublicUpsertObjectWithErrors,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
)
from hubspot.crm.objects.tasks import models as task_models
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.hubspot.emulator_store import CrmStore

from hubspot import Client

TOKEN = "vendor-client-token"


@pytest.fixture(scope="module")
def running() -> Iterator[HubSpotEmulator]:
    emu = HubSpotEmulator(token=TOKEN, plan="increase")
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
def hubspot(running: HubSpotEmulator) -> HubSpotEmulator:
    running.store = CrmStore(clock_iso=running.store.clock_iso)
    running.owners.clear()
    running.associations.clear()
    running.store.define("companies", "syncer_account_id", "string", unique=True)
    running.store.define("companies", "pql_score", "number")
    running.store.define("companies", "pql_tier", "enumeration", options=["hot", "warm", "cold"])
    running.store.define("tasks", "syncer_key", "string", unique=True)
    return running


@pytest.fixture
def client(hubspot: HubSpotEmulator) -> Client:
    # client_side_validation: the generated models then refuse a missing required field or an unknown enum value
    return Client.create(access_token=TOKEN, host=hubspot.base_url, retry=None, client_side_validation=True)


def upsert_inputs(*rows: tuple[str, dict[str, str]], traced: bool = True) -> Any:
    return BatchInputSimplePublicObjectBatchInputUpsert(
        inputs=[
            SimplePublicObjectBatchInputUpsert(
                id=key,
                id_property="syncer_account_id",
                properties=props,
                object_write_trace_id=str(i) if traced else None,
            )
            for i, (key, props) in enumerate(rows)
        ]
    )


def test_properties_parse_into_hubspot_models(client: Client) -> None:
    every = client.crm.properties.core_api.get_all(object_type="companies")
    by_name = {p.name: p for p in every.results}
    tier = by_name["pql_tier"]
    assert (tier.type, tier.field_type, [o.value for o in tier.options]) == (
        "enumeration",
        "select",
        ["hot", "warm", "cold"],
    )
    assert by_name["syncer_account_id"].has_unique_value is True
    assert by_name["hs_object_id"].modification_metadata.read_only_value is True
    key = client.crm.properties.core_api.get_by_name(object_type="tasks", property_name="syncer_key")
    assert (key.name, key.type, key.has_unique_value) == ("syncer_key", "string", True)


def test_batch_upsert_200_and_207_parse(client: Client) -> None:
    api = client.crm.companies.batch_api
    done = api.upsert(upsert_inputs(("acct-1", {"pql_score": "80"}), ("acct-2", {"pql_tier": "hot"})))
    assert isinstance(done, BatchResponseSimplePublicUpsertObject) and done.status == "COMPLETE"
    assert sorted((r.properties["syncer_account_id"], r.new) for r in done.results) == [
        ("acct-1", True),
        ("acct-2", True),
    ]
    partial = api.upsert(upsert_inputs(("acct-1", {"pql_score": "81"}), ("acct-3", {"pql_score": "nan"})))
    assert isinstance(partial, BatchResponseSimplePublicUpsertObjectWithErrors)
    assert partial.num_errors == 1 and [r.new for r in partial.results] == [False]
    [error] = partial.errors
    assert (error.category, error.context["objectWriteTraceId"]) == ("VALIDATION_ERROR", ["1"])
    assert [(d.code, d._in) for d in error.errors] == [("INVALID_DECIMAL", "pql_score")]


def test_a_refused_batch_answers_hubspots_error_model(client: Client) -> None:
    api = client.crm.companies.batch_api
    with pytest.raises(ApiException) as refused:
        api.upsert(upsert_inputs(("acct-1", {"pql_score": "1e-07"}), traced=False))
    assert refused.value.status == 400
    error = api.api_client.deserialize(SimpleNamespace(data=refused.value.body), "Error")
    assert error.category == "VALIDATION_ERROR" and error.correlation_id
    assert error.message.startswith("Property values were not valid")
    assert [(d.code, d._in) for d in error.errors] == [("INVALID_DECIMAL", "pql_score")]
    assert json.loads(refused.value.body)["status"] == "error"


def test_batch_read_update_create_archive_parse(client: Client) -> None:
    api = client.crm.companies.batch_api
    api.upsert(upsert_inputs(("acct-1", {"pql_score": "10"})))
    read = api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id="acct-1"), SimplePublicObjectId(id="acct-missing")],
            id_property="syncer_account_id",
            properties=["pql_score"],
            properties_with_history=[],
        )
    )
    [found] = read.results
    assert found.properties["pql_score"] == "10" and read.errors[0].context["ids"] == ["acct-missing"]
    updated = api.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[SimplePublicObjectBatchInput(id=found.id, properties={"pql_tier": "warm"})]
        )
    )
    assert isinstance(updated, BatchResponseSimplePublicObject) and updated.results[0].properties["pql_tier"] == "warm"
    created = api.create(
        BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[SimplePublicObjectBatchInputForCreate(properties={"syncer_account_id": "acct-9"}, associations=[])]
        )
    )
    assert isinstance(created, BatchResponseSimplePublicObject) and created.results[0].id
    archived = api.archive(BatchInputSimplePublicObjectId(inputs=[SimplePublicObjectId(id=created.results[0].id)]))
    assert archived is None


def test_search_parses(client: Client) -> None:
    client.crm.companies.batch_api.upsert(upsert_inputs(*[(f"acct-{i}", {"pql_tier": "hot"}) for i in range(3)]))
    request = PublicObjectSearchRequest(
        filter_groups=[FilterGroup(filters=[Filter(property_name="pql_tier", operator="EQ", value="hot")])],
        properties=["syncer_account_id"],
        limit=2,
        after="0",
        sorts=[],
    )
    page = client.crm.companies.search_api.do_search(public_object_search_request=request)
    assert page.total == 3 and len(page.results) == 2 and page.paging.next.after == "2"


def test_tasks_owners_and_association_labels_parse(client: Client, hubspot: HubSpotEmulator) -> None:
    owner_id = hubspot.add_owner("ae@example.com")
    owners = client.crm.owners.owners_api.get_page(email="ae@example.com", limit=1)
    assert [(o.id, o.email, o.type) for o in owners.results] == [(owner_id, "ae@example.com", "PERSON")]
    labels = client.crm.associations.v4.schema.definitions_api.get_all(
        from_object_type="tasks", to_object_type="companies"
    )
    assert isinstance(labels, CollectionResponseAssociationSpecWithLabelNoPaging)
    assert [(x.category, x.type_id) for x in labels.results] == [("HUBSPOT_DEFINED", 192)]
    company = client.crm.companies.batch_api.upsert(upsert_inputs(("acct-1", {}))).results[0]
    association = task_models.PublicAssociationsForObject(
        to=task_models.PublicObjectId(id=company.id),
        types=[task_models.AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=192)],
    )
    properties = {
        "hs_timestamp": "2026-03-08T23:30:00.000Z",
        "hs_task_subject": "Call Acme",
        "hs_task_status": "NOT_STARTED",
        "hs_task_priority": "HIGH",
        "hubspot_owner_id": owner_id,
        "syncer_key": "syncer-abc",
    }
    tasks = client.crm.objects.tasks.batch_api
    created = tasks.create(
        task_models.BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[
                task_models.SimplePublicObjectBatchInputForCreate(properties=properties, associations=[association])
            ]
        )
    )
    task_id = created.results[0].id
    assert hubspot.associated("tasks", task_id, "companies") == [(company.id, 192)]
    read = tasks.read(
        task_models.BatchReadInputSimplePublicObjectId(
            inputs=[task_models.SimplePublicObjectId(id="syncer-abc")],
            id_property="syncer_key",
            properties=["hs_task_status"],
            properties_with_history=[],
        )
    )
    assert read.results[0].id == task_id
    updated = tasks.update(
        task_models.BatchInputSimplePublicObjectBatchInput(
            inputs=[
                task_models.SimplePublicObjectBatchInput(
                    id=task_id, properties={"hs_task_priority": "LOW"}, object_write_trace_id="0"
                )
            ]
        )
    )
    assert updated.results[0].properties["hs_task_priority"] == "LOW"
    search = task_models.PublicObjectSearchRequest(
        filter_groups=[
            task_models.FilterGroup(
                filters=[task_models.Filter(property_name="syncer_key", operator="IN", values=["syncer-abc"])]
            )
        ],
        properties=["syncer_key", "hs_task_status"],
        limit=100,
        after="0",
        sorts=[],
    )
    found = client.crm.objects.tasks.search_api.do_search(public_object_search_request=search)
    assert [r.id for r in found.results] == [task_id]
    tasks.archive(task_models.BatchInputSimplePublicObjectId(inputs=[task_models.SimplePublicObjectId(id=task_id)]))


def test_contacts_upsert_by_email_parses(client: Client) -> None:
    from hubspot.crm.contacts import models as contact_models

    body = contact_models.BatchInputSimplePublicObjectBatchInputUpsert(
        inputs=[
            contact_models.SimplePublicObjectBatchInputUpsert(
                id="Ada@Example.com", id_property="email", properties={"firstname": "Ada"}
            )
        ]
    )
    answer = client.crm.contacts.batch_api.upsert(body)
    assert answer.results[0].new is True and answer.results[0].properties["email"] == "Ada@Example.com"
