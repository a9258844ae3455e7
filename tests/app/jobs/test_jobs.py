"""Job mechanics with the generator swapped for a controllable one: idempotency, cancel, failures, the
reaper's retry-once rule and signed webhooks."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from standardwebhooks import Webhook

from duetto.app.core.db import session_scope
from duetto.app.db.models import User, Video
from duetto.app.jobs.reaper import WORKER_LOST, reap_stale_jobs
from duetto.app.main import create_app
from duetto.clip import Clip
from tests.app.servers import add_user, embedded_settings, wait_until

# Generous: only there to end a hung test, on a machine whose cores may be busy elsewhere.
DEADLINE_S = 120


class ControlledGenerator:
    """Steps when told to; records the requests it got."""

    def __init__(self, *, steps: int = 4, fail_with: Exception | None = None) -> None:
        self.steps, self.fail_with = steps, fail_with
        self.release = threading.Event()
        self.started = threading.Event()
        self.requests = []

    def __call__(self, request, progress):  # noqa: ANN001, ANN204
        self.requests.append(request)
        self.started.set()
        for step in range(1, self.steps + 1):
            while not self.release.wait(0.02):
                progress(step - 1, self.steps)  # a cancelled job is noticed here
            progress(step, self.steps)
        if self.fail_with is not None:
            raise self.fail_with
        return Clip(frames=np.zeros((4, 64, 64, 3), np.uint8), audio=np.zeros(8000, np.float32), fps=8.0,
                    sample_rate=16000)


def fake_render(clip: Clip) -> dict[str, bytes]:
    return {"video": b"\x00\x00\x00\x18ftypmp42", "thumbnail": b"RIFF0000WEBP", "spritesheet": b"\xff\xd8\xff"}


@pytest.fixture
def make_client(models_dir: Path, tmp_path: Path):
    clients = []

    def make(generator: ControlledGenerator, **overrides: object) -> tuple[TestClient, dict[str, str], object]:
        settings = embedded_settings(tmp_path, models_dir, **overrides)
        client = TestClient(create_app(settings, generate=generator, render=fake_render))
        client.__enter__()
        clients.append(client)
        _, key = add_user(settings)
        return client, {"Authorization": f"Bearer {key}"}, client.app.state.services

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def wait_status(client: TestClient, auth: dict, video_id: str, *statuses: str) -> dict:
    def check() -> dict | None:
        body = client.get(f"/v1/videos/{video_id}", headers=auth).json()
        return body if body["status"] in statuses else None

    return wait_until(check, timeout=DEADLINE_S, what=f"{video_id} to be {statuses}")


def test_idempotency_key_returns_the_same_job_and_refuses_a_changed_request(make_client) -> None:
    gen = ControlledGenerator()
    gen.release.set()
    client, auth, _ = make_client(gen)
    body = {"prompt": "a ball", "size": "64x64", "seconds": "1"}
    first = client.post("/v1/videos", json=body, headers={**auth, "Idempotency-Key": "k1"}).json()
    again = client.post("/v1/videos", json=body, headers={**auth, "Idempotency-Key": "k1"}).json()
    assert again["id"] == first["id"]
    changed = client.post("/v1/videos", json={**body, "seconds": "2"}, headers={**auth, "Idempotency-Key": "k1"})
    assert changed.status_code == 409 and changed.json()["error"]["code"] == "idempotency_key_reused"
    other = client.post("/v1/videos", json=body, headers=auth).json()
    assert other["id"] != first["id"]
    wait_status(client, auth, first["id"], "completed")
    wait_status(client, auth, other["id"], "completed")
    assert len(gen.requests) == 2  # the replay did not run a second job


def test_delete_cancels_queued_and_running_jobs(make_client) -> None:
    gen = ControlledGenerator()
    client, auth, services = make_client(gen)
    running = client.post("/v1/videos", json={"prompt": "one", "size": "64x64", "seconds": "1"}, headers=auth).json()
    queued = client.post("/v1/videos", json={"prompt": "two", "size": "64x64", "seconds": "1"}, headers=auth).json()
    assert gen.started.wait(10)
    assert client.delete(f"/v1/videos/{queued['id']}", headers=auth).json()["deleted"] is True
    assert client.delete(f"/v1/videos/{running['id']}", headers=auth).json()["deleted"] is True
    assert client.get(f"/v1/videos/{running['id']}", headers=auth).status_code == 404

    def ended() -> bool:
        with session_scope(services.sessions) as session:
            rows = session.scalars(select(Video).where(Video.id.in_([running["id"], queued["id"]]))).all()
            return all(r.status == "failed" and r.error_code == "cancelled" for r in rows)

    wait_until(ended, timeout=DEADLINE_S, what="both jobs to end cancelled")
    assert [r.prompt for r in gen.requests] == ["one"]  # the queued one never ran
    assert not (services.settings.data_dir / "media" / "videos" / running["id"]).exists()


def test_an_engine_exception_fails_the_job_with_a_one_line_error(make_client) -> None:
    gen = ControlledGenerator(fail_with=RuntimeError("CUDA out of memory\nlong traceback text"))
    gen.release.set()
    client, auth, _ = make_client(gen)
    video = client.post("/v1/videos", json={"prompt": "a ball", "size": "64x64", "seconds": "1"}, headers=auth).json()
    body = wait_status(client, auth, video["id"], "failed")
    assert body["error"]["code"] == "generation_failed"
    assert body["error"]["message"] == "Generation failed: RuntimeError: CUDA out of memory"
    assert body["progress"] < 100


def test_progress_is_recorded_per_step(make_client) -> None:
    seen: list[int] = []
    state = {}

    def generator(request, progress):  # noqa: ANN001, ANN202
        for step in range(1, 4):
            progress(step, 3)
            with session_scope(state["services"].sessions) as session:  # what a poller would read now
                seen.append(session.scalar(select(Video.progress)))
        return Clip(frames=np.zeros((4, 64, 64, 3), np.uint8), audio=np.zeros(8000, np.float32), fps=8.0,
                    sample_rate=16000)

    client, auth, state["services"] = make_client(generator)
    video = client.post("/v1/videos", json={"prompt": "a ball", "size": "64x64", "seconds": "1"}, headers=auth).json()
    assert wait_status(client, auth, video["id"], "completed")["progress"] == 100
    assert seen == sorted(seen) and len(set(seen)) == 3 and 5 < seen[0] and seen[-1] < 100


def test_reaper_retries_a_lost_job_once_then_fails_it(make_client) -> None:
    gen = ControlledGenerator()
    client, auth, services = make_client(gen, reaper_interval_s=3600)  # sweeps are driven by hand here
    settings = services.settings
    with session_scope(services.sessions) as session:
        user_id = session.scalar(select(User.id))
        now = time.time()
        for video_id, attempts in (("video_lost1", 1), ("video_lost2", 2), ("video_alive", 1)):
            session.add(Video(id=video_id, user_id=user_id, kind="create", model="toybox-v2", status="in_progress",
                              progress=40, prompt="p", size="64x64", seconds="1", generate_seconds=1.0, params={},
                              cost=0.25, attempts=attempts, worker_id="gone:1:x", created_at=now,
                              heartbeat_at=now - (settings.heartbeat_timeout_s + 5 if video_id != "video_alive" else 0)))
    with session_scope(services.sessions) as session:
        requeued, failed = reap_stale_jobs(session=session, settings=settings)
    assert (requeued, failed) == (["video_lost1"], ["video_lost2"])
    with session_scope(services.sessions) as session:
        rows = {v.id: v for v in session.scalars(select(Video))}
    assert rows["video_lost1"].status == "queued" and rows["video_lost1"].progress == 0
    assert rows["video_lost2"].status == "failed" and rows["video_lost2"].error_code == WORKER_LOST
    assert "stopped responding 2 times" in rows["video_lost2"].error_message
    assert rows["video_alive"].status == "in_progress"
    # A second sweep finds nothing more to do: the decisions are recorded, not repeated.
    with session_scope(services.sessions) as session:
        assert reap_stale_jobs(session=session, settings=settings) == ([], [])


def test_a_job_taken_over_by_the_reaper_is_not_finished_by_its_old_worker(make_client) -> None:
    gen = ControlledGenerator()
    client, auth, services = make_client(gen, reaper_interval_s=3600)
    video = client.post("/v1/videos", json={"prompt": "a ball", "size": "64x64", "seconds": "1"}, headers=auth).json()
    assert gen.started.wait(10)
    with session_scope(services.sessions) as session:  # as if the reaper had requeued it elsewhere
        session.execute(update(Video).where(Video.id == video["id"]).values(worker_id="elsewhere", status="queued"))
    gen.release.set()
    time.sleep(0.5)
    with session_scope(services.sessions) as session:
        row = session.scalar(select(Video).where(Video.id == video["id"]))
    assert (row.status, row.worker_id) == ("queued", "elsewhere")


class Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["content-length"]))
        Receiver.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver():
    Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


@pytest.mark.parametrize("outcome", ["completed", "failed"])
def test_webhooks_are_signed_standard_webhooks(make_client, receiver: str, outcome: str) -> None:
    gen = ControlledGenerator(fail_with=RuntimeError("boom") if outcome == "failed" else None)
    gen.release.set()
    # The receiver listens on loopback: allowed only because this operator setting says so.
    client, auth, services = make_client(gen, webhook_allow_private=True)
    video = client.post("/v1/videos", json={"prompt": "a ball", "size": "64x64", "seconds": "1",
                                            "webhook_url": receiver}, headers=auth).json()
    wait_status(client, auth, video["id"], outcome)
    wait_until(lambda: Receiver.received, timeout=DEADLINE_S, what="the webhook")
    headers, body = Receiver.received[0]
    with session_scope(services.sessions) as session:
        secret = session.scalar(select(User.webhook_secret))
        row = session.scalar(select(Video).where(Video.id == video["id"]))
    event = Webhook(secret).verify(body, headers)
    assert event["type"] == f"video.{outcome}" and event["data"] == {"id": video["id"]}
    assert event["object"] == "event" and event["id"] == headers["webhook-id"]
    wrong = Webhook("whsec_" + "QUJD" * 8)
    with pytest.raises(Exception, match="signature"):
        wrong.verify(body, headers)
    assert json.loads(body)["id"].startswith("evt_")
    wait_until(lambda: _webhook_status(services, video["id"]), timeout=DEADLINE_S, what="delivery record")
    assert _webhook_status(services, video["id"]).startswith("delivered")
    assert row.status == outcome


def _webhook_status(services, video_id: str) -> str | None:  # noqa: ANN001
    with session_scope(services.sessions) as session:
        return session.scalar(select(Video.webhook_status).where(Video.id == video_id))


def test_webhooks_to_private_addresses_are_refused_unless_the_operator_allows_them(make_client,
                                                                                    receiver: str) -> None:
    """A webhook is a request the server makes for a user: pointed at loopback or the operator's network it
    would reach what no user may reach, so it is refused when the job is asked for and again when sent."""
    gen = ControlledGenerator()
    gen.release.set()
    client, auth, services = make_client(gen)
    port = receiver.split(":")[2].split("/")[0]
    for url in (receiver, f"http://localhost:{port}/hook", "http://10.0.0.7/hook", "http://169.254.169.254/latest",
                f"http://[::ffff:127.0.0.1]:{port}/hook"):
        response = client.post("/v1/videos", json={"prompt": "a ball", "size": "64x64", "seconds": "1",
                                                   "webhook_url": url}, headers=auth)
        assert response.status_code == 400, (url, response.text)
        error = response.json()["error"]
        assert error["param"] == "webhook_url" and "DUETTO_WEBHOOK_ALLOW_PRIVATE" in error["message"]
    assert client.get("/v1/videos", headers=auth).json()["data"] == []  # nothing was queued

    # A job recorded while private targets were allowed is still not sent there once they are not.
    from duetto.app.infra.webhooks import deliver

    outcome = deliver(url=receiver, secret="whsec_" + "QUJD" * 8, event_id="evt_1", body="{}", attempts=2,
                      timeout_s=5)
    assert outcome == "failed: refused, not a public address"
    assert Receiver.received == []


def test_a_delivery_connects_to_the_address_that_was_checked(receiver: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The host is resolved once per try and the connection goes to that very address, with the host's name
    in the Host header: a name that resolves to a public address when checked and to a private one a moment
    later (DNS rebinding) cannot turn the request inwards."""
    from duetto.app.infra import webhooks

    port = receiver.split(":")[2].split("/")[0]
    answers = iter(["203.0.113.7", "127.0.0.1"])  # public when checked, loopback if asked again

    def resolve(url: str, *, allow_private: bool) -> str:
        return next(answers)

    monkeypatch.setattr(webhooks, "resolve_target", resolve)
    # The checked (public) address is where the request goes; it is not listening, so the try fails, and
    # the receiver on loopback, which a second lookup would have named, hears nothing.
    outcome = webhooks.deliver(url=f"http://hooks.example:{port}/hook", secret="whsec_" + "QUJD" * 8,
                               event_id="evt_1", body="{}", attempts=1, timeout_s=2)
    assert outcome.startswith("failed") and Receiver.received == []
    # Pinned to the receiver's address, the request arrives there under the URL's host name.
    pinned = webhooks._post(f"http://hooks.example:{port}/hook", "127.0.0.1", headers={}, body="{}", timeout_s=30)
    assert pinned == "delivered (204)"
    assert {k.lower(): v for k, v in Receiver.received[0][0].items()}["host"] == f"hooks.example:{port}"
