"""The local engine replaces private parts of moto: it must notice when they move."""

import pytest
from moto.route53 import responses as r53_responses

from cutover_local import patch_points


def test_the_pinned_moto_has_every_patch_point():
    patch_points.verify()


def test_a_moved_patch_point_is_reported_by_name(monkeypatch):
    monkeypatch.delattr(r53_responses.Route53, "get_change")
    with pytest.raises(patch_points.PatchPointMoved, match="Route53.get_change is gone"):
        patch_points.verify()


def test_a_changed_signature_is_reported(monkeypatch):
    from moto.cloudwatch import models

    monkeypatch.setattr(models.Alarm, "update_state", lambda self, state: None)
    with pytest.raises(patch_points.PatchPointMoved, match="update_state takes"):
        patch_points.verify()
