"""A bounded schemathesis run over every operation of the OpenAPI document (issue 12): seeded
data (an administrator with a transcribed recording, an asset, a template), a fixed seed,
a few examples per operation, and not one server error. Every call signs in with a fresh
personal token, so an operation that signs out (logout, revoke-all) does not blind the rest.
"""

from __future__ import annotations

import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings

from tapeworks.app import create_app
from tapeworks.queue import jobs
from tapeworks.runtime import Runtime
from tapeworks.users import service as users
from tests.conftest import make_settings
from tests.helpers import audio
from tests.helpers.api import upload
from tests.helpers.paths import SPEECH_DIR

EXAMPLES = 4


class Seeded:
    def __init__(self, rt: Runtime, client: TestClient, user_id: str) -> None:
        self.rt, self.client, self.user_id = rt, client, user_id

    def headers(self) -> dict[str, str]:
        with self.rt.database.transaction() as db:
            _token, plain = users.issue_token(db, users.get_user(db, self.user_id),
                                              kind="personal", name="fuzz")
        return {"Authorization": f"Bearer {plain}"}


@pytest.fixture(scope="module")
def seeded(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    tmp = tmp_path_factory.mktemp("fuzz")
    db_path = tmp / f"fuzz-{uuid.uuid4().hex[:6]}.db"
    shutil.copy(sqlite_template, db_path)
    s = make_settings(tmp, f"sqlite:///{db_path}", login_max_failures_per_account=1000,
                      login_max_failures_per_address=1000)
    rt = Runtime(s)
    app = create_app(s, rt)
    with TestClient(app, raise_server_exceptions=False) as client:
        with rt.database.transaction() as db:
            user_id = users.create_user(db, email="admin@example.com", password="password123",
                                        role="admin", plan="unlimited").id
        seeded = Seeded(rt, client, user_id)
        headers = seeded.headers()
        r = upload(client, headers, SPEECH_DIR / "jfk.flac", title="seed")
        assert r.status_code == 201, r.text
        assert jobs.execute_next(rt, "long") == "completed"
        tone = audio.write_tone(tmp / "intro.wav", seconds=2.0)
        with open(tone, "rb") as fh:
            a = client.post("/api/v1/assets", headers=headers, data={"kind": "intro"},
                            files={"file": ("intro.wav", fh, "audio/wav")})
        assert a.status_code == 201, a.text
        yield seeded
    rt.close()


def test_no_operation_answers_a_server_error(seeded: Seeded) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", seeded.client.app)
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    operations = 0
    calls = 0

    for found in schema.get_all_operations():
        operation = found.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            nonlocal calls
            calls += 1
            response = case.call(headers=seeded.headers())
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} answered "
                                f"{response.status_code}: {response.text[:300]}\n"
                                f"{case.as_curl_command()}")
            ctype = response.headers.get("content-type") or [""]
            ctype = ctype[0] if isinstance(ctype, list) else ctype
            if response.status_code < 500 and response.status_code >= 400 \
                    and ctype.startswith("application/json") and "error" not in response.json():
                failures.append(f"{case.method} {case.formatted_path}: not our error shape: "
                                f"{response.text[:300]}")

        run()
    print(f"fuzz: {operations} operations, {calls} calls, statuses {sorted(statuses.items())}")
    assert operations >= 90 and calls >= operations, (operations, calls)
    assert not failures, f"{len(failures)} of {calls} calls failed:\n" + "\n\n".join(failures[:20])
