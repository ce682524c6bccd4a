"""The cameo flows of test_cameos.py again, on PostgreSQL + Redis (issue 19: "on SQLite
and on PostgreSQL + Redis"): the same tests, collected here with a `site` whose database
is a scratch PostgreSQL database and whose queue and live notifications go through
Redis. Skipped without REELFORGE_TEST_DATABASE_URL / REELFORGE_TEST_REDIS_URL (the test
command starts both)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from tests.app.conftest import AppUnderTest
from tests.app.test_cameos import (  # noqa: F401  (fixtures and tests collected here)
    liveness,
    takes,
    test_access_levels_only_me_mutuals_approved_everyone,
    test_approve_before_posting,
    test_deleting_the_cameo_removes_the_recording_features_and_videos_with_a_receipt,
    test_grants_expire_and_count_uses,
    test_revoking_a_grant_takes_down_the_draft_the_post_and_their_remixes,
    test_the_consent_log_exports_verifies_and_shows_tampering,
    test_the_owner_sees_and_deletes_others_drafts_and_hears_of_every_use,
    test_the_owner_watches_and_reports_a_draft_and_a_moderator_takes_it_down,
)
from tests.servers import scratch_database

PG_URL = os.environ.get("REELFORGE_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("REELFORGE_TEST_REDIS_URL")
pytestmark = pytest.mark.skipif(
    not (PG_URL and REDIS_URL),
    reason="REELFORGE_TEST_DATABASE_URL and REELFORGE_TEST_REDIS_URL are not set "
    '(start both with: eval "$(bin/services start /tmp/rf-services)")',
)


@pytest.fixture
def site(
    make_app: Callable[..., AppUnderTest], request: pytest.FixtureRequest
) -> Iterator[AppUnderTest]:
    assert PG_URL and REDIS_URL
    with scratch_database(PG_URL) as url:
        made = make_app(
            database_url=url,
            queue_url=REDIS_URL,
            redis_url=REDIS_URL,
            queue_name=f"cameos-pg-{request.node.name[:40]}",
        )
        yield made
        for client in made._clients:  # close the app's pool before the database goes
            client.__exit__(None, None, None)
        made._clients.clear()
        made.app.state.reelforge.factory.kw["bind"].dispose()
