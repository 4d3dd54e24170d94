"""Input mid-task over real HTTP: ctx.elicit() becomes inputRequests, answered with tasks/update."""

from __future__ import annotations

from helpers import Client, elicit_accept, text_of


def test_elicit_inside_a_task_round_trips_through_tasks_update(client: Client) -> None:
    task_id = client.start_task("ask_name")
    task = client.wait_for(task_id, ("input_required",))
    [(key, request)] = task["inputRequests"].items()
    assert request["method"] == "elicitation/create"
    assert request["params"]["message"] == "Please enter your name."
    assert "name" in request["params"]["requestedSchema"]["properties"]
    # Polling again shows the same outstanding request under the same key.
    assert client.get(task_id)["inputRequests"] == {key: request}

    assert client.update(task_id, {key: elicit_accept(name="Luca")})["resultType"] == "complete"
    done = client.wait_for(task_id)
    assert done["status"] == "completed"
    assert text_of(done["result"]) == "Hello, Luca!"


def test_two_concurrent_questions_partial_answers_and_ignored_keys(client: Client) -> None:
    task_id = client.start_task("ask_two")
    task = client.wait_until_task(
        task_id,
        lambda t: t["status"] == "input_required" and len(t.get("inputRequests", {})) == 2,
        "both questions to be outstanding",
    )
    requests = task["inputRequests"]
    by_message = {r["params"]["message"]: k for k, r in requests.items()}
    name_key, color_key = by_message["Your name?"], by_message["Favourite colour?"]
    assert name_key != color_key
    assert all(r["method"] == "elicitation/create" for r in requests.values())

    # Unknown keys are ignored: an ack, no error, nothing changes.
    assert client.update(task_id, {"never-issued": elicit_accept(name="Mallory")})["resultType"] == "complete"
    same = client.get(task_id)
    assert same["status"] == "input_required"
    assert same["inputRequests"] == requests

    # A partial answer: the task stays input_required with only the other key.
    client.update(task_id, {name_key: elicit_accept(name="Ada")})
    partial = client.get(task_id)
    assert partial["status"] == "input_required"
    assert set(partial["inputRequests"]) == {color_key}

    # Answering the same key again is ignored: the first answer stands.
    assert client.update(task_id, {name_key: elicit_accept(name="Mallory")})["resultType"] == "complete"
    assert set(client.get(task_id)["inputRequests"]) == {color_key}

    client.update(task_id, {color_key: elicit_accept(color="green")})
    done = client.wait_for(task_id)
    assert done["status"] == "completed"
    assert text_of(done["result"]) == "Ada likes green"


def test_keys_are_unique_over_the_task_lifetime(client: Client) -> None:
    task_id = client.start_task("ask_twice")
    first = client.wait_for(task_id, ("input_required",))["inputRequests"]
    [(key1, req1)] = first.items()
    assert req1["params"]["message"] == "First name?"
    client.update(task_id, {key1: elicit_accept(name="Grace")})

    second = client.wait_until_task(
        task_id,
        lambda t: t["status"] == "input_required" and key1 not in t["inputRequests"],
        "the second question",
    )["inputRequests"]
    [(key2, req2)] = second.items()
    assert req2["params"]["message"] == "Last name?"
    assert key2 != key1
    # An answer to the first (already answered) key does not satisfy the second question.
    client.update(task_id, {key1: elicit_accept(name="Wrong")})
    assert client.get(task_id)["inputRequests"] == {key2: req2}

    client.update(task_id, {key2: elicit_accept(name="Hopper")})
    assert text_of(client.wait_for(task_id)["result"]) == "Grace Hopper"


def test_unanswered_input_times_out_and_fails_the_task(client: Client) -> None:
    task_id = client.start_task("impatient")  # input_timeout_s=0.5
    failed = client.wait_for(task_id)
    assert failed["status"] == "failed"
    message = failed["statusMessage"]
    assert "gave up waiting" in message or "waited" in message, message
    assert failed["error"]["message"] == message
    assert failed["error"]["code"] == -32050  # INPUT_TIMEOUT, outside the codes the core spec reserves
    assert "inputRequests" not in failed
    assert "result" not in failed


def test_declined_elicitation_reaches_the_tool(client: Client) -> None:
    task_id = client.start_task("ask_name")
    [key] = client.wait_for(task_id, ("input_required",))["inputRequests"]
    client.update(task_id, {key: {"action": "decline"}})
    assert text_of(client.wait_for(task_id)["result"]) == "no name (decline)"
