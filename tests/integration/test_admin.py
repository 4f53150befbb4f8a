"""The admin really sets the move thresholds the README promises, and records stay read-only there."""
from __future__ import annotations

import pytest

from advisor.models import Client, Firm, User
from advisor.services.quotes import move_thresholds

pytestmark = pytest.mark.django_db


def test_a_threshold_set_in_the_admin_is_the_one_the_quote_refresh_uses(client):
    firm = Firm.objects.create(slug="acme", name="Acme")
    ann = Client.objects.create(firm=firm, external_id="ann", name="Ann")
    staff = User.objects.create_superuser("root", password="pw-123456", firm=firm)
    client.force_login(staff)

    response = client.post(f"/admin/advisor/client/{ann.pk}/change/", {
        "name": "Ann", "advisor": "", "user": "", "significant_move_percent": "2.5", "digest_frequency": "weekly",
        "holdings-TOTAL_FORMS": "0", "holdings-INITIAL_FORMS": "0"})

    assert response.status_code == 302
    assert move_thresholds().for_client("acme", "ann") == 2.5
    assert client.get("/admin/advisor/conversationsession/add/").status_code == 403
